"""The judge over random expressions at random points, including points at kinks, next to domain
edges and at extreme magnitudes (1e-300 .. 1e300): zero false ok (tape off by more than the
tolerance from an independently computed true derivative, verdict ok) and zero false mismatch
(tape within the tolerance, verdict mismatch).

The true derivative is computed here with mpmath alone (central differences at 160 and 240
bits with shrinking steps; a case whose two estimates do not agree to 30 digits, e.g. at a
kink, has no proven reference and is not counted). The default run checks CASES expressions;
`python -m pytest --slow tests/test_judge_properties.py -s` checks SLOW_CASES and prints the
tally.
"""

from __future__ import annotations

import math
import random

import mpmath
import pytest

import reference_ops
from gradcalc.engine.evaluate import run
from gradcalc.judge import check
from gradcalc.lang.syntax import parse

CASES = 40
SLOW_CASES = 5000
RTOL = 1e-9

UNARY = {name: reference_ops.ELEMENTWISE[name] for name in (
    "exp", "log", "sqrt", "sin", "cos", "tanh", "atan", "sinh", "abs", "relu", "sigmoid", "erf")}
BINARY = {"+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b,
          "/": lambda a, b: a / b, "max": max, "min": min}
POWERS = ["2", "3", "-1", "0.5"]


def expression(rng: random.Random, depth: int) -> tuple[str, object]:
    """Source text and an mpmath function of (x, y)."""
    if depth == 0 or rng.random() < 0.25:
        pick = rng.random()
        if pick < 0.4:
            return "x", lambda x, y: x
        if pick < 0.8:
            return "y", lambda x, y: y
        c = rng.choice(["1", "2", "0.5", "0.1", "3"])
        v = mpmath.mpf(float(c))
        return c, lambda x, y, v=v: v
    kind = rng.random()
    if kind < 0.4:
        name = rng.choice(sorted(UNARY))
        text, f = expression(rng, depth - 1)
        g = UNARY[name]
        return f"{name}({text})", lambda x, y, f=f, g=g: g(f(x, y))
    if kind < 0.55:
        p = rng.choice(POWERS)
        text, f = expression(rng, depth - 1)
        e = mpmath.mpf(float(p))
        return f"({text})^({p})", lambda x, y, f=f, e=e: mpmath.power(f(x, y), e)
    op = rng.choice(sorted(BINARY))
    (lt, lf), (rt, rf) = expression(rng, depth - 1), expression(rng, depth - 1)
    g = BINARY[op]
    text = f"{op}({lt}, {rt})" if op in ("max", "min") else f"({lt}) {op} ({rt})"
    return text, lambda x, y, lf=lf, rf=rf, g=g: g(lf(x, y), rf(x, y))


def coordinate(rng: random.Random) -> float:
    pick = rng.random()
    if pick < 0.3:
        return rng.choice((-1.0, 1.0)) * 10.0 ** rng.uniform(-300, 300)
    if pick < 0.45:
        return float(rng.choice([0, 1, -1, 2, 0.5, 0.1]))          # kinks, edges
    if pick < 0.55:
        return rng.choice((-1.0, 1.0)) * 10.0 ** rng.uniform(-320, -300)  # subnormal
    return rng.uniform(-4, 4)


def reference(f, point: dict[str, float], name: str) -> float | None:
    """d f / d name by central differences at two precisions and very different steps; None
    unless they agree to 30 digits. The precision grows with the magnitudes involved, so that
    x +- h and the function's values stay distinct however small or large x is."""
    span = max(abs(math.frexp(v)[1]) if v else 1074 for v in point.values())
    estimates = []
    # steps 2^-80 and 2^-600 apart: a kink closer than the larger step (max(atan(y), x) at
    # x = y = -4e-34, where atan(y) - x is 2^-335 of x) shows as a disagreement, not a value
    for extra, step in ((0, 80), (200, 600)):
        prec = 2 * span + 2 * step + 200 + extra
        with mpmath.workprec(prec):
            x = {k: mpmath.mpf(v) for k, v in point.items()}
            # a step small against x and against 1 (sin(x) at x = 1e200 turns within 1)
            scale = min(max(abs(x[name]), mpmath.mpf(2) ** -1074), mpmath.mpf(1))
            h = scale * mpmath.mpf(2) ** -step
            try:
                lo = f(**{**x, name: x[name] - h})
                hi = f(**{**x, name: x[name] + h})
            except (ValueError, ZeroDivisionError, TypeError, OverflowError):
                # (OverflowError: mpmath's tanh of a number with an astronomically large
                # binary exponent shifts a Python integer past its limit; no reference there)
                return None
            if not (isinstance(lo, mpmath.mpf) and isinstance(hi, mpmath.mpf)):
                return None
            if not (mpmath.isfinite(lo) and mpmath.isfinite(hi)):
                return None
            size = max(abs(lo), abs(hi))
            if size and abs(hi - lo) <= size * mpmath.ldexp(1, 64 - prec):
                return None    # the difference kept too few bits: no proven reference
            estimates.append((hi - lo) / (2 * h))
    a, b = estimates
    with mpmath.workprec(400):
        if abs(a - b) > abs(b) * mpmath.mpf(10) ** -30 + mpmath.mpf(2) ** -1200:
            return None
    v = float(b)
    return v if math.isfinite(v) else None


