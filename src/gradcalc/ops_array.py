"""The array primitives of the Python API: numpy's shape functions, reductions along axes,
einsum, sort and the other operations on whole arrays that the expression language does not
have. One record each (ops.Primitive), registered into ops' one table with no spelling, so the
language never sees them.

A record's static parameters (an axis, a shape, an index map, einsum's subscripts) are its
trailing arguments: constants on the tape, with no VJP. Every VJP calls records through `_call`,
so it also runs recorded, under nested tapes (Hessians), and every one here is linear in the
cotangent.

Most shape functions are one kind of record, a gather: out = ravel(x)[index], with index -1
for a component that is 0 (tril, pad, diag). The index map is numpy's own function applied to
the positions np.arange(x.size).reshape(x.shape) (engine/arrays.py builds it), so the gather
takes exactly the components numpy takes; its VJP adds the cotangent back into those positions
(a scatter), whose VJP is the gather again.

On the SymPy side an array is nested tuples of components (as in ops_matrix), and a record's
counterpart applies the same numpy function to a numpy object array of SymPy expressions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .ops import ABS, Primitive, register
from .ops import call as _call  # recorded when an argument is a recorded tensor


def _plain(x: Any) -> Any:
    return x.value if hasattr(x, "uid") else x


def _shape(x: Any) -> tuple[int, ...]:
    return np.shape(_plain(x))


def _f64(r: Any) -> Any:
    """A float64 result: an array, or a numpy scalar for a 0-d one."""
    r = np.asarray(r, dtype=np.float64)
    return np.float64(r) if r.ndim == 0 else r


def _rec(name: str, arity: int | None, forward: Any, vjps: Sequence[Any], sympy: Any,
         doc: str, **kw: Any) -> Primitive:
    return Primitive(name, arity, forward, tuple(vjps), sympy, reduction=True, doc=doc, **kw)


# ---------------------------------------------------------------- SymPy side: nested tuples


def to_object(x: Any) -> Any:
    """A SymPy-side array (nested tuples, or one expression) as a numpy object array."""
    shape: list[int] = []
    probe = x
    while isinstance(probe, tuple):
        shape.append(len(probe))
        probe = probe[0] if probe else None
    out = np.empty(tuple(shape), dtype=object)
    if not shape:
        out[()] = x
        return out
    for k in np.ndindex(*shape):
        item = x
        for i in k:
            item = item[i]
        out[k] = item
    return out


def from_object(a: Any) -> Any:
    """A numpy object array as nested tuples of its components (a 0-d one as its component)."""
    a = np.asarray(a, dtype=object)
    if a.ndim == 0:
        return a[()]
    flat = list(a.ravel())
    for n in reversed(a.shape[1:]):
        flat = [tuple(flat[i:i + n]) for i in range(0, len(flat), n)]
    return tuple(flat)


def _on_objects(fn: Any, doc: str) -> Any:
    """A SymPy counterpart: fn applied to the object arrays of the array arguments (the
    constant arguments passed as they are); doc says what it computes (the coverage
    table of docs/python-api.md shows it)."""
    def sympy(sp: Any, *args: Any) -> Any:
        return from_object(fn(*(to_object(a) if is_sym_array(a) else a for a in args)))
    sympy.__doc__ = doc
    return sympy


def described(doc: str, fn: Any) -> Any:
    """fn, a SymPy counterpart, with doc saying what it computes."""
    fn.__doc__ = doc
    return fn


def is_sym_array(a: Any) -> bool:
    """Whether a is a SymPy-side value (an expression, or nested tuples of them), not a
    constant argument such as an axis tuple."""
    while isinstance(a, tuple) and a:
        a = a[0]
    return hasattr(a, "free_symbols")


def no_sympy(reason: str) -> Any:
    """The counterpart of a record SymPy has no closed form for: it refuses, with the reason."""
    def sympy(sp: Any, *args: Any) -> Any:
        raise TypeError(f"{reason}: no closed form")
    sympy.__doc__ = f"none ({reason})"
    return sympy


# ---------------------------------------------------------------- gather and scatter


def _padded(x: Any) -> Any:
    """0 followed by the components of x, so that index -1 (+1) reads a 0."""
    flat = np.ravel(np.asarray(x))
    zero = np.zeros(1, dtype=flat.dtype) if flat.dtype != object else np.array([0], object)
    return np.concatenate((zero, flat))


def gather_value(x: Any, index: Any) -> Any:
    """ravel(x)[index], with 0 where index is -1."""
    out = _padded(x)[np.asarray(index) + 1]
    return out if out.dtype == object else _f64(out)


def scatter_value(g: Any, index: Any, shape: tuple[int, ...]) -> Any:
    """zeros(shape) with g added at the flat positions index (-1: nowhere); repeated positions
    accumulate."""
    index = np.asarray(index)
    g = np.broadcast_to(np.asarray(g, dtype=np.float64), index.shape)
    size = int(np.prod(shape, dtype=np.int64))
    out = np.bincount(index.ravel() + 1, weights=g.ravel(), minlength=size + 1)[1:]
    return _f64(out.reshape(shape))


def _scatter_objects(g: Any, index: Any, shape: tuple[int, ...]) -> Any:
    out = np.zeros(int(np.prod(shape, dtype=np.int64)), dtype=object)
    for k, v in zip(np.ravel(index), np.ravel(g), strict=True):
        if k >= 0:
            out[k] = out[k] + v
    return out.reshape(shape)


def _gather_vjp(g: Any, ans: Any, x: Any, index: Any) -> Any:
    return _call(SCATTER, g, index, _shape(x))


def _gather(name: str, doc: str) -> Primitive:
    return _rec(name, 2, gather_value, [_gather_vjp, None],
                _on_objects(lambda x, index: _padded(x)[np.asarray(index) + 1],
                            "the same components of the array of expressions"), doc)


GATHER = _gather("gather", "Components of an array picked by a constant index map (0 where "
                 "the map says -1).")
SCATTER = _rec("scatter", 3, scatter_value,
               [lambda gg, ans, g, index, shape: _call(GATHER, gg, index), None, None],
               _on_objects(_scatter_objects, "sums of the components added back"),
               "The transpose of a gather: a cotangent added back into the positions it came "
               "from.")

# the shape functions of numpy, each a gather under its own name (the tape shows which)
AXES = _gather("axes", "The axes of an array reordered, added or removed (np.transpose, "
               "np.swapaxes, np.moveaxis, np.squeeze, np.expand_dims, np.atleast_2d, ...).")
FLIP = _gather("flip", "An array reversed along axes (np.flip, np.flipud, np.fliplr, "
               "np.rot90).")
ROLL = _gather("roll", "An array rolled along an axis (np.roll).")
TILE = _gather("tile", "An array repeated (np.tile, np.repeat, np.broadcast_to).")
PAD = _gather("pad", "An array padded (np.pad, every mode; constant padding is 0 here and added "
              "after).")
DIAGONAL = _gather("diagonal", "Diagonals of an array (np.diagonal, np.diag of a matrix).")
TRIANGLE = _gather("triangle", "An array with the components above or below a diagonal set to "
                   "0 (np.tril, np.triu), or a vector as a diagonal matrix (np.diag).")
TAKE = _gather("take", "Components picked by integer indices (np.take, np.take_along_axis).")


def _concat_vjp(i: int, g: Any, ans: Any, index: Any, *xs: Any) -> Any:
    k = i - 1
    offset = sum(int(np.size(_plain(x))) for x in xs[:k])
    size = int(np.size(_plain(xs[k])))
    local = np.asarray(index) - offset
    local = np.where((local >= 0) & (local < size), local, -1)
    return _call(SCATTER, g, local, _shape(xs[k]))


def _concat(index: Any, *xs: Any) -> Any:
    return gather_value(np.concatenate([np.ravel(np.asarray(x)) for x in xs]), index)


CONCAT = _rec("concatenate", None, _concat, [_concat_vjp],
              _on_objects(lambda index, *xs: _padded(np.concatenate([np.ravel(x) for x in xs]))
                          [np.asarray(index) + 1], "the same components of the arrays of "
                          "expressions"),
              "Arrays joined (np.concatenate, np.stack, np.vstack, np.hstack, np.dstack, "
              "np.column_stack, np.append): a gather from all of them.")

# ---------------------------------------------------------------- reshaping and broadcasting


def _reshape(x: Any, shape: tuple[int, ...]) -> Any:
    return _f64(np.reshape(x, shape).copy())


RESHAPE = _rec("reshape", 2, _reshape,
               [lambda g, ans, x, shape: _call(RESHAPE, g, _shape(x)), None],
               _on_objects(lambda x, shape: np.reshape(x, shape), "the same components, reshaped"),
               "An array with a new shape (np.reshape, np.ravel, the .reshape method).")


def sum_to_value(c: Any, shape: tuple[int, ...]) -> Any:
    """c summed over the axes that broadcasting added to an array of this shape."""
    c = np.asarray(c, dtype=np.float64)
    lead = c.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(lead + i for i, n in enumerate(shape)
                                      if n == 1 and c.shape[lead + i] != 1)
    out = c.sum(axis=axes, keepdims=True) if axes else c
    return _f64(np.reshape(out, shape))


def _sum_to_objects(c: Any, shape: tuple[int, ...]) -> Any:
    lead = c.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(lead + i for i, n in enumerate(shape)
                                      if n == 1 and c.shape[lead + i] != 1)
    return np.reshape(np.sum(c, axis=axes, keepdims=True) if axes else c, shape)


def _broadcast_to(x: Any, shape: tuple[int, ...]) -> Any:
    return _f64(np.broadcast_to(np.asarray(x, dtype=np.float64), shape).copy())


BROADCAST_TO = _rec("broadcast_to", 2, _broadcast_to,
                    [lambda g, ans, x, shape: _call(SUM_TO, g, _shape(x)), None],
                    _on_objects(lambda x, shape: np.broadcast_to(x, shape),
                                "the components repeated"),
                    "An array broadcast to a shape (np.broadcast_to; the VJP of a reduction).")
SUM_TO = _rec("sum_to", 2, sum_to_value,
              [lambda g, ans, c, shape: _call(BROADCAST_TO, g, _shape(c)), None],
              _on_objects(lambda c, shape: _sum_to_objects(c, shape),
                          "`Add` over the broadcast axes"),
              "A cotangent summed over the axes broadcasting added (the VJP of broadcasting).")

# ---------------------------------------------------------------- reductions along axes


def kept_shape(shape: tuple[int, ...], axes: tuple[int, ...]) -> tuple[int, ...]:
    """shape with the reduced axes kept as length 1."""
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def _spread(g: Any, shape: tuple[int, ...], axes: tuple[int, ...]) -> Any:
    """A reduction's cotangent (kept axes of length 1 or not) broadcast back to the input's
    shape: exact, also for inf and nan."""
    return _call(BROADCAST_TO, _call(RESHAPE, g, kept_shape(shape, axes)), shape)


SUM_AXES = _rec("sum_axes", 3, lambda x, axes, keepdims: _f64(np.sum(x, axis=axes,
                                                                     keepdims=keepdims)),
                [lambda g, ans, x, axes, keepdims: _spread(g, _shape(x), axes), None, None],
                _on_objects(lambda x, axes, keepdims: np.sum(x, axis=axes, keepdims=keepdims),
                            "`Add` of the components along the axes"),
                "The sum along axes (np.sum, np.mean with axis=).")


def where_value(c: Any, a: Any, b: Any) -> Any:
    return _f64(np.where(c, a, b))


def select(c: Any, g: Any, first: bool) -> Any:
    """g where the mask selects this branch, 0 elsewhere (never g * mask: inf * 0 is nan);
    None (a symbolic zero) where it selects this branch nowhere, so that the branch's own
    rules never run: 0 times a nan derivative there would be nan."""
    if not np.any(c if first else np.logical_not(c)):
        return None
    if hasattr(g, "uid"):
        return _call(WHERE, c, g, 0.0) if first else _call(WHERE, c, 0.0, g)
    return np.where(c, g, 0.0) if first else np.where(c, 0.0, g)


# the mask is a constant argument (a comparison is piecewise constant): no gradient flows to it
WHERE = _rec("where", 3, where_value,
             [None, lambda g, ans, c, a, b: select(c, g, True),
              lambda g, ans, c, a, b: select(c, g, False)],
             described("the components of one or the other", lambda sp, c, a, b: from_object(
                 np.where(to_object(c) != 0, to_object(a), to_object(b)))),
             "x where the condition holds, else y; the branch not selected anywhere gets no "
             "gradient at all (a symbolic zero).")

_TIES = ("at a tie the gradient is split evenly between the tied components (as TensorFlow's "
         "reduce_max and JAX's max do)")


def _extremum_vjp(g: Any, ans: Any, x: Any, axes: tuple[int, ...], keepdims: bool) -> Any:
    shape = _shape(x)
    kept = kept_shape(shape, axes)
    hits = _plain(x) == np.reshape(_plain(ans), kept)
    share = _spread(g, shape, axes) / np.sum(hits, axis=axes, keepdims=True)
    return select(hits, share, True)


def lanes(a: Any, axes: tuple[int, ...]) -> Any:
    """An object array with the axes moved to the end and merged: one row per output
    component (the SymPy counterparts of reductions along axes)."""
    moved = np.moveaxis(a, axes, tuple(range(-len(axes), 0)))
    return moved.reshape(moved.shape[: moved.ndim - len(axes)] + (-1,))


def _reduced(out: Any, shape: tuple[int, ...], axes: tuple[int, ...], keepdims: bool) -> Any:
    return from_object(out.reshape(kept_shape(shape, axes)) if keepdims else out)


def _sym_extremum(which: str) -> Any:
    def sympy(sp: Any, x: Any, axes: tuple[int, ...], keepdims: bool) -> Any:
        """`Max` (`Min`) of the components along the axes."""
        a = to_object(x)
        rows = lanes(a, axes)
        fn = sp.Max if which == "max" else sp.Min
        out = np.empty(rows.shape[:-1], dtype=object)
        for k in np.ndindex(*out.shape):
            out[k] = fn(*rows[k])
        return _reduced(out, a.shape, axes, keepdims)
    return sympy


def _extremum(name: str, fn: Any) -> Primitive:
    which = "max" if fn is np.max else "min"
    return _rec(name, 3, lambda x, axes, keepdims: _f64(fn(x, axis=axes, keepdims=keepdims)),
                [_extremum_vjp, None, None], _sym_extremum(which),
                f"The {'largest' if which == 'max' else 'smallest'} component along axes "
                f"(np.{which}, np.a{which}); {_TIES}.",
                kink=lambda x, axes, keepdims: np.sum(
                    x == fn(x, axis=axes, keepdims=True), axis=axes) > 1,
                kink_note=f"{which} is not differentiable where components tie",
                convention=_TIES)


MAX_AXES = _extremum("max_axes", np.max)
MIN_AXES = _extremum("min_axes", np.min)


def _count(shape: tuple[int, ...], axes: tuple[int, ...]) -> int:
    return int(np.prod([shape[a] for a in axes], dtype=np.int64))


def _var(x: Any, axes: tuple[int, ...], ddof: float, keepdims: bool) -> Any:
    # two passes: the deviations from the mean, then their squares (no E[x^2] - E[x]^2)
    x = np.asarray(x, dtype=np.float64)
    d = x - np.mean(x, axis=axes, keepdims=True)
    return _f64(np.sum(d * d, axis=axes, keepdims=keepdims) / (_count(x.shape, axes) - ddof))


def _var_vjp(g: Any, ans: Any, x: Any, axes: tuple[int, ...], ddof: float,
             keepdims: bool) -> Any:
    shape = _shape(x)
    n = _count(shape, axes)
    mean = _call(SUM_AXES, x, axes, True) / n
    return _spread(g, shape, axes) * (2.0 / (n - ddof)) * (x - mean)


def _sym_var(sp: Any, x: Any, axes: tuple[int, ...], ddof: float, keepdims: bool) -> Any:
    """`Add` of squared deviations from the mean, over n - ddof."""
    a = to_object(x)
    n = _count(a.shape, axes)
    d = a - np.sum(a, axis=axes, keepdims=True) / n
    return from_object(np.sum(d * d, axis=axes, keepdims=keepdims) / (n - sp.nsimplify(ddof)))


VAR = _rec("var", 4, _var, [_var_vjp, None, None, None], _sym_var,
           "The variance along axes with ddof (np.var; np.std is its square root).")


def _cumsum(x: Any, axis: int) -> Any:
    return _f64(np.cumsum(x, axis=axis))


def _revcumsum(x: Any, axis: int) -> Any:
    return _f64(np.flip(np.cumsum(np.flip(x, axis), axis=axis), axis))


CUMSUM = _rec("cumsum", 2, _cumsum, [lambda g, ans, x, axis: _call(REVCUMSUM, g, axis), None],
              _on_objects(lambda x, axis: np.cumsum(x, axis=axis), "running `Add`s"),
              "The running sums along an axis (np.cumsum).")
REVCUMSUM = _rec("revcumsum", 2, _revcumsum,
                 [lambda g, ans, x, axis: _call(CUMSUM, g, axis), None],
                 _on_objects(lambda x, axis: np.flip(np.cumsum(np.flip(x, axis), axis=axis),
                                                     axis), "running `Add`s from the end"),
                 "The running sums from the end along an axis (the VJP of cumsum).")

# ---------------------------------------------------------------- sort

_SORT_TIES = ("at a tie of components the gradient of each tied output is split evenly "
              "between the tied inputs, as np.max's is (so np.sort(x)[-1] and np.max(x) have "
              "the same gradient)")


def _group_mean(g: Any, labels: Any) -> Any:
    labels = np.asarray(labels)
    g = np.broadcast_to(np.asarray(g, dtype=np.float64), labels.shape)
    sums = np.bincount(labels.ravel(), weights=g.ravel())
    counts = np.bincount(labels.ravel())
    return _f64((sums / np.maximum(counts, 1))[labels])


# the mean of g over the positions that share a label: its own transpose
GROUP_MEAN = _rec("group_mean", 2, _group_mean,
                  [lambda gg, ans, g, labels: _call(GROUP_MEAN, gg, labels), None],
                  described("means of the components that share a label",
                            lambda sp, g, labels: from_object(
                                _group_mean_objects(to_object(g), labels))),
                  "The mean over the components that share a label (the VJP of sort at ties).")


def _group_mean_objects(g: Any, labels: Any) -> Any:
    labels = np.asarray(labels)
    out = np.empty(labels.shape, dtype=object)
    for k in np.ndindex(*labels.shape):
        same = labels == labels[k]
        out[k] = np.sum(g[same]) / int(np.sum(same))
    return out


def _sort_vjp(g: Any, ans: Any, x: Any, index: Any, labels: Any) -> Any:
    if labels is not None:
        g = _call(GROUP_MEAN, g, labels)
    return _call(SCATTER, g, index, _shape(x))


SORT = _rec("sort", 3, lambda x, index, labels: gather_value(x, index),
            [_sort_vjp, None, None],
            _on_objects(lambda x, index, labels: _padded(x)[np.asarray(index) + 1],
                        "the components in this point's order (the piece of sort here)"),
            "An array sorted along an axis (np.sort): a gather by numpy's stable order; "
            + _SORT_TIES + ".",
            kink=lambda x, index, labels: labels is not None,
            kink_note="sort is not differentiable where components tie",
            convention=_SORT_TIES)

# ---------------------------------------------------------------- einsum

_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def einsum_parts(subscripts: str) -> tuple[list[str], str]:
    """The operands' subscripts and the output's of an explicit einsum string ('...' kept)."""
    left, right = subscripts.replace(" ", "").split("->")
    return left.split(","), right


def einsum_explicit(subscripts: str, ndims: Sequence[int]) -> str:
    """numpy's einsum subscripts in explicit form: the implicit output (the letters used once,
    in alphabetical order, after '...' if any operand has one) written out."""
    text = subscripts.replace(" ", "")
    if "->" in text:
        return text
    ins = text.split(",")
    if len(ins) != len(ndims):
        raise ValueError(f"einsum: {len(ins)} operand subscripts for {len(ndims)} operands")
    letters = [c for s in ins for c in s.replace("...", "")]
    once = sorted({c for c in letters if letters.count(c) == 1})
    return text + "->" + ("..." if "..." in text else "") + "".join(once)


def _letters(sub: str) -> list[str]:
    return [c for c in sub.replace("...", "")]


def _sizes(subs: Sequence[str], operands: Sequence[Any]) -> dict[str, int]:
    sizes: dict[str, int] = {}
    for sub, op in zip(subs, operands, strict=True):
        shape = _shape(op)
        tail = _letters(sub)
        for c, n in zip(tail, shape[len(shape) - len(tail):], strict=True):
            if sizes.get(c, 1) == 1:
                sizes[c] = n
    return sizes


def _einsum_vjp(i: int, g: Any, ans: Any, subscripts: str, *operands: Any) -> Any:
    """The cotangent of operand i-1: einsum of g with the other operands, into the operand's
    subscripts; a letter only that operand sums over comes from a ones vector, and a letter it
    repeats (a diagonal, a trace) from an identity matrix."""
    k = i - 1
    ins, out = einsum_parts(subscripts)
    mine = ins[k]
    subs = [out] + [s for m, s in enumerate(ins) if m != k]
    args: list[Any] = [g] + [o for m, o in enumerate(operands) if m != k]
    sizes = _sizes(ins, operands)
    present = set("".join(subs))
    free = iter(c for c in _LETTERS if c not in present and c not in mine)
    target = "..." if "..." in mine or any("..." in s for s in subs) else ""
    seen: set[str] = set()
    for c in _letters(mine):
        if c in seen:  # a repeated letter: a fresh one, tied to it by an identity matrix
            fresh = next(free)
            subs.append(c + fresh)
            args.append(np.eye(sizes[c]))
            target += fresh
            continue
        seen.add(c)
        if c not in present:  # summed in this operand only: ones along it
            subs.append(c)
            args.append(np.ones(sizes[c]))
            present.add(c)
        target += c
    if "..." in mine and not any("..." in s for s in subs):
        shape = _shape(operands[k])
        subs.append("...")
        args.append(np.ones(shape[: len(shape) - len(_letters(mine))]))
    return _call(EINSUM, ",".join(subs) + "->" + target, *args)


def _einsum(subscripts: str, *operands: Any) -> Any:
    return _f64(np.einsum(subscripts, *operands))


EINSUM = _rec("einsum", None, _einsum, [_einsum_vjp],
              described("`Add` of `Mul`s of components (numpy's einsum on object arrays)",
                        lambda sp, subscripts, *ops: from_object(np.einsum(
                            subscripts, *(to_object(o) for o in ops)))),
              "Einstein summation in explicit form (np.einsum, np.tensordot, np.inner, np.dot, "
              "np.matmul of stacks, np.kron, np.cross, np.trace along axes, ...).")

# ---------------------------------------------------------------- vector norms along axes

_NORM_KINK = ("the norm is not differentiable where the components it needs are 0 (or, for "
              "ord=inf, where several components tie for the largest magnitude)")


def _vnorm(x: Any, ord: float, axes: tuple[int, ...], keepdims: bool) -> Any:
    # scaled by the largest magnitude along the axes, so powers neither overflow nor
    # underflow: np.linalg.norm([1e200, 1e200]) is inf, this is 1.41e200
    a = np.abs(np.asarray(x, dtype=np.float64))
    if ord == np.inf or ord == -np.inf:
        return _f64((np.max if ord > 0 else np.min)(a, axis=axes, keepdims=keepdims))
    if ord == 1:
        return _f64(np.sum(a, axis=axes, keepdims=keepdims))
    m = np.max(a, axis=axes, keepdims=True) if a.size else np.zeros(kept_shape(a.shape, axes))
    scale = np.where((m > 0) & np.isfinite(m), m, 1.0)
    s = np.sum((a / scale) ** ord, axis=axes, keepdims=True) ** (1.0 / ord) * scale
    s = np.where(np.isinf(m), np.inf, s)
    return _f64(s if keepdims else np.reshape(s, np.sum(a, axis=axes).shape))


def _vnorm_vjp(g: Any, ans: Any, x: Any, ord: float, axes: tuple[int, ...],
               keepdims: bool) -> Any:
    shape = _shape(x)
    kept = kept_shape(shape, axes)
    gs = _spread(g, shape, axes)
    sign = np.sign(_plain(x))
    if ord == 1:
        return gs * sign
    n = _call(BROADCAST_TO, _call(RESHAPE, ans, kept), shape)
    if ord == np.inf or ord == -np.inf:
        hits = np.abs(_plain(x)) == _plain(n)
        return select(hits, gs * sign / np.sum(hits, axis=axes, keepdims=True), True)
    if ord == 2:
        return gs * (x / n)
    return gs * sign * (_call(ABS, x) / n) ** (ord - 1)


def _sym_vnorm(sp: Any, x: Any, ord: Any, axes: tuple[int, ...], keepdims: bool) -> Any:
    """`Add(Abs(x)**p)**(1/p)`, or `Max`/`Min` of `Abs` for ord inf/-inf."""
    a = np.vectorize(sp.Abs, otypes=[object])(to_object(x))
    rows = lanes(a, axes)
    out = np.empty(rows.shape[:-1], dtype=object)
    for k in np.ndindex(*out.shape):
        v = list(rows[k])
        if ord == np.inf:
            out[k] = sp.Max(*v)
        elif ord == -np.inf:
            out[k] = sp.Min(*v)
        else:
            p = sp.nsimplify(ord)
            out[k] = sp.Add(*(c ** p for c in v)) ** (1 / p)
    return _reduced(out, a.shape, axes, keepdims)


VNORM = _rec("vector_norm", 4, _vnorm, [_vnorm_vjp, None, None, None], _sym_vnorm,
             "The vector p-norm along axes (np.linalg.norm with ord a number, inf or -inf, "
             "and the Frobenius norm over two axes), computed without overflow.",
             kink=lambda x, ord, axes, keepdims: _vnorm_kink(x, ord, axes),
             kink_note=_NORM_KINK,
             convention="the tape gives 0/0 = nan at the zero vector, as TensorFlow and JAX "
             "do; sign(0) = 0 for ord=1; ties for ord=inf split the gradient evenly")


def _vnorm_kink(x: Any, ord: float, axes: tuple[int, ...]) -> Any:
    a = np.abs(x)
    if ord == 1:
        return np.any(a == 0, axis=axes)
    if ord in (np.inf, -np.inf):
        fn = np.max if ord > 0 else np.min
        return np.sum(a == fn(a, axis=axes, keepdims=True), axis=axes) > 1
    return np.all(a == 0, axis=axes) if ord > 1 else np.any(a == 0, axis=axes)


# ---------------------------------------------------------------- indexing, stacking

def take_value(x: Any, key: Any) -> Any:
    """x[key] with numpy's indexing rules, as float64."""
    return _f64(np.asarray(x)[key].copy())


