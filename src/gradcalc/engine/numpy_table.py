"""numpy's functions on tensors: the table of the numpy functions recorded (HANDLERS), each
with the op table's records it uses (ops.py, ops_matrix.py, ops_array.py) and how numpy's
arguments, bound by numpy's own signature, become theirs; the functions that only read values;
the refusals, a TypeError naming the function and, where one exists, the supported spelling;
and the docs' coverage table, generated from HANDLERS and the op table (coverage_table).

Imported on the first numpy call on a tensor (protocols.py), not at start-up.
"""

from __future__ import annotations

import inspect
import warnings
from collections import namedtuple
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .. import ops, ops_array, ops_matrix
from ..engine.api import Tensor, apply
from ..engine.api import raw as _raw
from ..engine.arrays import (
    LETTERS,
    as_vector,
    dot,
    gather,
    getitem,
    join,
    matmul,
    positions,
    reshape,
    stack,
    value_of,
    where,
)
from ..ops import Primitive

A = ops_array
M = ops_matrix
_NOVALUE = np._NoValue  # numpy's "argument not given"


# ---------------------------------------------------------------- products

def _tensordot(a: Any, b: Any, axes: Any = 2) -> Any:
    av, bv = value_of(a), value_of(b)
    if isinstance(axes, (int, np.integer)):
        n = int(axes)
        ia, ib = list(range(av.ndim - n, av.ndim)), list(range(n))
    else:
        ia, ib = ([axes[0]] if np.ndim(axes[0]) == 0 else list(axes[0]),
                  [axes[1]] if np.ndim(axes[1]) == 0 else list(axes[1]))
    np.tensordot(np.zeros(av.shape), np.zeros(bv.shape), axes)  # numpy's own errors
    ia, ib = [i % av.ndim for i in ia], [i % bv.ndim for i in ib]
    letters = iter(LETTERS)
    sa = [next(letters) for _ in range(av.ndim)]
    sb = [next(letters) for _ in range(bv.ndim)]
    for i, j in zip(ia, ib, strict=True):
        sb[j] = sa[i]
    out = [c for k, c in enumerate(sa) if k not in ia] + [c for k, c in enumerate(sb)
                                                           if k not in ib]
    return apply(A.EINSUM, f"{''.join(sa)},{''.join(sb)}->{''.join(out)}", a, b)


def _inner(a: Any, b: Any) -> Any:
    av, bv = value_of(a), value_of(b)
    if av.ndim == 0 or bv.ndim == 0:
        return apply(ops.MUL, a, b)
    la, lb = LETTERS[: av.ndim - 1], LETTERS[av.ndim - 1: av.ndim + bv.ndim - 2]
    return apply(A.EINSUM, f"{la}z,{lb}z->{la}{lb}", a, b)


def _einsum(*operands: Any, out: Any = None, optimize: Any = False, **kwargs: Any) -> Any:
    if out is not None or kwargs:
        raise _refuse(f"np.einsum(..., {'out' if out is not None else next(iter(kwargs))}=...)",
                      "call np.einsum(subscripts, *operands)")
    if not operands or not isinstance(operands[0], str):
        raise _refuse("np.einsum in its sublist form", "write the subscripts as a string: "
                      "np.einsum('ij,jk->ik', a, b)")
    subscripts, arrays = operands[0], operands[1:]
    np.einsum(subscripts, *(np.zeros(np.shape(_raw(x))) for x in arrays))  # numpy's errors
    explicit = A.einsum_explicit(subscripts, [np.ndim(_raw(x)) for x in arrays])
    return apply(A.EINSUM, explicit, *arrays)


_EPS3 = np.zeros((3, 3, 3))
for _i, _j, _k, _s in ((0, 1, 2, 1), (1, 2, 0, 1), (2, 0, 1, 1), (0, 2, 1, -1), (2, 1, 0, -1),
                       (1, 0, 2, -1)):
    _EPS3[_i, _j, _k] = _s


def _cross(a: Any, b: Any, axisa: int = -1, axisb: int = -1, axisc: int = -1,
           axis: Any = None) -> Any:
    if axis is not None:
        axisa = axisb = axisc = axis
    av, bv = value_of(a), value_of(b)
    with warnings.catch_warnings():  # (numpy 2 deprecates 2-vectors; they stay recorded)
        warnings.simplefilter("ignore", DeprecationWarning)
        want = np.cross(np.zeros(av.shape), np.zeros(bv.shape), axisa, axisb, axisc)
    a = gather(A.AXES, a, lambda p: np.moveaxis(p, axisa, -1))
    b = gather(A.AXES, b, lambda p: np.moveaxis(p, axisb, -1))
    na, nb = np.shape(_raw(a))[-1], np.shape(_raw(b))[-1]
    if na == 2 and nb == 2:
        return apply(A.EINSUM, "jk,...j,...k->...", _EPS3[2, :2, :2], a, b)
    if na == 2:
        a = gather(A.PAD, a, lambda p: _pad_last(p), zeros=True)
    if nb == 2:
        b = gather(A.PAD, b, lambda p: _pad_last(p), zeros=True)
    out = apply(A.EINSUM, "ijk,...j,...k->...i", _EPS3, a, b)
    if np.ndim(want) > 1 or (np.ndim(want) == 1 and np.shape(_raw(out)) != np.shape(want)):
        out = gather(A.AXES, out, lambda p: np.moveaxis(p, -1, axisc))
    return out


