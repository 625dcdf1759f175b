"""The matrix primitives: one record each (ops.Primitive) with a stable numpy forward, its
vector-Jacobian products from the standard matrix identities (The Matrix Cookbook) and its
SymPy counterpart. Registered into ops' one table (ops.PRIMITIVES, ops.BINARY["@"]).

A vector is a 1-D and a matrix a 2-D float64 array. On the SymPy side a vector is a tuple of
component expressions and a matrix a tuple of row tuples. Every record here is marked
`reduction` (it is not elementwise: it takes its arguments whole). The VJPs call primitives
through `_call`, so they also run recorded, under nested tapes (Hessians).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .ops import Primitive, register
from .ops import call as _call  # recorded when an argument is a recorded tensor


def _plain(x: Any) -> Any:
    return x.value if hasattr(x, "uid") else x


def _recorded(*args: Any) -> bool:
    return any(hasattr(a, "uid") for a in args)


def _rec(name: str, arity: int, forward: Any, vjps: list[Any], sympy: Any,
         spelling: str | None = None, **kw: Any) -> Primitive:
    return Primitive(name, arity, forward, tuple(vjps), sympy, spelling=spelling,
                     reduction=True, **kw)


# ---------------------------------------------------------------- SymPy side: nested tuples


def as_rows(x: Any) -> list[list[Any]]:
    """A SymPy-side matrix (tuple of row tuples) as a list of lists."""
    return [list(r) for r in x]


def _matrix(sp: Any, x: Any) -> Any:
    return sp.Matrix(as_rows(x))


def _tuples(m: Any) -> tuple[tuple[Any, ...], ...]:
    return tuple(tuple(m[i, j] for j in range(m.cols)) for i in range(m.rows))


def sym_ndim(x: Any) -> int:
    """0 for a scalar, 1 for a vector, 2 for a matrix (SymPy side)."""
    if not isinstance(x, tuple):
        return 0
    return 2 if x and isinstance(x[0], tuple) else 1


def _sym_matmul(sp: Any, a: Any, b: Any) -> Any:
    da, db = sym_ndim(a), sym_ndim(b)
    if da == 1 and db == 1:
        return sp.Add(*(x * y for x, y in zip(a, b, strict=True)))
    if da == 2 and db == 1:
        return tuple(sp.Add(*(x * y for x, y in zip(row, b, strict=True))) for row in a)
    if da == 1 and db == 2:
        return tuple(sp.Add(*(a[k] * b[k][j] for k in range(len(a))))
                     for j in range(len(b[0])))
    return tuple(tuple(sp.Add(*(row[k] * b[k][j] for k in range(len(row))))
                       for j in range(len(b[0]))) for row in a)


def _sym_transpose(sp: Any, a: Any) -> Any:
    if sym_ndim(a) < 2:
        return a
    return tuple(tuple(a[i][j] for i in range(len(a))) for j in range(len(a[0])))


def _flat(x: Any) -> tuple[Any, ...]:
    if sym_ndim(x) == 2:
        return tuple(c for row in x for c in row)
    return x if isinstance(x, tuple) else (x,)


def _sym_det(sp: Any, a: Any) -> Any:
    return _matrix(sp, a).det(method="berkowitz")


def _sym_inv(sp: Any, a: Any) -> Any:
    m = _matrix(sp, a)
    det = m.det(method="berkowitz")
    return _tuples(m.adjugate(method="berkowitz") / det)


def _sym_diag(sp: Any, x: Any) -> Any:
    if sym_ndim(x) == 2:
        return tuple(x[k][k] for k in range(len(x)))
    return tuple(tuple(x[i] if i == j else sp.S.Zero for j in range(len(x)))
                 for i in range(len(x)))


def _sym_softmax(sp: Any, x: Any) -> Any:
    flat = _flat(x)
    total = sp.Add(*(sp.exp(c) for c in flat))
    out = tuple(sp.exp(c) / total for c in flat)
    if sym_ndim(x) == 2:
        n = len(x[0])
        return tuple(out[i * n:(i + 1) * n] for i in range(len(x)))
    return out


def _sym_unravel(sp: Any, g: Any, like: Any) -> Any:
    if sym_ndim(like) != 2:
        return g
    n = len(like[0])
    return tuple(tuple(g[i * n:(i + 1) * n]) for i in range(len(like)))


# ---------------------------------------------------------------- forwards


def _matmul(a: Any, b: Any) -> Any:
    out = np.matmul(a, b)
    return np.float64(out) if np.ndim(out) == 0 else out


def _outer(u: Any, v: Any) -> Any:
    return np.multiply.outer(u, v)


def _nan_like(a: Any) -> Any:
    return np.full(np.shape(a), np.nan)


def _inv(a: Any) -> Any:
    a = np.asarray(a, dtype=float)
    if not np.all(np.isfinite(a)):
        return _nan_like(a)
    try:
        out = np.linalg.solve(a, np.eye(a.shape[0]))
    except np.linalg.LinAlgError:  # singular: no inverse (non-finite, named by the run)
        return np.full(a.shape, np.inf)
    return out


def _det(a: Any) -> Any:
    sign, logabs = np.linalg.slogdet(np.asarray(a, dtype=float))
    return np.float64(sign * np.exp(logabs)) if sign != 0 else np.float64(0.0)


def _logdet(a: Any) -> Any:
    sign, logabs = np.linalg.slogdet(np.asarray(a, dtype=float))
    if sign > 0:
        return np.float64(logabs)
    return np.float64(-np.inf) if sign == 0 else np.float64(np.nan)


def _adjugate_t(a: Any) -> Any:
    """The transposed adjugate, det(A) inv(A)^T, from the SVD: finite (and right) also where A
    is singular, where det(A) inv(A)^T is 0 * inf."""
    u, s, vt = np.linalg.svd(np.asarray(a, dtype=float))
    n = len(s)
    others = np.array([np.prod(np.delete(s, k)) for k in range(n)]) if n > 1 else np.ones(1)
    sign = np.linalg.det(u) * np.linalg.det(vt)
    return sign * (u * others) @ vt


def _softmax(x: Any) -> Any:
    x = np.asarray(x, dtype=float)
    m = np.max(x)
    if not np.isfinite(m):
        m = 0.0 if np.isnan(m) else m
    e = np.exp(x - m) if np.isfinite(m) else (x == m).astype(float)
    return e / np.sum(e)


def _logsumexp(x: Any) -> Any:
    x = np.asarray(x, dtype=float)
    m = np.max(x)
    if not np.isfinite(m):
        return np.float64(m)  # inf, -inf (all -inf) or nan
    return np.float64(m + np.log(np.sum(np.exp(x - m))))


def _diag(x: Any) -> Any:
    return np.diag(np.asarray(x, dtype=float)).copy()


# ---------------------------------------------------------------- VJPs


def _matmul_da(g: Any, ans: Any, a: Any, b: Any) -> Any:
    da, db = np.ndim(_plain(a)), np.ndim(_plain(b))
    if da == 1 and db == 1:
        return g * b
    if da == 2 and db == 1:
        return _call(OUTER, g, b)
    if da == 1:  # (n) @ (n, p): g has p components
        return _call(MATMUL, b, g)
    return _call(MATMUL, g, _call(TRANSPOSE, b))


def _matmul_db(g: Any, ans: Any, a: Any, b: Any) -> Any:
    da, db = np.ndim(_plain(a)), np.ndim(_plain(b))
    if da == 1 and db == 1:
        return g * a
    if da == 1:  # (n) @ (n, p)
        return _call(OUTER, a, g)
    return _call(MATMUL, _call(TRANSPOSE, a), g)


def _det_vjp(g: Any, ans: Any, a: Any) -> Any:
    # d det(A) / dA = det(A) inv(A)^T = adj(A)^T (Cookbook (49))
    if _recorded(g, ans, a):
        return g * ans * _call(TRANSPOSE, _call(INV, a))
    return g * _adjugate_t(a)


def _logdet_vjp(g: Any, ans: Any, a: Any) -> Any:
    # d log det(A) / dA = inv(A)^T (Cookbook (57))
    return g * _call(TRANSPOSE, _call(INV, a))


def _inv_vjp(g: Any, ans: Any, a: Any) -> Any:
    # d inv(A) = -inv(A) dA inv(A): the adjoint is -inv(A)^T G inv(A)^T (Cookbook (59))
    t = _call(TRANSPOSE, ans)
    return -_call(MATMUL, _call(MATMUL, t, g), t)


def _trace_vjp(g: Any, ans: Any, a: Any) -> Any:
    return g * np.eye(*np.shape(_plain(a)))


def _softmax_vjp(g: Any, ans: Any, x: Any) -> Any:
    # J = diag(s) - s s^T: J^T g = s * (g - <g, s>)
    return ans * (g - _call(SUM_ALL, g * ans))


def _logsumexp_vjp(g: Any, ans: Any, x: Any) -> Any:
    return g * _call(SOFTMAX, x)


def _index2_vjp(g: Any, ans: Any, a: Any, i: Any, j: Any) -> Any:
    mask = np.zeros(np.shape(_plain(a)))
    mask[int(i), int(j)] = 1.0
    return g * mask


def _row_vjp(g: Any, ans: Any, a: Any, i: Any) -> Any:
    mask = (np.arange(np.shape(_plain(a))[0]) == int(i)).astype(float)[:, None]
    return g * mask


# ---------------------------------------------------------------- magnitudes
# What each VJP's (and forward's) float64 rounding is relative to, for the floor of the judge's
# tolerance (ops.Primitive.vjp_magnitude, magnitude): first-order error bounds, as the float64
# screen of compiled programs carries. A sum of k products errs by up to k units of roundoff
# of the sum of their absolute values; an LU or SVD factorization is backward stable (exact
# for A + E with |E| about n eps |A|), so what it computes errs by the change E makes.


def _frobenius(a: Any) -> float:
    return float(np.sqrt(np.sum(np.square(np.abs(a)))))


def _inner(a: Any, b: Any) -> int:
    """The length of the sums of a matrix product a @ b."""
    return int(np.shape(b)[0]) if np.ndim(b) else 1


def _matmul_magnitude(i: int, g: Any, ans: Any, a: Any, b: Any) -> Any:
    # the VJP's own sums, over |g| and |b| (or |a|), each of k terms
    rule = (_matmul_da, _matmul_db)[i]
    k = max((*np.shape(a), *np.shape(b), 1))   # no sum is longer
    return k * np.abs(rule(np.abs(g), np.abs(ans), np.abs(a), np.abs(b)))


def _condition(a: Any, inverse: Any) -> float:
    """|A| |inv(A)| (Frobenius): how much a backward-stable inverse's error is amplified."""
    return _frobenius(a) * _frobenius(inverse)


