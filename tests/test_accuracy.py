"""Accuracy of the op table to the last bits: every primitive's forward and every VJP, in ulps,
against its SymPy counterpart (the value and SymPy's derivative per argument) evaluated with
mpmath at 60+ significant digits, over the whole float64 range.

Arguments: log-spaced magnitudes from 1e-300 to 1e300 of both signs and 0 (every pair of a
coarser grid for two-argument primitives), the extremes (subnormals, the largest float), and
points near each primitive's kinks, domain edges, poles and overflow thresholds. A point is
skipped where it is outside the primitive's domain, at a kink, or where the true result is not
real; where the true result overflows, the tape must give the infinity of the right sign.
`python -m pytest tests/test_accuracy.py -s -k table` prints the worst error per primitive and
argument (the table of docs/accuracy.md); `--slow` sweeps a denser grid.

The error of a result r against the true value t is |r - t| / ulp(t), ulp(t) being the spacing
of float64 at t (2^-1074 in the subnormal range): a correctly rounded result has error <= 0.5.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from typing import Any

import mpmath
import numpy as np
import pytest

import reference_ops
from gradcalc import ops, ops_array, ops_matrix
from gradcalc.engine.tape import Tensor
from gradcalc.symbolic import compiled
from gradcalc.symbolic.convert import namespace, symbol

DPS = 60  # significant digits of the reference (raised where the result cancels, see _reference)
MAX = np.finfo(np.float64).max
TINY = 5e-324

# ---------------------------------------------------------------- the bounds, in ulps
# 4 ulps for every result of every primitive: numpy's own functions (glibc's libm here) are
# within 1 ulp, and no rule composes more than a handful of correctly rounded operations. A
# primitive whose numpy function is looser on some platform gets its own bound here, with why.
DEFAULT_BOUND = 4.0
BOUNDS: dict[str, float] = {
    # scipy's polygamma(n, x) is (-1)^(n+1) * gamma(n+1) * zeta(n+1, x), three roundings of
    # functions each within 1-2 ulps: measured up to 5.1 (the derivative of n = 3 at x = 0.5)
    "polygamma": 8.0,
}


def bound(name: str) -> float:
    """The bound in ulps for a primitive's value and partials."""
    return BOUNDS.get(name, DEFAULT_BOUND)



# ---------------------------------------------------------------- the arguments


def grid(step: int) -> list[float]:
    """Log-spaced magnitudes 1e-300 .. 1e300 (mantissas varied so no point is a round power of
    ten), both signs, 0, and the extremes of float64."""
    mantissas = (1.0, 1.7, 3.3, 5.9, 2.3, 7.1, 1.2, 4.4, 8.6)
    mags = [mantissas[i % len(mantissas)] * 10.0 ** k
            for i, k in enumerate(range(-300, 301, step))]
    mags += [TINY, 1e-310, 2.2250738585072014e-308, MAX, 0.5, 1.0, 2.0]
    return sorted({0.0, *mags, *(-m for m in mags)})


def _near(x: float, n: int = 3) -> list[float]:
    """x and its n float64 neighbours on each side."""
    out = [x]
    lo = hi = x
    for _ in range(n):
        lo, hi = float(np.nextafter(lo, -np.inf)), float(np.nextafter(hi, np.inf))
        out += [lo, hi]
    return out


_HALF_PI = [k * math.pi / 2 for k in (1, 3, -1, 5, 101, 1001)]
_EDGES = [1 - 2.0 ** -k for k in (1, 5, 20, 40, 52, 53)]
_ACTIVATION = [s * v for v in (1e-8, 0.5, 1, 5, 17, 18.5, 20, 30, 36.7, 37, 38, 40, 100, 300,
                               700, 709, 720, 745, 746, 800, 1e5) for s in (1, -1)]
_EXP = [s * v for v in (1e-20, 1e-8, 0.5, 1, 20, 300, 700, 709.78, 709.79, 710, 744, 745.2, 746)
        for s in (1, -1)]