def _pad_last(p: Any) -> Any:
    return np.pad(p, [(0, 0)] * (p.ndim - 1) + [(0, 1)])


def _outer(a: Any, b: Any) -> Any:
    return apply(M.OUTER, _flat(a), _flat(b))


def _flat(x: Any) -> Any:
    return x if np.ndim(_raw(x)) == 1 else reshape(x, (-1,))


def _vdot(a: Any, b: Any) -> Any:
    return apply(A.EINSUM, "i,i->", _flat(a), _flat(b))


def _kron(a: Any, b: Any) -> Any:
    return apply(M.KRON, a, b)


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


def _keep(out: Any, shape: tuple[int, ...], keepdims: bool) -> Any:
    return reshape(out, (1,) * len(shape)) if keepdims and shape else out


def reduce(prim: Primitive, x: Any, axis: Any = None, name: str = "",
           keepdims: bool = False) -> Any:
    """A reduction of the language (sum, mean, prod, max, min) over all components of a tensor
    of any shape, or along axes (numpy's axis= and keepdims=)."""
    shape = np.shape(_raw(x))
    axes = _axes(axis, len(shape), name)
    if axes is None or (len(axes) == len(shape) and shape):
        return _keep(apply(prim, as_vector(x)), shape, keepdims)
    if not axes:
        return x
    if prim is ops.SUM or prim is ops.MEAN:
        out = apply(A.SUM_AXES, x, axes, keepdims)
        return out if prim is ops.SUM else out / float(np.prod([shape[a] for a in axes]))
    if prim is ops.MAX_OF or prim is ops.MIN_OF:
        return apply(A.MAX_AXES if prim is ops.MAX_OF else A.MIN_AXES, x, axes, keepdims)
    return _prod_axes(x, axes, keepdims)


def _prod_axes(x: Any, axes: tuple[int, ...], keepdims: bool) -> Any:
    # each lane's product by the language's prod (division-free, exact at zeros, differentiable
    # again to any order), the lanes stacked
    shape = np.shape(_raw(x))
    rest = [i for i in range(len(shape)) if i not in axes]
    out_shape = tuple(shape[i] for i in rest)
    k = int(np.prod([shape[a] for a in axes], dtype=np.int64))
    m = int(np.prod(out_shape, dtype=np.int64))
    lanes = reshape(gather(A.AXES, x, lambda p: np.transpose(p, rest + list(axes))), (m, k))
    if m == 0 or k == 0:  # no lanes, or empty ones (whose product is 1)
        out: Any = apply(A.SUM_AXES, lanes, (1,), False) * 0.0 + 1.0
    else:
        out = stack([apply(ops.PROD, lanes[i]) for i in range(m)])
    out = reshape(out, out_shape)
    return reshape(out, A.kept_shape(shape, axes)) if keepdims else out


def _var(a: Any, axis: Any = None, ddof: float = 0, keepdims: bool = False,
         correction: Any = _NOVALUE, name: str = "np.var") -> Any:
    if correction is not _NOVALUE:
        ddof = correction
    shape = np.shape(_raw(a))
    axes = _axes(axis, len(shape), name)
    axes = tuple(range(len(shape))) if axes is None else axes
    return apply(A.VAR, a, axes, float(ddof), bool(keepdims))


def _std(a: Any, axis: Any = None, ddof: float = 0, keepdims: bool = False,
         correction: Any = _NOVALUE) -> Any:
    return apply(ops.SQRT, _var(a, axis, ddof, keepdims, correction, "np.std"))


def _cumsum(a: Any, axis: Any = None) -> Any:
    if axis is None:
        return apply(A.CUMSUM, _flat(a), 0)
    return apply(A.CUMSUM, a, int(axis) % max(np.ndim(_raw(a)), 1))


def _diff(a: Any, n: int = 1, axis: int = -1, prepend: Any = _NOVALUE,
          append: Any = _NOVALUE) -> Any:
    nd = np.ndim(_raw(a))
    if nd == 0:
        raise ValueError("diff requires input that is at least one dimensional")
    axis = int(axis) % nd
    parts = []
    for extra in (prepend,):
        if extra is not _NOVALUE:
            parts.append(_broadcast_side(extra, a, axis))
    parts.append(a)
    if append is not _NOVALUE:
        parts.append(_broadcast_side(append, a, axis))
    if len(parts) > 1:
        a = join(lambda ps: np.concatenate(ps, axis=axis), parts)
    for _ in range(int(n)):
        length = np.shape(_raw(a))[axis]
        hi = (slice(None),) * axis + (slice(1, length),)
        lo = (slice(None),) * axis + (slice(0, max(length - 1, 0)),)
        a = getitem(a, hi) - getitem(a, lo)
    return a