def _inv_magnitude(i: int, g: Any, ans: Any, a: Any) -> Any:
    # -inv^T G inv^T, with inv(A) itself off by about n eps cond(A) |inv(A)|
    n = np.shape(a)[0]
    t = np.abs(np.transpose(ans))
    return n * (1 + _condition(a, ans)) * (t @ np.abs(g) @ t)


def _det_magnitude(i: int, g: Any, ans: Any, a: Any) -> Any:
    # adj(A)^T from the SVD: adj is of degree n-1 in A, so E moves it by n(n-1) |A|^(n-1) eps
    n = np.shape(a)[0]
    return np.abs(g) * (np.abs(_adjugate_t(a)) + n * n * _frobenius(a) ** (n - 1))


def _logdet_magnitude(i: int, g: Any, ans: Any, a: Any) -> Any:
    n = np.shape(a)[0]
    inverse = np.abs(_inv(a))
    return np.abs(g) * n * (1 + _condition(a, inverse)) * np.transpose(inverse)


def _softmax_magnitude(i: int, g: Any, ans: Any, x: Any) -> Any:
    # s * (g - <g, s>): a sum of n terms, and s itself off by about n eps s
    n = int(np.size(x))
    s, gm = np.abs(ans), np.abs(g)
    return n * s * (gm + np.sum(gm * s))