# Points near each primitive's kinks, domain edges, poles and overflow thresholds.
SPECIAL: dict[str, list[Any]] = {
    "sin": [*_near(math.pi), *_near(2 * math.pi), 1e22, 1e300, 2.0 ** 1023],
    "cos": [*_near(math.pi / 2), *_HALF_PI, 1e22, 1e300],
    "tan": [x for h in _HALF_PI for x in _near(h, 2)] + [1e22, 1e300],
    "asin": [s * v for v in [*_EDGES, 1.0, 1e-300] for s in (1, -1)],
    "acos": [s * v for v in [*_EDGES, 1.0, 1e-300] for s in (1, -1)],
    "atan": [1e150, 9.9e149, 1.01e150, 1.3e154, 1.4e154, 1e155, 1e160, -1e160, 1e300],
    "sinh": _EXP, "cosh": _EXP, "exp": _EXP, "expm1": _EXP,
    "tanh": [s * v for v in (1e-10, 0.1, 1, 10, 19, 20, 40, 300, 360, 710, 800) for s in (1, -1)],
    "log": [*_near(1.0), *(1 + 2.0 ** -k for k in (10, 30, 52)), *_EDGES],
    "log2": [*_near(1.0), *_near(2.0), *_EDGES],
    "log10": [*_near(1.0), *_near(10.0), *_EDGES],
    "log1p": [*(-v for v in _EDGES), *_near(-0.5), 1e-300, -1e-300, *_near(0.0)],
    "sqrt": [*_near(1.0), 4.0, 2.0 ** -1074, 2.0 ** -1022],
    "sigmoid": _ACTIVATION, "softplus": _ACTIVATION, "log_sigmoid": _ACTIVATION,
    "pow": [(1 + 2.0 ** -40, 1e12), (1 - 2.0 ** -40, -1e12), (-2.0, 3.0), (-1.5, 1000.0),
            (-3.0, -7.0), (0.0, 2.0), (0.0, 1.0), (0.0, 3.5), (2.0, 1023.9), (2.0, -1074.0),
            (10.0, 308.2), (1e300, 1.02), (1e300, 0.1), (1e-300, -1.02), (1e-300, 0.1),
            (7.0, 0.0), (1e300, -1.0), (0.3, 0.5)],
    "div": [(1e-160, 1e-160), (1.0, 1e-154), (1e-300, 1e-10), (1e300, 1e-8), (3.0, 7.0)],
    "atan2": [(1e-200, 1e-200), (1e200, 1e200), (1e-300, 1e300), (-1e-200, -1e-200),
              (0.0, 1.0), (1.0, 0.0), (0.0, -1.0)],
    "hypot": [(1e-200, 1e-200), (1e200, 1e200), (3.0, 4.0), (1e-300, 1e300)],
    "logb": [(x, b) for x in (1e-300, 0.5, 2.0, 1e300, 1 + 2.0 ** -30)
             for b in (1 + 2.0 ** -30, 1 - 2.0 ** -30, 0.5, 2.0, 10.0, 1e-300, 1e300)],
    "logaddexp": [(0.0, 0.0), (1e300, 1e300), (-1e300, -1e300), (-100.0, 316.2), (-745.0, 0.0),
                  (40.0, 0.0), (0.0, -36.5), (1e308, -1e308), (-710.0, -710.5), (700.3, 1.1)],
}

# Reductions: vectors of two components (three for the products, to have a zero among others),
# of one sign: a signed sum's error in ulps of the result is unbounded under cancellation in
# any float64 arithmetic, so it measures the input, not the rule.
VECTOR_SPECIAL: dict[str, list[list[float]]] = {
    "norm": [[1e-200, 1e-200], [1e200, 1e200], [3e-310, 4e-310], [MAX, MAX], [1e300, 1e-300],
             [-3.0, 4.0]],
    "prod": [[2.0, 0.0, 3.0], [0.0, 0.0, 5.0], [1e200, 1e200, 1e-200], [1e-200, 1e-200, 1e200]],
    "prod_others": [[2.0, 0.0, 3.0], [0.0, 0.0, 5.0], [1e200, 1e200, 1e-200]],
    "mean": [[MAX, MAX], [MAX, 1.0]],
    "sum": [[MAX / 2, MAX / 2]],
}


# ---------------------------------------------------------------- the reference


def _mp_ulp(t: Any) -> Any:
    if t == 0:
        return mpmath.ldexp(1, -1074)
    _, e = mpmath.frexp(t)
    return mpmath.ldexp(1, max(int(e) - 53, -1074))


_OVERFLOW = mpmath.mpf(MAX) + mpmath.ldexp(1, 1023 - 53)  # where rounding gives inf