def _broadcast_side(extra: Any, a: Any, axis: int) -> Any:
    shape = list(np.shape(_raw(a)))
    if np.ndim(_raw(extra)) == 0:
        shape[axis] = 1
        return apply(A.BROADCAST_TO, extra, tuple(shape)) if isinstance(extra, Tensor) \
            else np.broadcast_to(extra, tuple(shape))
    return extra


def _trace(a: Any, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Any:
    if np.ndim(_raw(a)) == 2 and offset == 0 and {axis1 % 2, axis2 % 2} == {0, 1}:
        return apply(M.TRACE, a)  # the language's trace(A)
    d = gather(A.DIAGONAL, a, lambda p: np.diagonal(p, offset, axis1, axis2))
    return apply(A.SUM_AXES, d, (np.ndim(_raw(d)) - 1,), False)


def _average(a: Any, axis: Any = None, weights: Any = None, returned: bool = False,
             keepdims: Any = _NOVALUE) -> Any:
    if returned:
        raise _refuse("np.average(..., returned=True)", "compute the sum of the weights "
                      "separately")
    keep = bool(keepdims) if keepdims is not _NOVALUE else False
    if weights is None:
        return reduce(ops.MEAN, a, axis, "np.average", keep)
    w = weights if isinstance(weights, Tensor) else np.asarray(weights, dtype=float)
    if np.ndim(_raw(w)) != np.ndim(_raw(a)):
        if axis is None or np.ndim(_raw(w)) != 1:
            raise ValueError("np.average: weights of another shape need an axis and must be "
                             "1-d, as in numpy")
        shape = [1] * np.ndim(_raw(a))
        shape[int(axis)] = -1
        w = reshape(w, tuple(shape))
    num = reduce(ops.SUM, a * w, axis, "np.average", keep)
    den = reduce(ops.SUM, apply(A.BROADCAST_TO, w, np.shape(_raw(a))) if isinstance(w, Tensor)
                 else np.broadcast_to(w, np.shape(_raw(a))), axis, "np.average", keep) \
        if isinstance(w, Tensor) else np.sum(np.broadcast_to(w, np.shape(_raw(a))), axis=axis,
                                             keepdims=keep)
    return num / den


# ---------------------------------------------------------------- sort, clip, pad, diag


def _sort(a: Any, axis: Any = -1, kind: Any = None, order: Any = None,
          stable: Any = None) -> Any:
    if order is not None:
        raise _refuse("np.sort(..., order=...)", "sort a plain array of numbers")
    if axis is None:
        a, axis = _flat(a), 0
    values = value_of(a)
    if values.ndim == 0:
        raise np.exceptions.AxisError("axis -1 is out of bounds for array of dimension 0")
    axis = int(axis) % values.ndim
    order_ = np.argsort(values, axis=axis, kind="stable")
    index = np.take_along_axis(positions(values.shape), order_, axis)
    ordered = np.moveaxis(np.take_along_axis(values, order_, axis), axis, -1)
    new = np.ones(ordered.shape, dtype=bool)
    new[..., 1:] = ordered[..., 1:] != ordered[..., :-1]
    labels = None
    if not np.all(new):
        labels = np.moveaxis(np.cumsum(new.ravel()).reshape(new.shape), -1, axis)
    return apply(A.SORT, a, index, labels)


def _clip(a: Any, a_min: Any = _NOVALUE, a_max: Any = _NOVALUE, *, min: Any = _NOVALUE,
          max: Any = _NOVALUE) -> Any:
    lo = a_min if a_min is not _NOVALUE else (None if min is _NOVALUE else min)
    hi = a_max if a_max is not _NOVALUE else (None if max is _NOVALUE else max)
    if lo is None and hi is None:
        raise ValueError("One of max or min must be given")
    out = a
    if lo is not None:
        out = apply(ops.MAX, out, lo)
    if hi is not None:
        out = apply(ops.MIN, out, hi)
    return out


_GATHER_MODES = ("constant", "edge", "reflect", "symmetric", "wrap")


def _pad(array: Any, pad_width: Any, mode: str = "constant", **kwargs: Any) -> Any:
    if mode not in _GATHER_MODES:
        raise _refuse(f"np.pad(..., mode={mode!r})",
                      f"the modes recorded are {', '.join(_GATHER_MODES)}")
    value = kwargs.pop("constant_values", 0) if mode == "constant" else 0
    if kwargs:
        raise _refuse(f"np.pad(..., {next(iter(kwargs))}=...)",
                      "np.pad takes pad_width, mode and (constant mode) constant_values")
    if isinstance(value, Tensor) or np.ndim(value) > 0:
        raise _refuse("np.pad with constant_values other than one number",
                      "pad with 0 and add the values")
    if mode == "constant":
        out = gather(A.PAD, array, lambda p: np.pad(p, pad_width), zeros=True)
        if value:
            filled = np.pad(np.zeros(np.shape(_raw(array))), pad_width, constant_values=1.0)
            out = out + float(value) * filled
        return out
    return gather(A.PAD, array, lambda p: np.pad(p, pad_width, mode=mode))


def _diag(v: Any, k: int = 0) -> Any:
    nd = np.ndim(_raw(v))
    if k == 0 and (nd == 1 or nd == 2 and np.shape(_raw(v))[0] == np.shape(_raw(v))[1]):
        return apply(M.DIAG, v)  # the language's diag(v), diag(A)
    if nd == 1:
        return gather(A.TRIANGLE, v, lambda p: np.diag(p, k), zeros=True)
    if nd == 2:
        return gather(A.DIAGONAL, v, lambda p: np.diag(p, k))
    raise ValueError("Input must be 1- or 2-d.")


def _broadcast_to(array: Any, shape: Any, subok: bool = False) -> Any:
    shape = tuple(np.broadcast_to(np.zeros(np.shape(_raw(array))), shape).shape)
    return apply(A.BROADCAST_TO, array, shape)


def _real(val: Any) -> Any:
    return val  # a tensor is real: its real part is itself


def _imag(val: Any) -> Any:
    # exactly 0, and connected to val by a symbolic zero: its gradient is 0, not None
    return apply(A.WHERE, np.zeros(np.shape(_raw(val))), val, 0.0)


# ---------------------------------------------------------------- linear algebra

SlogdetResult = namedtuple("SlogdetResult", "sign logabsdet")
EighResult = namedtuple("EighResult", "eigenvalues eigenvectors")
SVDResult = namedtuple("SVDResult", "U S Vh")


def _square(name: str, a: Any) -> None:
    shape = np.shape(_raw(a))
    if len(shape) < 2 or shape[-1] != shape[-2]:
        raise np.linalg.LinAlgError(f"{name}: last 2 dimensions of the array must be square, "
                                    f"not shape {shape}")


def _inv(a: Any) -> Any:
    _square("inv", a)
    return apply(M.INV, a)


def _det(a: Any) -> Any:
    _square("det", a)
    return apply(M.DET, a)


def _slogdet(a: Any) -> Any:
    _square("slogdet", a)
    return SlogdetResult(np.linalg.slogdet(value_of(a))[0], apply(M.LOGABSDET, a))


def _solve(a: Any, b: Any) -> Any:
    _square("solve", a)
    np.linalg.solve(np.eye(np.shape(_raw(a))[-1]) + np.zeros(np.shape(_raw(a))),
                    np.zeros(np.shape(_raw(b))))  # numpy's own shape errors
    if np.ndim(_raw(b)) == 1 and np.ndim(_raw(a)) > 2:  # a vector for every matrix
        x = apply(M.SOLVE, a, reshape(b, (-1, 1)))
        return getitem(x, (Ellipsis, 0))
    return apply(M.SOLVE, a, b)


def _cholesky(a: Any, *, upper: bool = False) -> Any:
    _square("cholesky", a)
    if upper:  # numpy reads the upper triangle then: the lower one of the transpose
        return apply(M.TRANSPOSE, apply(M.CHOLESKY, apply(M.TRANSPOSE, a)))
    return apply(M.CHOLESKY, a)


def _eigh(a: Any, UPLO: str = "L") -> Any:  # noqa: N803 - numpy's name
    _square("eigh", a)
    if UPLO not in ("L", "U"):
        raise ValueError("UPLO argument must be 'L' or 'U'")
    packed = apply(M.EIGH, a, UPLO)
    return EighResult(getitem(packed, (Ellipsis, 0, slice(None))),
                      getitem(packed, (Ellipsis, slice(1, None), slice(None))))


def _eigvalsh(a: Any, UPLO: str = "L") -> Any:  # noqa: N803 - numpy's name
    return _eigh(a, UPLO).eigenvalues


def _svd(a: Any, full_matrices: bool = True, compute_uv: bool = True,
         hermitian: bool = False) -> Any:
    shape = np.shape(_raw(a))
    if len(shape) < 2:
        raise np.linalg.LinAlgError(f"svd: the array must be at least 2-d, not shape {shape}")
    if hermitian:
        raise _refuse("np.linalg.svd(..., hermitian=True)", "call np.linalg.svd(a) (the same "
                      "singular values) or np.linalg.eigh")
    full = bool(full_matrices) and compute_uv
    packed = apply(M.SVD, a, full)
    lead = shape[:-2]
    parts, start = [], 0
    for part in M.svd_parts(shape, full):
        size = int(np.prod(part))
        piece = getitem(packed, (Ellipsis, slice(start, start + size)))
        parts.append(reshape(piece, lead + part))
        start += size
    return SVDResult(*parts) if compute_uv else parts[1]


def _svdvals(x: Any) -> Any:
    return _svd(x, compute_uv=False)


def _pinv(a: Any, rcond: Any = None, hermitian: bool = False, *, rtol: Any = _NOVALUE) -> Any:
    if rcond is not None or rtol is not _NOVALUE or hermitian:
        raise _refuse("np.linalg.pinv with rcond, rtol or hermitian",
                      "call np.linalg.pinv(a) (numpy's default cutoff)")
    return apply(M.PINV, a)


def _norm(x: Any, ord: Any = None, axis: Any = None, keepdims: bool = False) -> Any:
    value = value_of(x)
    want = np.linalg.norm(np.zeros(value.shape), ord, axis, keepdims)  # numpy's own errors
    nd = value.ndim
    if axis is None and not keepdims and ord is not None and not isinstance(ord, str) and (
            nd == 1 and ord >= 1 or nd == 2 and ord in (1, np.inf)):
        return apply(M.NORM_P, x, float(ord))  # the language's norm(x, p)
    if axis is None:
        if ord is None:
            out = apply(ops.NORM, as_vector(x))
            return reshape(out, np.shape(want)) if keepdims else out
        axis = tuple(range(nd))
    axes = (int(axis) % nd,) if np.ndim(axis) == 0 else tuple(int(a) % nd for a in axis)
    if len(axes) == 1:
        return _vector_norm(x, 2.0 if ord is None else ord, axes, keepdims)
    return _matrix_norm(x, "fro" if ord is None else ord, axes, keepdims)


def _vector_norm(x: Any, ord: Any, axes: tuple[int, ...], keepdims: bool) -> Any:
    if isinstance(ord, str) or ord == 0:
        raise _refuse(f"np.linalg.norm of a vector with ord={ord!r}",
                      "ord=0 counts components (its gradient is 0 wherever it exists); "
                      "the recorded orders are numbers other than 0, inf and -inf")
    return apply(A.VNORM, x, float(ord), axes, bool(keepdims))


def _matrix_norm(x: Any, ord: Any, axes: tuple[int, ...], keepdims: bool) -> Any:
    shape = np.shape(_raw(x))
    r, c = axes
    if ord == "fro":
        return apply(A.VNORM, x, 2.0, tuple(sorted(axes)), bool(keepdims))
    if ord in (1, -1, np.inf, -np.inf):
        inner, outer = (r, c) if ord in (1, -1) else (c, r)
        sums = apply(A.SUM_AXES, apply(ops.ABS, x), (inner,), True)
        out = apply(A.MAX_AXES if ord > 0 else A.MIN_AXES, sums, (outer,), True)
        return out if keepdims else reshape(out, tuple(n for i, n in enumerate(shape)
                                                       if i not in axes))
    if ord in ("nuc", 2, -2):
        moved = gather(A.AXES, x, lambda p: np.moveaxis(p, (r, c), (-2, -1)))
        s = _svd(moved, compute_uv=False)
        last = (np.ndim(_raw(s)) - 1,)
        out = apply(A.SUM_AXES if ord == "nuc" else A.MAX_AXES if ord == 2 else A.MIN_AXES,
                    s, last, False)
        if keepdims:
            out = reshape(out, A.kept_shape(shape, axes))
        return out
    raise ValueError(f"Invalid norm order {ord!r} for matrices.")


def _linalg_matrix_norm(x: Any, *, keepdims: bool = False, ord: Any = "fro") -> Any:
    return _norm(x, ord, (-2, -1), keepdims)


def _linalg_vector_norm(x: Any, *, axis: Any = None, keepdims: bool = False,
                        ord: Any = 2) -> Any:
    nd = np.ndim(_raw(x))
    axes = tuple(range(nd)) if axis is None else (
        (int(axis) % nd,) if np.ndim(axis) == 0 else tuple(int(a) % nd for a in axis))
    return _vector_norm(x, ord, axes, keepdims)


def _linalg_trace(x: Any, *, offset: int = 0, dtype: Any = None) -> Any:
    return _trace(x, offset, -2, -1)


def _linalg_diagonal(x: Any, *, offset: int = 0) -> Any:
    return gather(A.DIAGONAL, x, lambda p: np.diagonal(p, offset, -2, -1))


# ---------------------------------------------------------------- the table of handlers


class Handler:
    """How one numpy function is recorded: `call` takes numpy's arguments (after numpy's own
    signature has bound them), `records` are the op table's records it uses (the docs'
    coverage table lists them), `ignore` the keyword arguments accepted at their defaults only
    (out=, dtype=, ...)."""

    def __init__(self, call: Callable[..., Any], records: Sequence[Primitive],
                 ignore: Sequence[str] = ()):
        self.call = call
        self.records = tuple(records)
        self.ignore = tuple(ignore)


def _reduction(prim: Primitive, name: str) -> Callable[..., Any]:
    def call(a: Any, axis: Any = None, keepdims: Any = _NOVALUE) -> Any:
        keep = False if keepdims is _NOVALUE else bool(keepdims)
        return reduce(prim, a, axis, name, keep)
    return call


def _axes_gather(fn: Callable[..., Any]) -> Callable[..., Any]:
    def call(a: Any, *args: Any, **kwargs: Any) -> Any:
        return gather(A.AXES, a, lambda p: fn(p, *args, **kwargs))
    return call


def _transpose(a: Any, axes: Any = None) -> Any:
    if axes is None and np.ndim(_raw(a)) == 2:
        return apply(M.TRANSPOSE, a)  # the language's transpose(A)
    return gather(A.AXES, a, lambda p: np.transpose(p, axes))


def _reshaped(fn: Callable[..., Any]) -> Callable[..., Any]:
    def call(a: Any, *args: Any, **kwargs: Any) -> Any:
        return reshape(a, np.shape(fn(np.zeros(np.shape(_raw(a))), *args, **kwargs)))
    return call


def _atleast(fn: Callable[..., Any]) -> Callable[..., Any]:
    def call(*arys: Any) -> Any:
        out = [reshape(a, np.shape(fn(np.zeros(np.shape(_raw(a)))))) for a in arys]
        return out[0] if len(out) == 1 else tuple(out)
    return call


def _named_gather(prim: Primitive, fn: Callable[..., Any], zeros: bool = False
                  ) -> Callable[..., Any]:
    def call(a: Any, *args: Any, **kwargs: Any) -> Any:
        return gather(prim, a, lambda p: fn(p, *args, **kwargs), zeros)
    return call


def _joined(fn: Callable[..., Any]) -> Callable[..., Any]:
    def call(arrays: Any, *args: Any, **kwargs: Any) -> Any:
        return join(lambda parts: fn(parts, *args, **kwargs), list(arrays))
    return call


def _append(arr: Any, values: Any, axis: Any = None) -> Any:
    return join(lambda parts: np.append(parts[0], parts[1], axis), [arr, values])


_DEFAULTS = ("out", "dtype", "casting", "initial", "where", "subok", "mode", "order", "copy",
             "optimize")

HANDLERS: dict[Any, Handler] = {
    # reductions
    np.sum: Handler(_reduction(ops.SUM, "np.sum"), (ops.SUM, A.SUM_AXES), _DEFAULTS),
    np.mean: Handler(_reduction(ops.MEAN, "np.mean"), (ops.MEAN, A.SUM_AXES), _DEFAULTS),
    np.prod: Handler(_reduction(ops.PROD, "np.prod"), (ops.PROD,), _DEFAULTS),
    np.max: Handler(_reduction(ops.MAX_OF, "np.max"), (ops.MAX_OF, A.MAX_AXES), _DEFAULTS),
    np.amax: Handler(_reduction(ops.MAX_OF, "np.amax"), (ops.MAX_OF, A.MAX_AXES), _DEFAULTS),
    np.min: Handler(_reduction(ops.MIN_OF, "np.min"), (ops.MIN_OF, A.MIN_AXES), _DEFAULTS),
    np.amin: Handler(_reduction(ops.MIN_OF, "np.amin"), (ops.MIN_OF, A.MIN_AXES), _DEFAULTS),
    np.var: Handler(_var, (A.VAR,), _DEFAULTS),
    np.std: Handler(_std, (A.VAR, ops.SQRT), _DEFAULTS),
    np.average: Handler(_average, (ops.MEAN, ops.SUM, A.SUM_AXES)),
    np.cumsum: Handler(_cumsum, (A.CUMSUM,), _DEFAULTS),
    np.diff: Handler(_diff, (A.GETITEM, ops.SUB)),
    np.trace: Handler(_trace, (M.TRACE, A.DIAGONAL, A.SUM_AXES), _DEFAULTS),
    # shapes
    np.reshape: Handler(lambda a, shape=None, newshape=None: reshape(
        a, shape if shape is not None else newshape), (A.RESHAPE,), ("order", "copy")),
    np.ravel: Handler(lambda a: _flat(a), (A.RESHAPE,), ("order",)),
    np.squeeze: Handler(_reshaped(np.squeeze), (A.RESHAPE,)),
    np.expand_dims: Handler(_reshaped(np.expand_dims), (A.RESHAPE,)),
    np.atleast_1d: Handler(_atleast(np.atleast_1d), (A.RESHAPE,)),
    np.atleast_2d: Handler(_atleast(np.atleast_2d), (A.RESHAPE,)),
    np.atleast_3d: Handler(_atleast(np.atleast_3d), (A.RESHAPE,)),
    np.transpose: Handler(_transpose, (M.TRANSPOSE, A.AXES)),
    np.swapaxes: Handler(_axes_gather(np.swapaxes), (A.AXES,)),
    np.moveaxis: Handler(_axes_gather(np.moveaxis), (A.AXES,)),
    np.broadcast_to: Handler(_broadcast_to, (A.BROADCAST_TO,)),
    np.flip: Handler(_named_gather(A.FLIP, np.flip), (A.FLIP,)),
    np.flipud: Handler(_named_gather(A.FLIP, np.flipud), (A.FLIP,)),
    np.fliplr: Handler(_named_gather(A.FLIP, np.fliplr), (A.FLIP,)),
    np.rot90: Handler(_named_gather(A.FLIP, np.rot90), (A.FLIP,)),
    np.roll: Handler(_named_gather(A.ROLL, np.roll), (A.ROLL,)),
    np.tile: Handler(_named_gather(A.TILE, np.tile), (A.TILE,)),
    np.repeat: Handler(_named_gather(A.TILE, np.repeat), (A.TILE,)),
    np.pad: Handler(_pad, (A.PAD,)),
    np.take: Handler(_named_gather(A.TAKE, np.take), (A.TAKE,), ("out",)),
    np.take_along_axis: Handler(_named_gather(A.TAKE, np.take_along_axis), (A.TAKE,)),
    np.diagonal: Handler(_named_gather(A.DIAGONAL, np.diagonal), (A.DIAGONAL,)),
    np.diag: Handler(_diag, (M.DIAG, A.DIAGONAL, A.TRIANGLE)),
    np.tril: Handler(_named_gather(A.TRIANGLE, np.tril, zeros=True), (A.TRIANGLE,)),
    np.triu: Handler(_named_gather(A.TRIANGLE, np.triu, zeros=True), (A.TRIANGLE,)),
    np.concatenate: Handler(_joined(np.concatenate), (A.CONCAT,), _DEFAULTS),
    np.stack: Handler(_joined(np.stack), (A.CONCAT,), _DEFAULTS),
    np.vstack: Handler(lambda tup: apply(M.VSTACK, *tup), (M.VSTACK,), _DEFAULTS),
    np.hstack: Handler(lambda tup: apply(M.HSTACK, *tup), (M.HSTACK,), _DEFAULTS),
    np.dstack: Handler(_joined(np.dstack), (A.CONCAT,)),
    np.column_stack: Handler(_joined(np.column_stack), (A.CONCAT,)),
    np.append: Handler(_append, (A.CONCAT,)),
    np.sort: Handler(_sort, (A.SORT,)),
    np.clip: Handler(_clip, (ops.MAX, ops.MIN), _DEFAULTS),
    np.where: Handler(lambda condition, x=None, y=None: np.where(_raw(condition))
                      if x is None and y is None else where(condition, x, y), (A.WHERE,)),
    np.real: Handler(_real, ()),
    np.imag: Handler(_imag, (A.WHERE,)),
    # products
    np.dot: Handler(dot, (ops.MUL, M.MATMUL, A.EINSUM), ("out",)),
    np.matmul: Handler(lambda x1, x2: matmul(x1, x2, "np.matmul"), (M.MATMUL, A.EINSUM),
                       ("out", "casting", "order", "dtype", "subok", "signature", "axes",
                        "axis", "keepdims")),
    np.outer: Handler(_outer, (M.OUTER,), ("out",)),
    np.inner: Handler(_inner, (A.EINSUM,)),
    np.vdot: Handler(_vdot, (A.EINSUM,)),
    np.tensordot: Handler(_tensordot, (A.EINSUM,)),
    np.einsum: Handler(_einsum, (A.EINSUM,)),
    np.kron: Handler(_kron, (M.KRON,)),
    np.cross: Handler(_cross, (A.EINSUM,)),
    # linear algebra
    np.linalg.inv: Handler(_inv, (M.INV,)),
    np.linalg.det: Handler(_det, (M.DET,)),
    np.linalg.slogdet: Handler(_slogdet, (M.LOGABSDET,)),
    np.linalg.solve: Handler(_solve, (M.SOLVE,)),
    np.linalg.cholesky: Handler(_cholesky, (M.CHOLESKY,)),
    np.linalg.eigh: Handler(_eigh, (M.EIGH,)),
    np.linalg.eigvalsh: Handler(_eigvalsh, (M.EIGH,)),
    np.linalg.svd: Handler(_svd, (M.SVD,)),
    np.linalg.svdvals: Handler(_svdvals, (M.SVD,)),
    np.linalg.pinv: Handler(_pinv, (M.PINV,)),
    np.linalg.norm: Handler(_norm, (ops.NORM, M.NORM_P, A.VNORM, A.MAX_AXES, A.MIN_AXES,
                                    M.SVD)),
    np.linalg.matrix_norm: Handler(_linalg_matrix_norm, (A.VNORM, A.MAX_AXES, M.SVD)),
    np.linalg.vector_norm: Handler(_linalg_vector_norm, (A.VNORM,)),
    np.linalg.trace: Handler(_linalg_trace, (A.DIAGONAL, A.SUM_AXES), ("dtype",)),
    np.linalg.diagonal: Handler(_linalg_diagonal, (A.DIAGONAL,)),
    np.linalg.matmul: Handler(lambda x1, x2: matmul(x1, x2, "np.linalg.matmul"),
                              (M.MATMUL, A.EINSUM)),
    np.linalg.outer: Handler(lambda x1, x2: _outer(x1, x2), (M.OUTER,)),
}

# the ufuncs numpy has that are not an op record's but are recorded (or are identities here)
UFUNC_HANDLERS: dict[Any, Handler] = {
    np.matmul: HANDLERS[np.matmul],
    np.conjugate: Handler(_real, ()),
}

# functions that only read values, shapes or piecewise-constant facts: computed on the values,
# their results are plain numpy (no gradient, as for a comparison)
_VALUE_ONLY = {
    np.shape, np.ndim, np.size, np.isclose, np.allclose, np.array_equal, np.array_equiv,
    np.zeros_like, np.ones_like, np.empty_like, np.full_like, np.argmax, np.argmin, np.any,
    np.all, np.nonzero, np.count_nonzero, np.array2string, np.array_repr, np.array_str,
    np.result_type, np.iscomplexobj, np.isrealobj, np.argsort, np.argwhere, np.flatnonzero,
}

# where another spelling of the same thing is recorded
_SPELLED = {
    "np.linalg.eig": "np.linalg.eigh (a symmetric matrix)",
    "np.linalg.eigvals": "np.linalg.eigvalsh (a symmetric matrix)",
    "np.linalg.lstsq": "np.linalg.pinv(a) @ b, or np.linalg.solve(a.T @ a, a.T @ b)",
    "np.linalg.matrix_power": "repeated @",
    "np.cumprod": "np.prod of slices, or np.exp(np.cumsum(np.log(x))) for positive x",
    "np.nansum": "np.sum(np.where(np.isnan(x), 0, x))",
    "np.nanmean": "np.where and np.mean",
    "np.ptp": "np.max(x, axis) - np.min(x, axis)",
    "np.median": "np.sort and indexing",
    "np.array": "np.stack([...]) of tensors",
    "np.asarray": "np.stack([...]) of tensors, or t.numpy() for the value",
}


def recorded_names() -> list[str]:
    """The numpy functions recorded on tensors (besides the ufuncs of the op table)."""
    return sorted(np_name(f) for f in HANDLERS)


def np_name(func: Any) -> str:
    """How the documentation and messages name a numpy function: np.NAME, or np.linalg.NAME."""
    prefix = "np.linalg." if "linalg" in (func.__module__ or "") else "np."
    return prefix + func.__name__


def _refuse(what: str, fix: str = "") -> TypeError:
    spelled = _SPELLED.get(what.split("(")[0])
    if spelled and not fix:
        fix = f"the supported spelling is {spelled}"
    return TypeError(f"{what} has no gradient rule in gradcalc, so it is refused rather than "
                     "computed without one"
                     + (f"; {fix}" if fix else "; for the value only, pass t.numpy()")
                     + " (the coverage table of docs/python-api.md lists what numpy functions are "
                     "recorded)")


def _values(args: Any) -> Any:
    if isinstance(args, Tensor):
        return args.value
    if isinstance(args, (list, tuple)):
        return type(args)(_values(a) for a in args)
    return args


def _bind(func: Any, handler: Handler, args: tuple[Any, ...], kwargs: dict[str, Any]
          ) -> tuple[list[Any], dict[str, Any]]:
    """numpy's arguments bound by numpy's own signature and handed on: the ones the handler
    takes (by position while none before them is left out, else by keyword); the others must
    be at their defaults, or the call is refused."""
    name = np_name(func)
    try:
        sig = inspect.signature(func)
    except (TypeError, ValueError):  # no signature: as given
        return list(args), kwargs
    bound = sig.bind(*args, **kwargs)
    bound.apply_defaults()
    takes = inspect.signature(handler.call).parameters
    anykw = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in takes.values())
    positional = any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in takes.values())
    out_args: list[Any] = []
    out_kwargs: dict[str, Any] = {}
    for pname, value in bound.arguments.items():
        kind = sig.parameters[pname].kind
        default = sig.parameters[pname].default
        if kind is inspect.Parameter.VAR_POSITIONAL:
            out_args.extend(value)
        elif kind is inspect.Parameter.VAR_KEYWORD:
            for k, v in value.items():
                if k not in takes and not anykw:
                    raise _refuse(f"{name}(..., {k}=...)", f"call {name} without {k}=")
                out_kwargs[k] = v
        elif (pname in takes or anykw and pname not in handler.ignore) \
                and value is not _NOVALUE:
            if positional and kind is not inspect.Parameter.KEYWORD_ONLY:
                out_args.append(value)
            else:
                out_kwargs[pname] = value
                positional = False
        else:
            positional = False
            if value is not default and value is not None and value is not _NOVALUE \
                    and not (pname == "dtype" and np.dtype(value) == np.float64):
                raise _refuse(f"{name}(..., {pname}=...)", f"call {name} without {pname}=")
    return out_args, out_kwargs