def _logsumexp_magnitude(i: int, g: Any, ans: Any, x: Any) -> Any:
    return int(np.size(x)) * np.abs(g) * _softmax(x)


# ---------------------------------------------------------------- the records

MATMUL = _rec("matmul", 2, _matmul, [_matmul_da, _matmul_db], _sym_matmul, symbol="@",
              vjp_magnitude=_matmul_magnitude,
              magnitude=lambda ans, a, b: _inner(a, b) * np.abs(_matmul(np.abs(a), np.abs(b))))
OUTER = _rec("outer", 2, _outer,
             [lambda g, ans, u, v: _call(MATMUL, g, v),
              lambda g, ans, u, v: _call(MATMUL, u, g)],
             lambda sp, u, v: tuple(tuple(a * b for b in v) for a in u), "outer",
             params=("u", "v"), doc="The outer product of two vectors: the matrix of u[i]*v[j].")
TRANSPOSE = _rec("transpose", 1, lambda a: np.transpose(a).copy(),
                 [lambda g, ans, a: _call(TRANSPOSE, g)], _sym_transpose, "transpose",
                 params=("a",), doc="The transpose of a matrix.")
TRACE = _rec("trace", 1, lambda a: np.float64(np.trace(a)), [_trace_vjp],
             lambda sp, a: sp.Add(*(a[k][k] for k in range(min(len(a), len(a[0]))))),
             "trace", params=("a",), doc="The sum of a square matrix's diagonal.")