def ulps(got: float, true: Any) -> float:
    """|got - true| in ulps of true; true beyond float64's range must come out as inf."""
    if true is None:
        return 0.0
    if abs(true) >= _OVERFLOW:
        return 0.0 if got == (math.inf if true > 0 else -math.inf) else math.inf
    if not math.isfinite(got):
        return math.inf
    # mpmath rounds the difference correctly at any working precision: enough for the ratio
    return float(abs(mpmath.mpf(got) - true) / _mp_ulp(true))


# Primitives whose first argument is a whole-number constant (no derivative by it): measured
# at each of these values of it, as a function of the others, on a coarser grid (polygamma(0,
# x) is digamma, measured as its own record)
ORDERS: dict[str, tuple[int, ...]] = {"polygamma": (1, 2, 3)}


@functools.cache
def _program(name: str, shape: tuple[int, ...], order: int | None = None,
             second: bool = False) -> tuple[Any, list[int], list[str]]:
    """The SymPy counterpart of a primitive and its derivatives, compiled: shape gives each
    argument's length (0 for a scalar). Outputs: the value (each component for a vector-valued
    helper), then the derivative by each argument (component), summed over the outputs. order:
    the constant first argument of a primitive of ORDERS (its derivative output is 0). second:
    the second derivatives instead of the first, d2/da_i da_j for every i, then j."""
    sp = namespace()
    prim = ops.BY_NAME[name]
    names: list[str] = []
    args: list[Any] = []
    for i, n in enumerate(shape):
        if i == 0 and order is not None:
            args.append(sp.Integer(order))
        elif n == 0:
            names.append(f"a{i}")
            args.append(symbol(names[-1]))
        else:
            comps = []
            for k in range(n):
                names.append(f"a{i}_{k}")
                comps.append(symbol(names[-1]))
            args.append(tuple(comps))
    if prim is ops.INDEX:
        args.append(1)  # the component taken: a constant
    value = prim.sympy(sp, *args)
    values = list(value) if isinstance(value, tuple) else [value]
    total = sp.Add(*values)
    derivs = [sp.S.Zero] * (order is not None) + [sp.diff(total, symbol(n)) for n in names]
    if second:   # then every d2/da_i da_j, row by row (0 for a constant order)
        firsts = derivs
        derivs = [sp.S.Zero if d == 0 else sp.diff(d, symbol(n)) if n else sp.S.Zero
                  for d in firsts for n in [None] * (order is not None) + names]
        # DiracDelta and its derivatives are 0 away from the kinks (which the sweep skips)
        derivs = [d.replace(lambda e: isinstance(e, sp.DiracDelta), lambda e: sp.S.Zero)
                  if isinstance(d, sp.Basic) else d for d in derivs]
    program, outputs = compiled.compile_sympy([*values, *derivs], names)
    return program, outputs, names


_MP_TABLE = reference_ops.program_ops()


def _evaluate(program: Any, outputs: Sequence[int], point: dict[str, float], dps: int
              ) -> list[Any]:
    table = _MP_TABLE
    with mpmath.workdps(dps):
        regs: list[Any] = []
        for ins in program:
            op = ins[0]
            if op == "num":
                p, _, q = ins[1].partition("/")
                regs.append(mpmath.mpf(int(p)) / int(q or 1))
            elif op == "sym":
                regs.append(mpmath.mpf(point[ins[1]]))
            elif op == "pi":
                regs.append(+mpmath.pi)
            elif op == "e":
                regs.append(+mpmath.e)
            else:
                args = [regs[a] for a in ins[1:]]
                try:
                    v = None if any(a is None for a in args) else table[op](*args)
                except (ArithmeticError, ValueError, TypeError):
                    v = None
                if isinstance(v, mpmath.mpc):
                    v = v.real if v.imag == 0 else None
                if v is not None and not isinstance(v, mpmath.mpf):
                    v = mpmath.mpf(v)
                if v is not None and not mpmath.isfinite(v):
                    v = None
                regs.append(v)
        return [regs[o] for o in outputs]