def tally(n: int, seed: int = 12) -> dict[str, object]:
    rng = random.Random(seed)
    counts = {"cases": 0, "partials judged": 0, "no proven reference": 0, "false ok": 0,
              "false mismatch": 0, "ok": 0, "mismatch": 0, "undefined": 0}
    failures: list[str] = []
    while counts["cases"] < n:
        text, f = expression(rng, rng.randint(1, 3))
        point = {"x": coordinate(rng), "y": coordinate(rng)}
        if rng.random() < 0.1:
            point["y"] = point["x"]                                  # ties for max/min
        try:
            result = run(parse(text), point)
        except Exception as exc:  # noqa: BLE001 - a bad generated input is a bug of its own
            failures.append(f"{text} at {point}: {type(exc).__name__}")
            continue
        counts["cases"] += 1
        chk = check.check(result, rtol=RTOL, timeout=20, cache=False)
        for name in ("x", "y"):
            p = chk.partials[name]
            if p.status not in ("ok", "mismatch"):
                key = str(p.status) if p.status in ("undefined",) else f"other: {p.status}"
                counts[key] = counts.get(key, 0) + 1
                continue
            true = reference(f, point, name)
            if true is None:
                counts["no proven reference"] += 1
                continue
            _count(counts, failures, p, true, f"{text} at {point} d/d{name}")
    counts["failures"] = failures
    return counts


def test_no_false_ok_and_no_false_mismatch(request) -> None:
    n = SLOW_CASES if request.config.getoption("--slow") else CASES
    counts = tally(n)
    print({k: v for k, v in counts.items() if k != "failures"})
    assert counts["failures"] == [], counts["failures"][:10]
    assert counts["partials judged"] > n // 4   # the reference decided most of them


@pytest.mark.parametrize("seed", [1, 2])
def test_generator_makes_mixed_verdicts(seed) -> None:
    # the property would be empty if every case were ok: kinks and extremes must show up
    counts = tally(15, seed)
    assert counts["ok"] > 0 and counts["failures"] == []


# ---------------------------------------------------------------- second order


def reference2(f, point: dict[str, float], i: str, j: str) -> float | None:
    """d2 f / di dj at the point by nested central differences (of the central differences of
    `reference`'s kind) at two precisions and very different steps; None unless they agree to
    25 digits."""
    span = max(abs(math.frexp(v)[1]) if v else 1074 for v in point.values())
    estimates = []
    for extra, step in ((0, 60), (200, 400)):
        prec = 2 * span + 4 * step + 200 + extra
        with mpmath.workprec(prec):
            x = {k: mpmath.mpf(v) for k, v in point.items()}
            hi_ = {k: min(max(abs(x[k]), mpmath.mpf(2) ** -1074), mpmath.mpf(1))
                   * mpmath.mpf(2) ** -step for k in (i, j)}

            def at(di: int, dj: int, x=x, hi_=hi_):
                moved = dict(x)
                moved[i] = moved[i] + di * hi_[i]
                moved[j] = moved[j] + dj * hi_[j]
                return f(**moved)

            try:
                if i == j:
                    vals = [at(-1, 0), at(0, 0), at(1, 0)]
                    est = (vals[2] - 2 * vals[1] + vals[0]) / hi_[i] ** 2
                else:
                    vals = [at(1, 1), at(1, -1), at(-1, 1), at(-1, -1)]
                    est = (vals[0] - vals[1] - vals[2] + vals[3]) / (4 * hi_[i] * hi_[j])
            except (ValueError, ZeroDivisionError, TypeError, OverflowError):
                return None
            if not all(isinstance(v, mpmath.mpf) and mpmath.isfinite(v) for v in vals):
                return None
            size = max(abs(v) for v in vals)
            if est != 0 and abs(est) * hi_[i] * hi_[j] <= size * mpmath.ldexp(1, 64 - prec):
                return None   # the differences kept too few bits: no proven reference
            estimates.append(est)
    a, b = estimates
    with mpmath.workprec(400):
        if abs(a - b) > abs(b) * mpmath.mpf(10) ** -25 + mpmath.mpf(2) ** -1000:
            return None
    v = float(b)
    return v if math.isfinite(v) else None


