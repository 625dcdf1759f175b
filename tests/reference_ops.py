"""The tests' one reference for every op: each primitive defined again in mpmath, independently
of gradcalc (its numpy forwards, VJPs and SymPy forms), and an evaluator of compiled derivative
programs built on the same definitions.

Adding a primitive to ops.py means adding its row here (test_ops checks that every primitive
has one).
"""

from __future__ import annotations

import fractions
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import mpmath


def _cot_derivative(n: int, x: Any) -> Any:
    """The n-th derivative of cot(pi*x), n <= 4, in closed form."""
    u = mpmath.pi * x
    c, s2 = mpmath.cot(u), 1 / mpmath.sin(u) ** 2
    p = mpmath.pi
    return [c, -p * s2, 2 * p ** 2 * s2 * c, -2 * p ** 3 * s2 * (3 * c * c + 1),
            8 * p ** 4 * s2 * c * (3 * c * c + 2)][n]


def _polygamma(n: Any, x: Any) -> Any:
    """psi^(n)(x); below 0 by the reflection formula psi^(n)(1-x) + (-1)^(n+1) psi^(n)(x) =
    (-1)^n pi d^n/dx^n cot(pi x) (mpmath's own polygamma takes seconds at x = -4.4e5)."""
    n = int(n)
    if x > 0 or n > 4:
        return mpmath.polygamma(n, x)
    return (-1) ** (n + 1) * ((-1) ** n * mpmath.pi * _cot_derivative(n, x)
                              - mpmath.polygamma(n, 1 - x))


# Elementwise primitives: op name -> the same function of mpmath numbers.
ELEMENTWISE: dict[str, Callable[..., Any]] = {
    "add": lambda x, y: x + y,
    "sub": lambda x, y: x - y,
    "mul": lambda x, y: x * y,
    "div": lambda x, y: x / y,
    "neg": lambda x: -x,
    "pow": lambda x, y: mpmath.power(x, y),
    "sin": mpmath.sin, "cos": mpmath.cos, "tan": mpmath.tan,
    "asin": mpmath.asin, "acos": mpmath.acos, "atan": mpmath.atan,
    "atan2": lambda y, x: mpmath.atan2(y, x),
    "sinh": mpmath.sinh, "cosh": mpmath.cosh, "tanh": mpmath.tanh,
    "exp": mpmath.exp, "log": mpmath.log,
    "logb": lambda x, b: mpmath.log(x) / mpmath.log(b),
    "log2": lambda x: mpmath.log(x, 2), "log10": mpmath.log10, "sqrt": mpmath.sqrt,
    "abs": abs, "hypot": lambda x, y: mpmath.sqrt(x * x + y * y),
    "min": lambda *a: min(a), "max": lambda *a: max(a),
    "relu": lambda x: max(x, 0),
    "sigmoid": lambda x: 1 / (1 + mpmath.exp(-x)),
    "softplus": lambda x: mpmath.log(1 + mpmath.exp(x)),
    "log_sigmoid": lambda x: -mpmath.log(1 + mpmath.exp(-x)),
    "expm1": mpmath.expm1, "log1p": mpmath.log1p,
    "logaddexp": lambda a, b: mpmath.log(mpmath.exp(a) + mpmath.exp(b)),
    "erf": mpmath.erf,
    "stop_gradient": lambda x: x,
    # (added with issue 24)
    "sinc": lambda x: mpmath.sin(x) / x if x != 0 else mpmath.mpf(1),
    "deg2rad": lambda x: x * mpmath.pi / 180,
    "rad2deg": lambda x: x * 180 / mpmath.pi,
    "acosh": mpmath.acosh, "asinh": mpmath.asinh, "atanh": mpmath.atanh,
    "exp2": lambda x: mpmath.power(2, x),
    "square": lambda x: x * x,
    "cbrt": lambda x: mpmath.sign(x) * mpmath.cbrt(abs(x)),
    "reciprocal": lambda x: 1 / x,
    "sign": lambda x: mpmath.mpf((x > 0) - (x < 0)),
    "floor": mpmath.floor,
    "mod": lambda x, y: x - y * mpmath.floor(x / y),
    "logaddexp2": lambda a, b: mpmath.log(mpmath.power(2, a) + mpmath.power(2, b), 2),
    "erfc": mpmath.erfc, "erfinv": mpmath.erfinv,
    "lgamma": lambda x: mpmath.loggamma(x) if x > 0 else (   # reflection, real below 0
        mpmath.log(mpmath.pi / abs(mpmath.sinpi(x))) - mpmath.loggamma(1 - x)),
    "gamma": mpmath.gamma, "digamma": lambda x: _polygamma(0, x),
    "polygamma": _polygamma,
}

