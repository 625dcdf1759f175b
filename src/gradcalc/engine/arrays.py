"""Array operations of the Python API that the expression language does not have: indexing,
stacking, reshaping, np.where, matrix products, and the numpy protocols that route numpy calls
on tensors to recorded operations or refuse them with a TypeError.

Each operation is a primitive as in ops.py (a numpy forward, one VJP per argument), made for the
call's static arguments (the index, the axis, the shape), so that a tape's constant inputs stay
numbers. Every VJP here is linear in the cotangent and is itself one of these operations when the
cotangent is a recorded tensor, so nested tapes differentiate through them again.

Matrix products are built from rows, columns and the language's dot product (`ops.DOT`): values
and gradients are exact, but a product of an m x k by a k x n matrix records m*n dot products,
so it suits small matrices.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .. import ops, ops_matrix
from ..engine.tape import Tensor, apply, plug, unbroadcast_value
from ..engine.tape import raw as _raw
from ..ops import Primitive


def _no_sympy(sp: Any, *args: Any) -> Any:
    raise TypeError("this operation of the Python API has no SymPy counterpart")


def _prim(name: str, arity: int | None, forward: Callable[..., Any],
          vjps: Sequence[Any]) -> Primitive:
    return Primitive(name, arity, forward, tuple(vjps), _no_sympy)


def _plain(r: Any) -> Any:
    """A fresh float64 value: an array copy, or a numpy scalar for 0-d results."""
    r = np.asarray(r, dtype=np.float64)
    return np.float64(r) if r.ndim == 0 else r.copy()


# ---------------------------------------------------------------- indexing and its transpose


def _take(key: Any, shape: tuple[int, ...]) -> Primitive:
    """x -> x[key] for x of this shape; the VJP scatters the cotangent back (_put)."""
    return _prim("getitem", 1, lambda x: _plain(x[key]),
                 [lambda g, ans, x: _put_value(g, key, shape)])


def _put(key: Any, shape: tuple[int, ...]) -> Primitive:
    """g -> zeros(shape) with g added at key (repeated indices accumulate); the VJP takes."""
    return _prim("scatter", 1, lambda g: _scatter(g, key, shape),
                 [lambda gg, ans, g: _take_value(gg, key, shape)])


def _scatter(g: Any, key: Any, shape: tuple[int, ...]) -> Any:
    z = np.zeros(shape)
    np.add.at(z, key, g)
    return z


def _put_value(g: Any, key: Any, shape: tuple[int, ...]) -> Any:
    return apply(_put(key, shape), g) if isinstance(g, Tensor) else _scatter(g, key, shape)


def _take_value(g: Any, key: Any, shape: tuple[int, ...]) -> Any:
    return apply(_take(key, shape), g) if isinstance(g, Tensor) else _plain(np.asarray(g)[key])


def _static_key(key: Any) -> Any:
    """An index with tensors replaced by their values (indices are constants, as in TF)."""
    if isinstance(key, tuple):
        return tuple(_static_key(k) for k in key)
    if isinstance(key, Tensor):
        key = key.value
    if isinstance(key, list):
        key = np.asarray(key)
    if isinstance(key, (float, np.floating)) and float(key).is_integer():
        return int(key)  # a whole number held by a (float64) tensor
    if isinstance(key, np.ndarray) and key.dtype.kind == "f":
        # never read 0.0/1.0 as positions: a comparison of tensors gives such a float mask
        raise IndexError("tensors are indexed by integers, slices or boolean masks, not by "
                         "floats; a comparison of tensors gives a float mask of 0 and 1: "
                         "write x[(x > 0) != 0], or use np.where")
    return key


def getitem(x: Any, key: Any) -> Any:
    """x[key] with numpy's indexing rules, recorded: ints, slices, ..., None, integer arrays
    and boolean masks."""
    if not isinstance(x, Tensor):
        return np.asarray(x)[key]
    shape = x.shape
    if not shape:
        raise TypeError("a scalar tensor cannot be indexed")
    key = _static_key(key)
    x.value[key]  # numpy's own IndexError for a bad index, before anything is recorded
    return apply(_take(key, shape), x)


# ---------------------------------------------------------------- shapes


def _reshape(new: tuple[int, ...], old: tuple[int, ...]) -> Primitive:
    return _prim("reshape", 1, lambda x: _plain(np.reshape(x, new)),
                 [lambda g, ans, x: _reshape_value(g, old, new)])


def _reshape_value(g: Any, shape: tuple[int, ...], old: tuple[int, ...]) -> Any:
    if isinstance(g, Tensor):
        return apply(_reshape(shape, old), g)
    return np.reshape(g, shape)


def reshape(x: Any, shape: Any) -> Any:
    """x with a new shape (numpy's rules, -1 allowed), recorded."""
    old = np.shape(_raw(x))
    new = np.reshape(_raw(x), shape).shape
    if not isinstance(x, Tensor):
        return np.reshape(x, new)
    return apply(_reshape(new, old), x)


def _stack(axis: int) -> Primitive:
    def rule(i: int, g: Any, ans: Any, *xs: Any) -> Any:
        return _take_value(g, (slice(None),) * axis + (i,), np.shape(_raw(ans)))

    return _prim("stack", None, lambda *xs: np.stack(xs, axis=axis), [rule])


def stack(values: Sequence[Any], axis: int = 0) -> Tensor:
    """The tensors (or numbers) of one shape stacked along a new axis, recorded."""
    values = list(values)
    if not values:
        raise ValueError("stack needs at least one tensor")
    shapes = {np.shape(_raw(v)) for v in values}
    if len(shapes) != 1:
        raise ValueError(f"stack needs tensors of one shape, got shapes {sorted(shapes)}")
    ndim = len(shapes.pop()) + 1
    if not -ndim <= axis < ndim:
        raise ValueError(f"axis {axis} is out of bounds for a stack of {ndim} dimensions")
    return apply(_stack(axis % ndim), *values)


def _sum_to(shape: tuple[int, ...], big: tuple[int, ...]) -> Primitive:
    # the VJP broadcasts back by multiplying with ones: exact, also for inf and nan
    return _prim("sum_to", 1, lambda c: _unbroadcast_value(c, shape),
                 [lambda g, ans, c: g * np.ones(big)])


def _unbroadcast_value(c: Any, shape: tuple[int, ...]) -> Any:
    return _plain(unbroadcast_value(c, shape))


def sum_to(c: Tensor, shape: tuple[int, ...]) -> Tensor:
    """A recorded cotangent summed over the axes broadcasting added to an input of this shape."""
    return apply(_sum_to(shape, c.shape), c)


# ---------------------------------------------------------------- where


def _select(c: Any, g: Any, first: bool) -> Any:
    """g where the mask selects this branch, 0 elsewhere (never g * mask: inf * 0 is nan)."""
    if isinstance(g, Tensor):
        return apply(WHERE, c, g, 0.0) if first else apply(WHERE, c, 0.0, g)
    return np.where(c, g, 0.0) if first else np.where(c, 0.0, g)


# the mask is a constant argument (a comparison is piecewise constant): no gradient flows to it
WHERE = _prim("where", 3, lambda c, a, b: _plain(np.where(c, a, b)),
              [None, lambda g, ans, c, a, b: _select(c, g, True),
               lambda g, ans, c, a, b: _select(c, g, False)])


def where(condition: Any, x: Any, y: Any) -> Tensor:
    """x where condition holds, else y (numpy broadcasting); the condition is a constant."""
    mask = np.asarray(_raw(condition)) != 0
    return apply(WHERE, mask.astype(np.float64), x, y)


# ---------------------------------------------------------------- products


def matmul(a: Any, b: Any, name: str = "@") -> Any:
    """a @ b for vectors and matrices (vector @ vector is the dot product), recorded as one
    matmul node."""
    av, bv = np.asarray(_raw(a)), np.asarray(_raw(b))
    if av.ndim == 0 or bv.ndim == 0:
        raise TypeError(f"{name} needs vectors or matrices, not a scalar: multiply by a scalar "
                        "with *")
    if av.ndim > 2 or bv.ndim > 2:
        raise TypeError(f"{name} of tensors takes vectors and matrices only, not shapes "
                        f"{av.shape} and {bv.shape}")
    if av.shape[-1] != bv.shape[0]:
        raise ValueError(f"{name}: shapes {av.shape} and {bv.shape} do not fit: "
                         f"{av.shape[-1]} columns against {bv.shape[0]} rows")
    return apply(ops_matrix.MATMUL, a, b)


def check_vectors(name: str, u: Any, v: Any) -> None:
    """Refuse anything but two vectors of one length (broadcasting would give a wrong sum)."""
    su, sv = np.shape(_raw(u)), np.shape(_raw(v))
    if len(su) != 1 or len(sv) != 1:
        raise TypeError(f"{name} takes two vectors, not shapes {su} and {sv}: use * with a "
                        "scalar and matmul (@) with a matrix")
    if su != sv:
        raise ValueError(f"{name} takes two vectors of one length, not {su[0]} and {sv[0]}")


def dot(a: Any, b: Any) -> Any:
    """np.dot: a product with a scalar, the dot product of vectors, or a matrix product."""
    if np.ndim(_raw(a)) == 0 or np.ndim(_raw(b)) == 0:
        return apply(ops.MUL, a, b)
    return matmul(a, b, "np.dot")


# ---------------------------------------------------------------- reductions


def as_vector(x: Any) -> Any:
    """x itself if it is a vector, else its components as one (recorded reshape)."""
    return x if np.ndim(_raw(x)) == 1 else reshape(x, (-1,))


def _axes(axis: Any, ndim: int, name: str) -> tuple[int, ...] | None:
    """Normalized, sorted axes to reduce over, or None for all of them."""
    if axis is None:
        return None
    axes = axis if isinstance(axis, tuple) else (axis,)
    if not all(isinstance(a, (int, np.integer)) and not isinstance(a, bool) for a in axes):
        raise TypeError(f"{name}: axis must be an int or a tuple of ints, not {axis!r}")
    out = sorted({int(a) % ndim if ndim and -ndim <= a < ndim else ndim for a in axes})
    if ndim in out or len(out) != len(axes):
        raise ValueError(f"{name}: axis {axis!r} does not fit a tensor of {ndim} dimensions "
                         "(or repeats an axis)")
    return tuple(out)


def _spread(g: Any, kept: tuple[int, ...], shape: tuple[int, ...]) -> Any:
    """A cotangent of a reduction (kept dimensions of length 1 or not) broadcast back to the
    input's shape; multiplying by ones is exact, also for inf and nan."""
    return _reshape_value(g, kept, np.shape(_raw(g))) * np.ones(shape)


def _sum_axes(axes: tuple[int, ...], keepdims: bool, shape: tuple[int, ...]) -> Primitive:
    kept = tuple(1 if i in axes else n for i, n in enumerate(shape))
    return _prim("sum_axis", 1, lambda x: _plain(np.sum(x, axis=axes, keepdims=keepdims)),
                 [lambda g, ans, x: _spread(g, kept, shape)])


def _extreme_axes(fn: Any, axes: tuple[int, ...], keepdims: bool,
                  shape: tuple[int, ...]) -> Primitive:
    # the gradient goes to the components that attain the extremum, split evenly at a tie
    # (as TensorFlow's reduce_max and the language's max of a vector do)
    kept = tuple(1 if i in axes else n for i, n in enumerate(shape))

    def rule(g: Any, ans: Any, x: Any) -> Any:
        hits = _raw(x) == np.reshape(_raw(ans), kept)
        share = _spread(g, kept, shape) / np.sum(hits, axis=axes, keepdims=True)
        return _select(hits * 1.0, share, True)

    return _prim(f"{fn.__name__}_axis", 1,
                 lambda x: _plain(fn(x, axis=axes, keepdims=keepdims)), [rule])


def reduce(prim: Primitive, x: Any, axis: Any = None, name: str = "",
           keepdims: bool = False) -> Tensor:
    """A reduction of the language over all components of a tensor of any shape, or (sum,
    mean, max, min) over some axes, as numpy's axis= and keepdims=."""
    shape = np.shape(_raw(x))
    axes = _axes(axis, len(shape), name)
    if axes is None or len(axes) == len(shape):
        out = apply(prim, as_vector(x))
        return reshape(out, (1,) * len(shape)) if keepdims else out
    if prim is ops.SUM or prim is ops.MEAN:
        out = apply(_sum_axes(axes, keepdims, shape), x)
        return out if prim is ops.SUM else out / float(np.prod([shape[a] for a in axes]))
    if prim is ops.MAX_OF or prim is ops.MIN_OF:
        return apply(_extreme_axes(np.max if prim is ops.MAX_OF else np.min, axes, keepdims,
                                   shape), x)
    raise _refuse(f"{name}(..., axis={axis!r})", f"reduce over all components with {name}(x), "
                  "or reduce each row x[i] and np.stack the results")


def norm(x: Any) -> Tensor:
    """The Euclidean (for a matrix, Frobenius) norm."""
    return apply(ops.NORM, as_vector(x))


# ---------------------------------------------------------------- the numpy protocols

_REDUCTIONS: dict[Any, tuple[Primitive, str]] = {
    np.sum: (ops.SUM, "np.sum"), np.mean: (ops.MEAN, "np.mean"), np.prod: (ops.PROD, "np.prod"),
    np.max: (ops.MAX_OF, "np.max"), np.amax: (ops.MAX_OF, "np.amax"),
    np.min: (ops.MIN_OF, "np.min"), np.amin: (ops.MIN_OF, "np.amin"),
}

# functions that only read values, shapes or piecewise-constant facts: computed on the values,
# their results are plain numpy (no gradient, as for a comparison)
_VALUE_ONLY = {
    np.shape, np.ndim, np.size, np.isclose, np.allclose, np.array_equal, np.array_equiv,
    np.zeros_like, np.ones_like, np.empty_like, np.full_like, np.argmax, np.argmin, np.any,
    np.all, np.nonzero, np.count_nonzero, np.array2string, np.array_repr, np.array_str,
    np.result_type, np.iscomplexobj, np.isrealobj,
}

RECORDED = ("np.dot, np.matmul (@), np.sum, np.mean, np.prod, np.max, np.min, np.linalg.norm, "
            "np.where, np.stack, np.reshape and the ufuncs of the language (np.sin, np.exp, ...)")


def _np_name(func: Any) -> str:
    prefix = "np.linalg." if "linalg" in (func.__module__ or "") else "np."
    return prefix + func.__name__


def _refuse(what: str, fix: str = "") -> TypeError:
    return TypeError(f"{what} has no gradient rule in gradcalc, so it is refused rather than "
                     f"computed without one; recorded: {RECORDED}"
                     + (f"; {fix}" if fix else "; for the value only, pass t.numpy()"))


def _values(args: Any) -> Any:
    if isinstance(args, Tensor):
        return args.value
    if isinstance(args, (list, tuple)):
        return type(args)(_values(a) for a in args)
    return args


def _only(kwargs: dict[str, Any], allowed: Sequence[str], name: str) -> None:
    extra = [k for k, v in kwargs.items() if k not in allowed and v is not None]
    if extra:
        raise _refuse(f"{name}(..., {extra[0]}=...)", f"call {name} without {extra[0]}=")


def array_function(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Tensor.__array_function__: run a supported numpy function as recorded operations, read
    values for the value-only ones, refuse the rest with a TypeError."""
    if func in _VALUE_ONLY:
        return func(*_values(args), **_values(kwargs))
    name = _np_name(func)
    if func in _REDUCTIONS:
        prim, name = _REDUCTIONS[func]
        _only(kwargs, ("axis", "keepdims"), name)
        axis = args[1] if len(args) > 1 else kwargs.get("axis")
        if len(args) > 2:
            raise _refuse(f"{name} with more than an axis", f"call {name}(x) or {name}(x, axis)")
        return reduce(prim, args[0], axis, name, bool(kwargs.get("keepdims", False)))
    if func is np.dot:
        _only(kwargs, (), name)
        return dot(*args)
    if func is np.matmul:
        _only(kwargs, (), name)
        return matmul(*args, name="np.matmul")
    if func is np.linalg.norm:
        _only(kwargs, (), name)
        if len(args) > 1 and args[1] is not None:
            raise _refuse(f"np.linalg.norm with ord={args[1]!r}",
                          "the Euclidean norm (no ord) is recorded")
        return norm(args[0])
    if func is np.where:
        if len(args) == 1:
            return np.where(_raw(args[0]))
        return where(*args)
    if func is np.stack:
        _only(kwargs, ("axis",), name)
        return stack(args[0], args[1] if len(args) > 1 else kwargs.get("axis", 0))
    if func is np.reshape:
        _only(kwargs, ("shape", "newshape"), name)
        shape = args[1] if len(args) > 1 else kwargs.get("shape", kwargs.get("newshape"))
        return reshape(args[0], shape)
    raise _refuse(name, f"for the value only, call {name} on t.numpy()")


def array_ufunc(ufunc: Any, method: str, inputs: tuple[Any, ...],
                kwargs: dict[str, Any]) -> Any:
    """The ufunc calls Tensor.__array_ufunc__ has no primitive for: np.matmul, or a refusal."""
    name = f"np.{ufunc.__name__}"
    if ufunc is np.matmul and method == "__call__" and not kwargs:
        return matmul(*inputs, name="@")
    if method != "__call__":
        raise _refuse(f"{name}.{method}", "reduce with np.sum, np.prod, np.max or np.min")
    if kwargs:
        first = next(iter(kwargs))
        raise _refuse(f"{name}(..., {first}=...)", f"call {name} without {first}=")
    raise _refuse(name, f"for the value only, call {name} on t.numpy()")


for _name, _fn in (("getitem", getitem), ("matmul", matmul), ("reshape", reshape),
                   ("stack", stack), ("sum_to", sum_to), ("array_ufunc", array_ufunc),
                   ("array_function", array_function)):
    plug(_name, _fn)