def hessian_tally(n: int, seed: int = 7) -> dict[str, object]:
    """The Hessian check over random expressions at random points, against reference2."""
    from gradcalc.engine.higher import hessian
    from gradcalc.judge import higher

    rng = random.Random(seed)
    counts = {"cases": 0, "entries judged": 0, "no proven reference": 0, "false ok": 0,
              "false mismatch": 0, "ok": 0, "mismatch": 0, "undefined": 0}
    failures: list[str] = []
    while counts["cases"] < n:
        text, f = expression(rng, rng.randint(1, 3))
        point = {"x": coordinate(rng), "y": coordinate(rng)}
        try:
            result = run(parse(text), point)
            hess = hessian(result)
        except Exception as exc:  # noqa: BLE001 - a bad generated input is a bug of its own
            failures.append(f"{text} at {point}: {type(exc).__name__}")
            continue
        counts["cases"] += 1
        chk = higher.check_hessian(result, hess, rtol=RTOL, timeout=60)
        for i, j in (("x", "x"), ("x", "y"), ("y", "y")):
            p = chk.entries[i][j]
            if p.status not in ("ok", "mismatch"):
                counts[str(p.status)] = counts.get(str(p.status), 0) + 1
                continue
            true = reference2(f, point, i, j)
            if true is None:
                counts["no proven reference"] += 1
                continue
            _count(counts, failures, p, true, f"{text} at {point} d2/d{i}d{j}")
    counts["failures"] = failures
    return counts


def _count(counts: dict, failures: list[str], p, true: float, what: str) -> None:
    """Tally one judged verdict against its independent reference."""
    counts["entries judged" if "entries judged" in counts else "partials judged"] += 1
    counts[str(p.status)] += 1
    t = 0.0 if p.tape is None else float(p.tape)
    floor = p.floor or 0.0
    slack = 1e-20 * abs(true)      # the reference's own uncertainty
    err = abs(t - true) if math.isfinite(t) else math.inf
    tol = RTOL * abs(true) + floor
    if p.status == "ok" and err > tol + slack and t != true:
        counts["false ok"] += 1
        failures.append(f"false ok: {what}: tape {t!r} true {true!r}")
    if p.status == "mismatch" and err <= tol - slack:
        counts["false mismatch"] += 1
        failures.append(f"false mismatch: {what}: tape {t!r} true {true!r}")


# ---------------------------------------------------------------- matrices


def _mdet(a):
    return mpmath.det(a)


def _minv(a):
    return mpmath.inverse(a)


def _msum(m):
    return mpmath.fsum(m[i, j] for i in range(m.rows) for j in range(m.cols))


def _softmax_dot(v):
    es = [mpmath.exp(c) for c in v]
    total = mpmath.fsum(es)
    return mpmath.fsum(e / total * c for e, c in zip(es, v, strict=True))