DET = _rec("det", 1, _det, [_det_vjp], _sym_det, "det", params=("a",),
           doc="The determinant of a square matrix.", vjp_magnitude=_det_magnitude,
           magnitude=lambda ans, a: np.shape(a)[0] ** 2 * _frobenius(a) ** np.shape(a)[0])
INV = _rec("inv", 1, _inv, [_inv_vjp], _sym_inv, "inv", params=("a",),
           doc="The inverse of a square matrix (inf where it is singular).",
           domain=lambda a: np.linalg.matrix_rank(a) < np.shape(a)[0],
           domain_note="inv needs an invertible matrix (this one is singular)",
           vjp_magnitude=_inv_magnitude,
           magnitude=lambda ans, a: np.shape(a)[0] * (1 + _condition(a, ans)) * np.abs(ans))
LOGDET = _rec("logdet", 1, _logdet, [_logdet_vjp],
              lambda sp, a: sp.log(_sym_det(sp, a)), "logdet", params=("a",),
              doc="log(det(a)) from the LU factors (slogdet): -inf where a is singular, nan "
              "where its determinant is negative.",
              domain=lambda a: not np.linalg.slogdet(a)[0] > 0,
              domain_note="logdet needs a matrix with a positive determinant",
              vjp_magnitude=_logdet_magnitude,
              magnitude=lambda ans, a: np.abs(ans) + np.shape(a)[0] * (
                  1 + _condition(a, _inv(a))))
DIAG = _rec("diag", 1, _diag, [lambda g, ans, x: _call(DIAG, g)], _sym_diag, "diag",
            doc="The diagonal matrix of a vector, or the diagonal of a square matrix.")
SOFTMAX = _rec("softmax", 1, _softmax, [_softmax_vjp], _sym_softmax, "softmax",
               doc="exp(x) / sum(exp(x)) over all components, without overflow.",
               vjp_magnitude=_softmax_magnitude,
               magnitude=lambda ans, x: np.size(x) * np.abs(ans))
LOGSUMEXP = _rec("logsumexp", 1, _logsumexp, [_logsumexp_vjp],
                 lambda sp, x: sp.log(sp.Add(*(sp.exp(c) for c in _flat(x)))), "logsumexp",
                 doc="log(sum(exp(x))) over all components, without overflow.",
                 vjp_magnitude=_logsumexp_magnitude,
                 magnitude=lambda ans, x: np.abs(ans) + np.max(np.abs(x)) + np.size(x))
# every component of a matrix as one vector (row by row), so that sum, mean, prod, norm, max
# and min reduce over all of them; unravel is its VJP (g back into the shape of `like`)
UNRAVEL = _rec("unravel", 2, lambda g, like: np.reshape(g, np.shape(like)).copy(),
               [lambda g, ans, v, like: _call(RAVEL, g), None], _sym_unravel)
RAVEL = _rec("ravel", 1, lambda a: np.ravel(a).copy(),
             [lambda g, ans, a: _call(UNRAVEL, g, a)], lambda sp, a: _flat(a))
SUM_ALL = _rec("sum_all", 1, lambda x: np.float64(np.sum(x)),
               [lambda g, ans, x: g * np.ones(np.shape(_plain(x)))],
               lambda sp, x: sp.Add(*_flat(x)))
# A[i, j] and A[i]: the indices are constant arguments (whole numbers the parser checked)
INDEX2 = _rec("index2", 3, lambda a, i, j: np.float64(a[int(i), int(j)]),
              [_index2_vjp, None, None], lambda sp, a, i, j: a[int(i)][int(j)], symbol="[,]")
ROW = _rec("row", 2, lambda a, i: np.array(a[int(i)], dtype=float),
           [_row_vjp, None], lambda sp, a, i: a[int(i)], symbol="[]")

MATRIX_PRIMITIVES: tuple[Primitive, ...] = (
    MATMUL, OUTER, TRANSPOSE, TRACE, DET, INV, LOGDET, DIAG, SOFTMAX, LOGSUMEXP,
    RAVEL, UNRAVEL, SUM_ALL, INDEX2, ROW,
)
register(MATMUL, operator="@")
register(*MATRIX_PRIMITIVES[1:])
# functions that take a matrix or a vector whole (the others are elementwise or reductions
# over the components of a vector)
SQUARE = {"det", "inv", "logdet", "trace"}