def put_value(g: Any, key: Any, shape: tuple[int, ...]) -> Any:
    """zeros(shape) with g added at key (repeated indices accumulate)."""
    z = np.zeros(shape)
    np.add.at(z, key, g)
    return _f64(z)


GETITEM = _rec("getitem", 2, take_value,
               [lambda g, ans, x, key: _call(PUT, g, key, _shape(x)), None],
               _on_objects(lambda x, key: x[key], "the indexed components"),
               "x[key] with numpy's indexing rules (ints, slices, ..., None, integer arrays, "
               "boolean masks).")
PUT = _rec("put", 3, put_value, [lambda gg, ans, g, key, shape: _call(GETITEM, gg, key),
                                 None, None],
           _on_objects(lambda g, key, shape: _put_objects(g, key, shape),
                       "sums of the components added back"),
           "The transpose of indexing: a cotangent added back at the indexed positions.")


def _put_objects(g: Any, key: Any, shape: tuple[int, ...]) -> Any:
    z = np.zeros(shape, dtype=object)
    np.add.at(z, key, g)
    return z


def _stack_vjp(i: int, g: Any, ans: Any, axis: int, *xs: Any) -> Any:
    return _call(GETITEM, g, (slice(None),) * axis + (i - 1,))


STACK = _rec("stack", None, lambda axis, *xs: _f64(np.stack(xs, axis=axis)), [_stack_vjp],
             _on_objects(lambda axis, *xs: np.stack(xs, axis=axis), "the components, stacked"),
             "Arrays of one shape stacked along a new axis (np.stack).")

# ---------------------------------------------------------------- the records

ARRAY_PRIMITIVES: tuple[Primitive, ...] = (
    GATHER, SCATTER, AXES, FLIP, ROLL, TILE, PAD, DIAGONAL, TRIANGLE, TAKE, CONCAT,
    RESHAPE, BROADCAST_TO, SUM_TO, SUM_AXES, WHERE, MAX_AXES, MIN_AXES, VAR, CUMSUM,
    REVCUMSUM, GROUP_MEAN, SORT, EINSUM, VNORM, GETITEM, PUT, STACK,
)
register(*ARRAY_PRIMITIVES)