def array_function(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Tensor.__array_function__: run a supported numpy function as recorded operations, read
    values for the value-only ones, refuse the rest with a TypeError."""
    if func in _VALUE_ONLY:
        return func(*_values(args), **_values(kwargs))
    handler = HANDLERS.get(func)
    if handler is None:
        name = np_name(func)
        raise _refuse(name, "" if name in _SPELLED else
                      f"for the value only, call {name} on t.numpy()")
    call_args, call_kwargs = _bind(func, handler, args, kwargs)
    return handler.call(*call_args, **call_kwargs)


def array_ufunc(ufunc: Any, method: str, inputs: tuple[Any, ...],
                kwargs: dict[str, Any]) -> Any:
    """The ufunc calls Tensor.__array_ufunc__ has no primitive for: np.matmul, np.conjugate,
    or a refusal."""
    name = f"np.{ufunc.__name__}"
    handler = UFUNC_HANDLERS.get(ufunc)
    if handler is not None and method == "__call__" and not kwargs:
        return handler.call(*inputs)
    if method != "__call__":
        raise _refuse(f"{name}.{method}", "reduce with np.sum, np.prod, np.max or np.min")
    if kwargs:
        first = next(iter(kwargs))
        raise _refuse(f"{name}(..., {first}=...)", f"call {name} without {first}=")
    raise _refuse(name, f"for the value only, call {name} on t.numpy()")