# (source, mpmath function of the matrix A and the vector v): the matrix primitives, alone
# and composed; the reference knows nothing of gradcalc
MATRIX_CASES = [
    ("det(A)", lambda a, v: _mdet(a)),
    ("logdet(A@transpose(A)) + det(A)", lambda a, v: mpmath.log(_mdet(a * a.T)) + _mdet(a)),
    ("sum(inv(A))", lambda a, v: _msum(_minv(a))),
    ("trace(A@A@A)", lambda a, v: _msum(mpmath.diag([(a * a * a)[k, k] for k in range(a.rows)]))),
    ("sum(A@v) * det(A)", lambda a, v: _msum(a * mpmath.matrix(v)) * _mdet(a)),
    ("logsumexp(v) - log(sum(exp(v)))",
     lambda a, v: mpmath.log(mpmath.fsum(mpmath.exp(c) for c in v))
     - mpmath.log(mpmath.fsum(mpmath.exp(c) for c in v))),
    ("v@softmax(v)", lambda a, v: _softmax_dot(v)),
    ("sum(softmax(v))", lambda a, v: mpmath.fsum(mpmath.exp(c) for c in v)
     / mpmath.fsum(mpmath.exp(c) for c in v)),
    ("v@(A@v)", lambda a, v: (mpmath.matrix(v).T * a * mpmath.matrix(v))[0, 0]),
    ("trace(inv(A)@A)", lambda a, v: _msum(mpmath.diag([(_minv(a) * a)[k, k]
                                                         for k in range(a.rows)]))),
]


def _matrix(rng: random.Random) -> list[list[float]]:
    pick = rng.random()
    if pick < 0.3:   # singular: a row that is a multiple of another, small whole numbers
        r0 = [float(rng.randint(-3, 3)) for _ in range(3)]
        r2 = [float(rng.randint(-3, 3)) for _ in range(3)]
        return [r0, [2 * c for c in r0], r2]
    if pick < 0.5:
        s = 10.0 ** rng.uniform(-100, 100)
        return [[rng.uniform(-2, 2) * s for _ in range(3)] for _ in range(3)]
    return [[rng.uniform(-3, 3) for _ in range(3)] for _ in range(3)]


def matrix_tally(rounds: int, seed: int = 5) -> dict[str, object]:
    """The first-order check of matrix programs at random, singular and badly scaled
    matrices, against central differences of an mpmath implementation."""
    import numpy as np

    rng = random.Random(seed)
    counts = {"cases": 0, "partials judged": 0, "no proven reference": 0, "false ok": 0,
              "false mismatch": 0, "ok": 0, "mismatch": 0, "undefined": 0}
    failures: list[str] = []
    for _ in range(rounds):
        for text, fn in MATRIX_CASES:
            a = _matrix(rng)
            v = [rng.uniform(-3, 3) for _ in range(3)]
            try:
                result = run(parse(text), {"A": np.array(a), "v": np.array(v)})
            except Exception as exc:  # noqa: BLE001
                failures.append(f"{text} at {a}, {v}: {type(exc).__name__}")
                continue
            counts["cases"] += 1
            chk = check.check(result, rtol=RTOL, timeout=60, cache=False)
            names = [f"A{i}{j}" for i in range(3) for j in range(3)] + ["v0", "v1", "v2"]
            point = dict(zip(names, [c for row in a for c in row] + v, strict=True))

            def f(fn=fn, **kw):
                m = mpmath.matrix([[kw[f"A{i}{j}"] for j in range(3)] for i in range(3)])
                return fn(m, [kw["v0"], kw["v1"], kw["v2"]])

            for label, p in chk.partials.items():
                if p.status not in ("ok", "mismatch"):
                    counts[str(p.status)] = counts.get(str(p.status), 0) + 1
                    continue
                k = label.k
                name = f"A{k[0]}{k[1]}" if isinstance(k, tuple) else f"v{k}"
                true = reference(f, point, name)
                if true is None:
                    counts["no proven reference"] += 1
                    continue
                _count(counts, failures, p, true, f"{text} at A={a}, v={v} d/d{label}")
    counts["failures"] = failures
    return counts


MATRIX_ROUNDS, SLOW_MATRIX_ROUNDS = 1, 30
HESSIAN_CASES, SLOW_HESSIAN_CASES = 15, 500


def test_no_false_verdicts_on_matrices_and_second_order(request) -> None:
    slow = request.config.getoption("--slow")
    mat = matrix_tally(SLOW_MATRIX_ROUNDS if slow else MATRIX_ROUNDS)
    hess = hessian_tally(SLOW_HESSIAN_CASES if slow else HESSIAN_CASES)
    print("matrices:", {k: v for k, v in mat.items() if k != "failures"})
    print("second order:", {k: v for k, v in hess.items() if k != "failures"})
    assert mat["failures"] == [], mat["failures"][:10]
    assert hess["failures"] == [], hess["failures"][:10]
    assert mat["partials judged"] > 0 and hess["entries judged"] > 0