def _reference(program: Any, outputs: Sequence[int], point: dict[str, float],
               cancels: bool = False) -> list[Any]:
    """The true values (None where not real or not finite): at DPS and 2*DPS digits, raised
    (400, 800, ...) while that still moves a result, and where one is exactly 0 to 400 digits
    and twice the arguments' decimal exponents (with cancels, for every result): a
    cancellation past 60 digits, as in log(1 + exp(-700)), gives 0 or noise at both; sinc's
    cos(x)/x - sin(x)/x^2 at x = 1e-205 is 0 to 410 digits."""
    last = _evaluate(program, outputs, point, DPS)
    dps = 2 * DPS
    # a 0 may be a cancellation of terms as large as the arguments' magnitudes squared, and
    # so may any result where cancels is set (the second-order sweep: sinc'' at x = 1e-75 is
    # -1/3 from terms of 2e150, -1 at 60, 120 and 400 digits alike)
    scale = max([0.0] + [abs(math.log10(abs(v))) for v in point.values()
                         if v != 0 and math.isfinite(v)])
    while True:
        now = _evaluate(program, outputs, point, dps)
        settled = all(_agree(a, b) for a, b in zip(last, now, strict=True))
        need = 60 + 2 * scale if cancels else 0
        if any(v == 0 for v in now):
            need = max(60 + 2 * scale, 400)
        if dps >= 3200 or settled and dps >= need:
            return now
        last, dps = now, max(400, 2 * dps)