# Reductions, on lists of mpmath numbers (index: a fixed k = 1).
REDUCTIONS: dict[str, Callable[..., Any]] = {
    "sum": lambda x: mpmath.fsum(x),
    "mean": lambda x: mpmath.fsum(x) / len(x),
    "prod": lambda x: mpmath.fprod(x),
    "dot": lambda u, v: mpmath.fdot(u, v),
    "norm": lambda x: mpmath.sqrt(mpmath.fsum(c * c for c in x)),
    "max_of": lambda x: max(x),
    "min_of": lambda x: min(x),
    "index": lambda x: x[1],
}

# Helpers of other rules (not in the language), vector-valued: component k of the result.
HELPERS: dict[str, Callable[..., Any]] = {
    "prod_others": lambda x, k: mpmath.fprod(c for i, c in enumerate(x) if i != k),
}


# ---------------------------------------------------------------- compiled programs


def _real_only(fn: Callable[..., Any]) -> Callable[..., Any]:
    def wrapped(*a: Any) -> Any:
        if any(isinstance(x, mpmath.mpc) for x in a):
            raise TypeError("not real")
        return fn(*a)
    return wrapped


def _mul(*a: Any) -> Any:
    out = a[0]
    for x in a[1:]:
        out = out * x
    return out


# SymPy's own forms that compiled programs use besides the primitives (n-ary add and mul, pow,
# and the steps of derivatives)
PROGRAM_ONLY: dict[str, Callable[..., Any]] = {
    "add": lambda *a: mpmath.fsum(a), "mul": _mul, "pow": mpmath.power,
    "heaviside": _real_only(lambda x, h0: h0 if x == 0 else mpmath.mpf(int(x > 0))),
    "diracdelta": _real_only(lambda x: mpmath.mpf(0) if x != 0 else None),
}


def program_ops() -> dict[str, Callable[..., Any]]:
    """Op of a compiled program -> its mpmath function (min, max, atan2 and the steps refuse
    complex arguments: they have no complex meaning)."""
    table = dict(ELEMENTWISE)
    for name in ("min", "max", "atan2", "sign", "floor", "mod"):
        table[name] = _real_only(table[name])
    table.update(PROGRAM_ONLY)
    return table


def evaluate_program(program: Sequence[Sequence[Any]], outputs: Sequence[int],
                     point: Mapping[str, float], dps: int = 40,
                     extra: Mapping[str, Callable[..., Any]] | None = None) -> list[Any]:
    """Each output of a compiled program at the point, in mpmath at dps digits: an mpf, an mpc
    with a nonzero imaginary part, or None where an instruction fails (a pole, a non-real
    argument where only reals make sense). extra: mpmath functions of further ops."""
    table = {**program_ops(), **(extra or {})}
    with mpmath.workdps(dps):
        regs: list[Any] = []
        for ins in program:
            op = ins[0]
            if op == "num":
                f = fractions.Fraction(ins[1])
                regs.append(mpmath.mpf(f.numerator) / f.denominator)
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
                if isinstance(v, mpmath.mpc) and v.imag == 0:
                    v = v.real
                if v is not None and not isinstance(v, (mpmath.mpf, mpmath.mpc)):
                    v = mpmath.mpf(v)
                if isinstance(v, mpmath.mpf) and mpmath.isnan(v):
                    v = None
                regs.append(v)
        return [regs[o] for o in outputs]