_CLOSE = mpmath.mpf(10) ** (-DPS // 2)


def _agree(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return a == b or abs(a - b) <= abs(b) * _CLOSE


# ---------------------------------------------------------------- measuring one primitive


def _elementwise_points(prim: ops.Primitive, dense: bool, coarse: int = 1
                        ) -> list[tuple[float, ...]]:
    """The sweep's points; coarse: the grid's steps that many times wider (the second-order
    sweep, whose references cost more)."""
    nargs = prim.arity or 2
    if prim.name in ORDERS:
        pts = [(float(n), x) for n in ORDERS[prim.name]
               for x in grid((4 if dense else 20) * coarse)]
    elif nargs == 1:
        pts = [(x,) for x in grid((2 if dense else 5) * coarse)]
    else:
        g = grid((10 if dense else 40) * coarse)
        pts = [(x, y) for x in g for y in g]
    pts += [p if isinstance(p, tuple) else (p,) for p in SPECIAL.get(prim.name, [])]
    return pts


def _vector_points(prim: ops.Primitive, dense: bool) -> list[list[np.ndarray]]:
    g = [x for x in grid(20 if dense else 50) if x > 0]
    n = 3 if prim.name in ("prod", "prod_others") else 2
    vecs: list[list[float]] = [[a, b] for a in g for b in g[::3]]
    if n == 3:
        vecs = [[a, b, c] for a, b in vecs[::4] for c in g[::6]]
    if prim.name in ("norm", "prod", "max_of", "min_of", "index", "prod_others"):
        vecs += [[-c if k % 2 else c for k, c in enumerate(v)] for v in vecs[::5]]
    vecs += VECTOR_SPECIAL.get(prim.name, [])
    nvec = 2 if prim.name == "dot" else 1
    if nvec == 2:
        return [[np.array(v), np.array(v[::-1])] for v in vecs]
    return [[np.array(v)] for v in vecs]


def _skip(prim: ops.Primitive, args: Sequence[Any]) -> bool:
    with np.errstate(all="ignore"):
        for mask in (prim.domain, prim.kink):
            if mask is not None and np.any(mask(*args)):
                return True
    return False


def measure(prim: ops.Primitive, dense: bool = False
            ) -> dict[int | None, tuple[float, tuple[Any, ...] | None, int]]:
    """Per output (None: the forward; i: the VJP of argument i): the worst error in ulps, the
    point where it occurs, and the number of points measured."""
    worst: dict[int | None, tuple[float, Any, int]] = {}

    def record(out: int | None, err: float, point: Any) -> None:
        old = worst.get(out, (-1.0, None, 0))
        worst[out] = (err, point, old[2] + 1) if err > old[0] else (old[0], old[1], old[2] + 1)

    with np.errstate(all="ignore"):
        if prim.reduction:
            for args in _vector_points(prim, dense):
                call = [*args, np.float64(1.0)] if prim is ops.INDEX else args
                if _skip(prim, call):
                    continue
                _measure_point(prim, call, args, record)
        else:
            pts = [p for p in _elementwise_points(prim, dense)
                   if not _skip(prim, [np.float64(v) for v in p])]
            cols = [np.array(c) for c in zip(*pts, strict=True)]
            ans = prim.forward(*cols)
            grads = [None if prim.vjp(i) is None else prim.vjp(i)(np.ones(len(pts)), ans, *cols)
                     for i in range(len(cols))]
            for k, p in enumerate(pts):
                order = int(p[0]) if prim.name in ORDERS else None
                program, outputs, names = _program(prim.name, (0,) * len(cols), order)
                at = p[1:] if order is not None else p
                true = _reference(program, outputs, dict(zip(names, at, strict=True)))
                if true[0] is None:
                    continue
                # the rules at this point alone too: a rule may take another path for a
                # column than for one number (a fast path where nothing over- or underflows)
                one = [np.float64(v) for v in p]
                ans1 = prim.forward(*one)
                record(None, max(ulps(float(ans[k]), true[0]), ulps(float(ans1), true[0])), p)
                for i, g in enumerate(grads):
                    if g is not None and true[1 + i] is not None:
                        g1 = prim.vjp(i)(np.float64(1.0), ans1, *one)
                        record(i, max(ulps(float(g[k]), true[1 + i]),
                                      ulps(float(g1), true[1 + i])), p)
    return worst


def _measure_point(prim: ops.Primitive, call: list[Any], args: list[np.ndarray],
                   record: Callable[[int | None, float, Any], None]) -> None:
    shape = tuple(len(a) for a in args)
    program, outputs, names = _program(prim.name, shape)
    flat = [float(c) for a in args for c in a]
    true = _reference(program, outputs, dict(zip(names, flat, strict=True)))
    ans = np.atleast_1d(prim.forward(*call))
    nout = len(ans)
    point = tuple(tuple(a) for a in args)
    if any(t is None for t in true[:nout]):
        return
    for k in range(nout):
        record(None, ulps(float(ans[k]), true[k]), point)
    offset = nout
    for i, a in enumerate(args):
        rule = prim.vjp(i)
        if rule is None:
            offset += len(a)
            continue
        g = np.ones(nout) if nout > 1 else np.float64(1.0)
        got = rule(g, ans if nout > 1 else ans[0], *call)
        for k in range(len(a)):
            if true[offset + k] is not None:
                record(i, ulps(float(got[k]), true[offset + k]), point)
        offset += len(a)


# ---------------------------------------------------------------- the tests

# (the matrix and array primitives are measured against numpy closed forms in test_matrix.py
# and test_array_ops.py)
MEASURED = [p for p in ops.PRIMITIVES if p not in ops_matrix.MATRIX_PRIMITIVES
            and p not in ops_array.ARRAY_PRIMITIVES]


@functools.cache
def _measured(name: str, dense: bool) -> Any:
    return measure(ops.BY_NAME[name], dense)


@pytest.mark.parametrize("prim", MEASURED, ids=lambda p: p.name)
def test_primitive_is_accurate_to_a_few_ulps(prim: ops.Primitive, request) -> None:
    dense = request.config.getoption("--slow")
    worst = _measured(prim.name, dense)
    assert None in worst and worst[None][2] > 20, "too few points measured"
    bad = {out: w for out, w in worst.items() if not w[0] <= bound(prim.name)}
    assert not bad, {("forward" if out is None else f"d/darg{out}"): w for out, w in bad.items()}


def test_print_the_table(request) -> None:
    """The worst errors as docs/accuracy.md's Markdown table (shown with -s): per primitive, the
    value's and each argument's partial's worst ulps, the bound, the points measured; then
    where each worst case is."""
    dense = request.config.getoption("--slow")
    lines = ["", "| primitive | value | d/d arg 1 | d/d arg 2 | bound | points |",
             "|---|---:|---:|---:|---:|---:|"]
    where = [""]
    for prim in MEASURED:
        worst = _measured(prim.name, dense)
        cells = [f"{worst[k][0]:.2f}" if k in worst else "" for k in (None, 0, 1)]
        lines.append(f"| `{prim.name}` | {' | '.join(cells)} | {bound(prim.name):g} | "
                     f"{worst[None][2]} |")
        for out, (err, point, _) in worst.items():
            label = "value" if out is None else f"d/d arg {out + 1}"
            where.append(f"{prim.name} {label}: {err:.2f} ulps at {_show(point)}")
    print("\n".join(lines + where))


# ---------------------------------------------------------------- second derivatives
# The Hessian path: each VJP run on recorded tensors under an outer tape, which differentiates
# it again (reverse over reverse), against SymPy's second derivatives evaluated in mpmath.
# Elementwise primitives, every point of the first-order sweep as one column.

SECOND_BOUND = 8.0   # ulps: a second derivative is a composition of recorded rules
_OPEN = math.inf     # known to be off somewhere on the sweep, and why: docs/accuracy.md lists them
SECOND_BOUNDS: dict[str, float] = {
    # the direct formula's derivative (cos(x) - sinc(x))/x differentiated cancels mildly just
    # above the series' range: 9.9 ulps at x = -2
    "sinc": 16.0,
    # reverse over reverse meets an intermediate adjoint that over- or underflows where the
    # entry does not, at the ends of the range (as sqrt(x*y) at 1e-300, 1e-10 did before the
    # Hessian took the other order; a per-rule rescaling is still to do):
    "div": _OPEN,          # d2/dy2 = 2x/y^3 at x = -1.8e308, y = -0.5: inf, true finite
    "pow": _OPEN,          # at x = 5e-324 and y = +-1.8e308, and x = -1.8e308, y = 2
    "atan": _OPEN,         # at x = -8.6e90: 1/(1+x^2)^2 underflows before 2x multiplies it
    "atan2": _OPEN,        # at (-1.7e-180, -1.7e-180): (x^2+y^2)^2 underflows
    "tanh": _OPEN,         # at x = -1.8e308: sinh/cosh^2 is inf/inf
    "logb": _OPEN,         # at x = 5e-324 (log(x)/log(b)/x/x overflows on the way)
    "cbrt": _OPEN,         # at x = -4.4e-195: x^(-5/3) overflows on the way
    "hypot": _OPEN,        # at (-2.2e-308, -5e-324): y^2/r^3 with r subnormal
    "sigmoid": _OPEN,      # at x = -2.3e-240: s(-x) - s(x) cancels to 0 (true -x/8)
}


def measure_second(prim: ops.Primitive, dense: bool = False
                   ) -> dict[tuple[int, int], tuple[float, Any, int]]:
    """Per (i, j): the worst error in ulps of d2/darg_i darg_j, its point, the points measured."""
    from gradcalc import Tape, Variable
    from gradcalc.engine.tape import apply

    worst: dict[tuple[int, int], tuple[float, Any, int]] = {}
    pts = [p for p in _elementwise_points(prim, dense, 1 if dense else 3)
           if not _skip(prim, [np.float64(v) for v in p])]
    if not pts:
        return worst
    cols = [np.array(c) for c in zip(*pts, strict=True)]
    n = len(cols)
    got: dict[tuple[int, int], Any] = {}
    with np.errstate(all="ignore"):
        for i in range(n):
            rule = prim.vjp(i)
            if rule is None:
                continue
            xs = [Variable(c) for c in cols]
            with Tape(persistent=True) as outer:
                ans = apply(prim, *xs)
                gi = rule(np.ones(len(pts)), ans, *xs)
            for j, x in enumerate(xs):
                h = outer.gradient(gi, x, output_gradients=np.ones(len(pts))) \
                    if hasattr(gi, "uid") else None
                got[i, j] = np.zeros(len(pts)) if h is None else np.asarray(h.value)
    for k, p in enumerate(pts):
        order = int(p[0]) if prim.name in ORDERS else None
        program, outputs, names = _program(prim.name, (0,) * n, order, second=True)
        at = p[1:] if order is not None else p
        true = _reference(program, outputs, dict(zip(names, at, strict=True)), cancels=True)
        if true[0] is None:
            continue
        for (i, j), col in got.items():
            t = true[1 + i * n + j]
            if t is None:
                continue
            err = ulps(float(col[k]), t)
            old = worst.get((i, j), (-1.0, None, 0))
            worst[i, j] = (err, p, old[2] + 1) if err > old[0] else (old[0], old[1], old[2] + 1)
    return worst


SECOND = [p for p in MEASURED if not p.reduction]


@functools.cache
def _measured_second(name: str, dense: bool) -> Any:
    return measure_second(ops.BY_NAME[name], dense)


@pytest.mark.parametrize("prim", SECOND, ids=lambda p: p.name)
def test_second_derivatives_are_accurate(prim: ops.Primitive, request) -> None:
    worst = _measured_second(prim.name, request.config.getoption("--slow"))
    limit = SECOND_BOUNDS.get(prim.name, SECOND_BOUND)
    bad = {k: w for k, w in worst.items() if not w[0] <= limit}
    assert not bad, {f"d2/darg{i}darg{j}": w for (i, j), w in bad.items()}


def test_print_the_second_order_table(request) -> None:
    """The worst second-derivative errors (shown with -s): per primitive, the largest over
    its entries, then where each entry's worst case is."""
    dense = request.config.getoption("--slow")
    lines = ["", "| primitive | d2 worst | bound |", "|---|---:|---:|"]
    where = [""]
    for prim in SECOND:
        worst = _measured_second(prim.name, dense)
        if not worst:
            continue
        top = max(w[0] for w in worst.values())
        lines.append(f"| `{prim.name}` | {top:.2f} | "
                     f"{SECOND_BOUNDS.get(prim.name, SECOND_BOUND):g} |")
        for (i, j), (err, point, _) in worst.items():
            where.append(f"{prim.name} d2/darg{i + 1}darg{j + 1}: {err:.2f} ulps at "
                         f"{_show(point)}")
    print("\n".join(lines + where))


def _show(point: Any) -> str:
    if isinstance(point, tuple) and point and isinstance(point[0], tuple):
        return ", ".join("[" + ", ".join(repr(float(c)) for c in v) + "]" for v in point)
    return ", ".join(repr(float(c)) for c in point)


# ---------------------------------------------------------------- recorded path = plain path


@pytest.mark.parametrize("prim", MEASURED, ids=lambda p: p.name)
def test_recorded_rules_give_the_same_numbers(prim: ops.Primitive) -> None:
    """Under a nested tape the VJPs run on recorded tensors (so the Hessian path can
    differentiate them): they must give bit for bit the numbers of the plain path."""
    with np.errstate(all="ignore"):
        cases = (_vector_points(prim, False)[::7] if prim.reduction else
                 [[np.array(c) for c in zip(*_elementwise_points(prim, False)[::3], strict=True)]])
        for args in cases:
            call = [*args, np.float64(1.0)] if prim is ops.INDEX else list(args)
            ans = prim.forward(*call)
            g = np.ones(np.shape(ans))
            for i in range(len(args)):
                rule = prim.vjp(i)
                if rule is None:
                    continue
                plain = rule(g, ans, *call)
                recorded = rule(Tensor(g), Tensor(ans), *[Tensor(a) for a in args],
                                *call[len(args):])
                got = recorded.value if isinstance(recorded, Tensor) else recorded
                np.testing.assert_array_equal(got, plain, err_msg=f"{prim.name} d/darg{i}")


# ---------------------------------------------------------------- the cases seen in the wild


def _sig(x: Any) -> Any:
    return 1 / (1 + mpmath.exp(-x))


# (expression, --at, value, partials by name): closed forms in mpmath (mpmath.diff's absolute
# step would not resolve 1e-200)
CLI_CASES = [
    ("sigmoid(x)", "x=-30", lambda x: _sig(x), {"x": lambda x: _sig(x) * _sig(-x)}),
    ("log(sigmoid(x))", "x=-38", lambda x: mpmath.log(_sig(x)), {"x": lambda x: _sig(-x)}),
    ("softplus(x)", "x=40", lambda x: mpmath.log(1 + mpmath.exp(x)), {"x": _sig}),
    ("softplus(x)", "x=-40", lambda x: mpmath.log(1 + mpmath.exp(x)), {"x": _sig}),
    ("atan2(y, x)", "x=1e-200,y=1e-200", lambda x, y: mpmath.atan2(y, x),
     {"x": lambda x, y: -y / (x * x + y * y), "y": lambda x, y: x / (x * x + y * y)}),
    ("x/y", "x=1e-160,y=1e-160", lambda x, y: x / y,
     {"x": lambda x, y: 1 / y, "y": lambda x, y: -x / (y * y)}),
]


@pytest.mark.parametrize("expr, at, value, partials", CLI_CASES, ids=[c[0] + " " + c[1]
                                                                      for c in CLI_CASES])
def test_the_reported_cases_check_ok_with_atol_0(gradcalc, expr, at, value, partials) -> None:
    r = gradcalc(expr, "--at", at, "--atol", "0", "--format", "json")
    assert r.status == 0, r.err
    obj = r.json()
    assert obj["check"]["status"] == "ok"
    with mpmath.workdps(DPS):
        point = {k: mpmath.mpf(v) for k, v in obj["at"].items()}
        names = sorted(point)
        args = [point[n] for n in names]
        assert obj["value"] == pytest.approx(float(value(*args)), rel=1e-11, abs=0)
        for name, d in partials.items():
            assert obj["gradient"][name] == pytest.approx(float(d(*args)), rel=1e-11, abs=0)


@pytest.mark.parametrize("c", [1e-200, 1e200, 3e-310])
def test_norm_of_tiny_and_huge_vectors(gradcalc, c) -> None:
    r = gradcalc("norm(w)", "--at", f"w=[{c!r},{c!r}]", "--atol", "0", "--format", "json")
    assert r.status == 0, r.err
    obj = r.json()
    assert obj["check"]["status"] == "ok"
    with mpmath.workdps(DPS):
        norm = mpmath.sqrt(2) * mpmath.mpf(c)
        assert obj["value"] == pytest.approx(float(norm), rel=1e-11 if c > 1e-300 else 1e-8)
    assert obj["gradient"]["w"] == pytest.approx([float(1 / mpmath.sqrt(2))] * 2, rel=1e-11)


def test_prod_gradient_and_its_derivatives_at_a_zero_component() -> None:
    """prod's gradient at [0, 2, 3] is [6, 0, 0] whether or not an outer tape records it; the
    Hessian (by hand: x_k for the pair i, j) and a third derivative (1) come out exact."""
    from gradcalc import Tape, Variable
    from gradcalc.engine import functions as F
    from gradcalc.engine.tape import apply

    x0 = np.array([0.0, 2.0, 3.0])
    x = Variable(x0)
    with Tape() as tape:
        y = F.prod(x)
    assert list(tape.gradient(y, x).value) == [6.0, 0.0, 0.0]
    rows = []
    for i in range(3):
        x = Variable(x0)
        with Tape() as outer:
            with Tape() as inner:
                y = F.prod(x)
            g = inner.gradient(y, x)
            gi = apply(ops.INDEX, g, np.float64(i))
        assert list(g.value) == [6.0, 0.0, 0.0]
        rows.append(list(outer.gradient(gi, x).value))
    assert rows == [[0.0, 3.0, 2.0], [3.0, 0.0, 0.0], [2.0, 0.0, 0.0]]
    # d3 prod / dx0 dx1 dx2 = 1: the helper's own VJP, on recorded tensors
    x = Variable(x0)
    with Tape() as t3:
        with Tape() as t2:
            with Tape() as t1:
                y = F.prod(x)
            g0 = apply(ops.INDEX, t1.gradient(y, x), np.float64(0))
        g01 = apply(ops.INDEX, t2.gradient(g0, x), np.float64(1))
    assert list(t3.gradient(g01, x).value) == [0.0, 0.0, 1.0]


# ---------------------------------------------------------------- the new primitives end to end

NEW = [
    ("expm1(x)", "x=1e-20", lambda x: mpmath.expm1(x)),
    ("log1p(x)", "x=-1e-20", lambda x: mpmath.log1p(x)),
    ("logaddexp(x, y)", "x=-800,y=-801", lambda x, y: mpmath.log(mpmath.exp(x) + mpmath.exp(y))),
    ("log_sigmoid(x)", "x=-800", lambda x: -mpmath.log(1 + mpmath.exp(-x))),
]


@pytest.mark.parametrize("expr, at, reference", NEW, ids=[c[0] for c in NEW])
def test_new_primitives_check_cache_and_batch(gradcalc, points_file, expr, at, reference
                                              ) -> None:
    from gradcalc.symbolic import cache

    r = gradcalc(expr, "--at", at, "--format", "json")
    assert r.status == 0, r.err
    obj = r.json()
    assert obj["check"]["status"] == "ok"
    with mpmath.workdps(DPS):
        args = [mpmath.mpf(v) for v in obj["at"].values()]
        assert obj["value"] == pytest.approx(float(reference(*args)), rel=1e-14)
    entries = sorted(cache.cache_dir().glob("*.json"))
    assert len(entries) == 1
    stamp = entries[0].stat().st_mtime_ns
    hit = gradcalc(expr, "--at", at, "--format", "json")
    assert hit.out == r.out and entries[0].stat().st_mtime_ns == stamp  # read, not rewritten
    names = list(obj["at"])
    rows = [[-0.5, 0.25], [0.3, 2.0], [1.5, -0.7]]
    body = ",".join(names) + "\n" + "".join(",".join(str(v) for v in row[: len(names)]) + "\n"
                                            for row in rows)
    batch = gradcalc(expr, "--points", points_file(body), "--format", "json")
    assert batch.status == 0, batch.err
    out = batch.json()
    assert out["check"]["status"] == "ok"
    for name in names:
        assert out["check"]["partials"][name]["rows"]["ok"] == len(rows)
