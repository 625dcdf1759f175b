"""THE primitive table: each primitive declared once, with its numpy forward, its
vector-Jacobian products and its SymPy counterpart.

Every rule is written with numpy ufuncs and arithmetic only, so that it broadcasts over arrays
(batches) and also runs on recorded tensors (higher-order derivatives through nested tapes).
A VJP takes (g, ans, *args) and returns the contribution to that argument's adjoint, or None
for a contribution that is exactly zero (a symbolic zero: nothing is added or multiplied). The
SymPy counterpart takes a namespace `sp` (sympy plus gradcalc's own StopGradient) so this
module never imports sympy.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

VJP = Callable[..., Any]


@dataclass(frozen=True, slots=True)
class Primitive:
    """One differentiable primitive.

    name: the op name shown on the tape. arity: number of arguments, None for variadic. forward:
    numpy function of the argument values. vjps: one VJP per argument (the last one is reused
    for every further argument of a variadic op); None means no gradient flows to it. sympy:
    (sp, *args) -> SymPy expression. spelling: the function name users write (None for
    operators); symbol: the operator symbol, if any (messages name an operator by it). kink:
    mask of points where the primitive is not differentiable, with kink_note saying where and
    convention saying which value the tape's rule gives there. domain: mask of points outside
    its real domain, with domain_note saying why. sample: intervals per argument where the
    primitive is smooth and finite (for tests). analytic: holomorphic near the real line and its
    forward accepts complex input, so a complex-step derivative through it is exact
    (numeric.py). guards: the domain as the judge reads it from the syntax tree, (argument
    index, or None for all arguments; a kind of judge.guards.KINDS) per condition.

    What the rest of gradcalc derives from the record (every field has a default, so a record
    that sets none of them still works where they are not needed):
    doc: the docstring of its Python API function. params: that function's argument names
    (default x, or x and y). commutative: its arguments are interchangeable (the graph draws
    no argument numbers). ufuncs: the numpy ufuncs a recorded tensor answers with this
    primitive (None: the forward, when it is a ufunc). functions: numpy functions that are not
    ufuncs (np.sinc) and that a recorded tensor answers with this primitive, each with the map
    from their arguments to the primitive's.
    sympy_class: the SymPy class its counterpart is, when that is one SymPy function of the
    arguments (sp.sin, sp.Max; None when the counterpart is built of other forms, as sqrt's
    Pow or sigmoid's exp): a compiled derivative program then names this primitive's op, and
    the following say how to evaluate it. compiled: numpy function of that op over float64
    columns (None: the forward). screen: (out, args, errs) -> first-order bound on the
    absolute error of the op's float64 result, its own rounding included (None: from the VJP,
    |f'(x)| * err + 4 ulps, for one argument). mpmath: (an mpmath context) -> its function
    with the same values there (lambda m: m.sin gives mpmath.mp's sin, or mpmath.iv's interval
    sin). monotone: how the reference encloses it in interval arithmetic: "increasing" or
    "decreasing" (mpmath at both ends of the interval), "even" (decreasing below 0, increasing
    above, as cosh), or "" (mpmath.iv's own function); its guards also say where the reference
    finds it undefined. interval: (ctx, *args) -> enclosure, for what none of these describe
    (ctx: judge.reference's interval context).
    cut: mask of points on a branch cut, where the primitive is defined but jumps across it
    (atan2 at y = 0, x < 0: from pi to -pi), so no derivative exists along a direction that
    crosses it; cut_note says where. vjp_magnitude: (i, g, ans, *args) -> the magnitude that
    the float64 rounding of argument i's VJP is relative to, given the magnitude g of the
    cotangent (the sum of the absolute values of the terms the VJP adds up, or a bound on its
    error over eps; None: the absolute value of the VJP itself): the floor of the judge's
    tolerance (judge.verdict.floor). magnitude: (ans, *args) -> the same for the forward
    (None: |ans|).
    scalar: the forward on Python floats (Python's float operators, or the C library's
    functions where numpy's float64 ufunc gives their bits: see _Libm), returning a Python
    float with the numpy forward's bits, or raising ArithmeticError or ValueError where
    Python has no float for the result (numpy's inf or nan: the caller then runs the numpy
    forward). scalar_vjps: per argument, (rule, its form on Python floats) in the same way,
    each the rule's bits; the sweeps of a program on Python floats call the form instead of the
    numpy rule (which costs ten times more on one number) while the record's rule is that rule
    (a copy of the record with other rules runs those: see scalar_vjp).
    """

    name: str
    arity: int | None
    forward: Callable[..., Any]
    vjps: tuple[VJP | None, ...]
    sympy: Callable[..., Any]
    spelling: str | None = None
    symbol: str | None = None
    kink: Callable[..., Any] | None = None
    kink_note: str = ""
    domain: Callable[..., Any] | None = None
    domain_note: str = ""
    sample: tuple[tuple[float, float], ...] = field(default=((-2.0, 2.0),))
    analytic: bool = False
    convention: str = ""
    reduction: bool = False
    guards: tuple[tuple[int | None, str], ...] = ()
    doc: str = ""
    params: tuple[str, ...] = ()
    commutative: bool = False
    ufuncs: tuple[Any, ...] | None = None
    functions: tuple[tuple[Any, Callable[..., tuple[Any, ...]]], ...] = ()
    sympy_class: str | None = None
    compiled: Callable[..., Any] | None = None
    screen: Callable[..., Any] | None = None
    mpmath: Callable[[Any], Any] | None = None
    monotone: str = ""
    interval: Callable[..., Any] | None = None
    scalar: Callable[..., Any] | None = None
    cut: Callable[..., Any] | None = None
    cut_note: str = ""
    vjp_magnitude: Callable[..., Any] | None = None
    magnitude: Callable[..., Any] | None = None
    scalar_vjps: tuple[tuple[VJP | None, VJP | None], ...] | None = None

    def scalar_vjp(self, i: int) -> VJP | None:
        """Argument i's rule on Python floats (see scalar_vjps), or None where the record
        declares none for the rule it has."""
        forms = self.scalar_vjps
        if forms is None or i >= len(forms) or forms[i][0] is not self.vjps[i]:
            return None
        return forms[i][1]

    def vjp(self, i: int) -> VJP | None:
        """The VJP for argument i (a variadic op's single rule also receives i first)."""
        if self.arity is None:
            rule = self.vjps[0]
            return None if rule is None else functools.partial(rule, i)
        return self.vjps[i]

    def nonsmooth(self, *args: Any) -> Any:
        """Mask of the points where it has no derivative although it is defined: its kinks
        and its branch cut (False where it declares neither)."""
        out: Any = False
        with np.errstate(all="ignore"):   # asked outside the domain too (mod by 0)
            for mask in (self.kink, self.cut):
                if mask is not None:
                    out = out | np.asarray(mask(*args), dtype=bool)
        return out

    def sample_interval(self, i: int) -> tuple[float, float]:
        """The interval to sample argument i from in property tests."""
        return self.sample[min(i, len(self.sample) - 1)]

    def argument_names(self) -> tuple[str, ...]:
        """The argument names of its Python API function."""
        if self.params:
            return self.params
        return ("x", "y")[: self.arity] if self.arity in (1, 2) else ("x",)

    def numpy_ufuncs(self) -> tuple[Any, ...]:
        """The numpy ufuncs that, applied to a recorded tensor, record this primitive."""
        if self.ufuncs is not None:
            return self.ufuncs
        return (self.forward,) if isinstance(self.forward, np.ufunc) else ()

    def __repr__(self) -> str:
        return f"Primitive({self.name})"


# 4 units of roundoff: what one float64 library function may add to its result's error (the
# float64 screen of compiled programs adds it per instruction)
_OWN = 4 * 2.0 ** -53


def _carried(out: Any, args: Sequence[Any], errs: Sequence[Any]) -> Any:
    """The screen of an op that returns its argument's value or its magnitude (abs,
    stop_gradient): the argument's error, plus rounding."""
    return errs[0] + _OWN * np.abs(out)


def _worst(out: Any, args: Sequence[Any], errs: Sequence[Any]) -> Any:
    """The screen of min and max: the largest error of an argument (the result is one of
    them, exactly)."""
    return np.maximum.reduce([np.broadcast_to(e, np.shape(out)) for e in errs])


def _interval_max(ctx: Any, *a: Any) -> Any:
    return ctx.iv.mpf([max(x.a for x in a), max(x.b for x in a)])


def _interval_min(ctx: Any, *a: Any) -> Any:
    return ctx.iv.mpf([min(x.a for x in a), min(x.b for x in a)])


def _ties(args: Sequence[Any], ans: Any) -> Any:
    """How many arguments equal the result, per element (for min/max)."""
    return functools.reduce(lambda acc, a: acc + (a == ans), args, 0.0)


def _extremum_vjp(i: int, g: Any, ans: Any, *args: Any) -> Any:
    # ties split the gradient evenly between the arguments that attain the extremum (as JAX does)
    return g * (args[i] == ans) / _ties(args, ans)


_TIE_CONVENTION = ("at a tie the tape splits the gradient evenly between the tied arguments, "
                   "as JAX and PyTorch's maximum/minimum do (TensorFlow gives it all to the "
                   "first argument)")


_RECORDER: list[Callable[..., Any]] = []  # the tape's apply, once engine.tape is imported


def use_recorder(record: Callable[..., Any]) -> None:
    """Install the function that runs a primitive on tensors and records it (engine.tape's
    apply): rules call it through _call, so this module never imports the tape."""
    _RECORDER[:] = [record]


def call(prim: Primitive, *args: Any) -> Any:
    """prim applied to args inside a rule: recorded on the active tapes when an argument is a
    recorded tensor (a VJP running under a nested tape, so it can be differentiated again),
    plain numpy otherwise. Both give the same numbers. A value that carries tangents (the
    Hessian's forward-over-reverse Duals) applies it as its type says (use_applier)."""
    for a in args:
        if hasattr(a, "uid"):  # a tape.Tensor, or a Dual
            return (_APPLIERS.get(type(a)) or _RECORDER[0])(prim, *args)
    return prim.forward(*args)


_APPLIERS: dict[type, Callable[..., Any]] = {}


def use_applier(kind: type, apply: Callable[..., Any]) -> None:
    """Let call() apply primitives to values of this type with apply(prim, *args): values that
    carry derivatives of their own (engine.tangents' Duals), never recorded on a tape."""
    _APPLIERS[kind] = apply


_call = call


def _plain(x: Any) -> Any:
    """The numbers of a recorded tensor, or x itself: for masks and scales, which are piecewise
    constant (no gradient flows through them)."""
    return x.value if hasattr(x, "uid") else x


def _scalar(out: Any) -> Any:
    """A 0-d array as a numpy scalar (np.where makes 0-d arrays of scalar inputs)."""
    return out[()] if isinstance(out, np.ndarray) and out.ndim == 0 else out


def _two_diff(a: Any, b: Any) -> tuple[Any, Any]:
    """a - b rounded, and its exact rounding error (Knuth's TwoSum): a - b = s + e exactly.
    Mathematically e is 0, so its derivative through the recorded ops is 0 too."""
    s = a - b
    bb = s - a
    return s, (a - (s - bb)) - (b + bb)


def _arith(name: str, forward, vjps, sympy, sample=((-2.0, 2.0),), **kw) -> Primitive:
    return Primitive(name, len(vjps), forward, tuple(vjps), sympy, sample=sample,
                     analytic=True, **kw)


def _fn(name: str, forward, vjps, sympy, spelling: str | None = None, **kw) -> Primitive:
    if "scalar_vjps" in kw:  # each form paired with the rule it stands for
        kw["scalar_vjps"] = tuple(zip(vjps, kw["scalar_vjps"], strict=True))
    return Primitive(name, len(vjps), forward, tuple(vjps), sympy,
                     spelling=spelling or name, **kw)


# ---------------------------------------------------------------- scalar forms


class _Libm:
    """The C library's functions (Python's math module) in the records' scalar forms, each
    standing for numpy's float64 ufunc of the same name only where it gives numpy's bits on
    a probe of float64 values over the whole range (decided on first use, once per process).
    numpy computes most of these with the C library itself, but with its own SIMD code on some
    machines (tanh with AVX2; most functions with AVX-512): where the probe finds another bit,
    the name stands for a function that raises ValueError, so that every scalar form using it
    hands over to the numpy forward or rule (numpy's bits by construction)."""

    PAIRS: dict[str, tuple[Any, Callable[[float], float]]] = {
        "sin": (np.sin, math.sin), "cos": (np.cos, math.cos), "tan": (np.tan, math.tan),
        "sinh": (np.sinh, math.sinh), "cosh": (np.cosh, math.cosh),
        "tanh": (np.tanh, math.tanh), "exp": (np.exp, math.exp), "log": (np.log, math.log),
        "log2": (np.log2, math.log2), "log10": (np.log10, math.log10),
        "sqrt": (np.sqrt, math.sqrt), "atan": (np.arctan, math.atan),
    }

    def __getattr__(self, name: str) -> Callable[[float], float]:
        if name not in self.PAIRS:
            raise AttributeError(name)
        ufunc, fn = self.PAIRS[name]
        chosen = fn if same_bits(ufunc, fn) else _not_libm
        self.__dict__[name] = chosen   # found in the instance from now on: no second probe
        return chosen


def _probe() -> np.ndarray:
    """The probe's float64 values: 2,048 magnitudes spread evenly in the exponent over the
    whole range (subnormals to the largest), of both signs, and 2,048 steps through [-40, 40],
    where the library functions' argument reductions and polynomial pieces switch."""
    mags = np.logspace(-323, 308, 1024)
    return np.concatenate([mags, -mags, np.linspace(-40.0, 40.0, 2048)])


def same_bits(ufunc: Any, fn: Callable[[float], float]) -> bool:
    """Whether fn (a Python float function) gives the ufunc's float64 bits at every probe
    value where it gives a float (where it raises, a scalar form falls back to numpy)."""
    xs = _probe()
    with np.errstate(all="ignore"):
        want = ufunc(xs)
    for x, w in zip(xs.tolist(), want.tolist(), strict=True):
        try:
            got = fn(x)
        except (ArithmeticError, ValueError):
            continue
        if got != got and w != w:   # nan (its sign bit is no value's)
            continue
        if got != w or math.copysign(1.0, got) != math.copysign(1.0, w):
            return False
    return True


def _not_libm(x: float) -> float:
    raise ValueError("numpy's own code, not the C library's: the numpy form runs")


_LIBM = _Libm()

# ---------------------------------------------------------------- arithmetic

# scalar: Python's float operators round as numpy's do (IEEE 754) and never warn; dividing by
# zero raises ZeroDivisionError, and the tape then runs np.true_divide (inf or nan)
ADD = _arith("add", np.add, [lambda g, ans, x, y: g, lambda g, ans, x, y: g],
             lambda sp, x, y: x + y, symbol="+", commutative=True, scalar=float.__add__)
SUB = _arith("sub", np.subtract, [lambda g, ans, x, y: g, lambda g, ans, x, y: -g],
             lambda sp, x, y: x - y, symbol="-", scalar=float.__sub__)
MUL = _arith("mul", np.multiply,
             [lambda g, ans, x, y: g * y, lambda g, ans, x, y: g * x],
             lambda sp, x, y: x * y, symbol="*", commutative=True, scalar=float.__mul__)


def _subnormal(v: Any) -> Any:
    """Mask (plain numbers) of the nonzero elements below the normal range, where a float64
    has lost bits."""
    a = np.abs(_plain(v))
    return (a < 2.0 ** -1022) & (a > 0)


def _exponent(v: Any) -> Any:
    return np.frexp(v)[1]


def _times_ratio(g: Any, a: Any, b: Any) -> Any:
    """g * (a/b), multiplied in an order whose intermediate stays in float64's range: where a/b
    alone over- or underflows but g brings the product back (a cotangent far from 1, as in a
    Hessian: sqrt(x*y) at x = 1e-300, y = 1e-10 sends g = 1e-300 against a/b = 5e309), as
    (g*a)/b or (g/b)*a, whichever intermediate is nearer 1 in magnitude."""
    q = a / b
    qr = _plain(q)
    numbers = hasattr(g, "uid") or isinstance(g, (int, float, np.ndarray, np.generic))
    if np.all(_normal_mask(qr) | (qr == 0)) or not numbers:
        return g * q   # nothing to reorder, or g is the backward pass's unit seed, exactly 1
    gr, ar, br = _plain(g), _plain(a), _plain(b)
    finite = np.isfinite(gr) & np.isfinite(ar) & np.isfinite(br)
    off = ~_normal_mask(qr) & (ar != 0) & (gr != 0) & finite
    if not np.any(off) or not np.all(finite):
        return g * q
    eg, ea, eb = _exponent(gr), _exponent(ar), _exponent(br)
    first = 1.0 * (off & (np.abs(eg + ea) <= np.abs(eg - eb)))   # (g*a)/b
    second = 1.0 * off - first                                   # (g/b)*a
    kept = 1 - first - second                                    # g*(a/b)
    if np.all(first == 1):
        return (g * a) / b
    if np.all(second == 1):
        return (g / b) * a
    # per element (every input finite: the 1s put where an order is not chosen are harmless)
    def pick(v: Any, m: Any) -> Any:
        return v * m + (1 - m)

    return (pick(g, kept) * (pick(a, kept) / pick(b, kept)) * kept
            + (pick(g, first) * pick(a, first)) / pick(b, first) * first
            + (pick(g, second) / pick(b, second)) * pick(a, second) * second)


def _div_dy(g: Any, ans: Any, x: Any, y: Any) -> Any:
    # -(x/y)/y: y*y underflows (or overflows) long before the partial does; but -x/(y*y) where
    # x/y is subnormal and has lost bits (then y*y is normal: x = 5e-324, y = 3e-10)
    if type(ans) is np.float64:  # a scalar (the common case): no array masks to build
        if not 0.0 < abs(ans) < 2.0 ** -1022:
            q = ans / y
            if q == 0.0 or 2.0 ** -1022 <= abs(q) < math.inf:
                return -g * q
            return -_times_ratio(g, ans, y)
    m = _subnormal(ans)
    if not np.any(m):
        return -_times_ratio(g, ans, y)
    yb = y * m + (1 - m)  # 1 where the quotient is fine: no division by a tiny y*y there
    return -g * ((ans / y) * (1 - m) + x / (yb * yb) * m)


DIV = _arith("div", np.true_divide, [lambda g, ans, x, y: g / y, _div_dy],
             lambda sp, x, y: x / y, sample=((-2.0, 2.0), (0.5, 2.0)),
             guards=((1, "nonzero"),), symbol="/", scalar=float.__truediv__)
NEG = Primitive("neg", 1, np.negative, (lambda g, ans, x: -g,), lambda sp, x: -x, symbol="-",
                analytic=True, scalar=float.__neg__)
# x^y: x^(y-1) is taken with exponent 0 where x == 0 and y == 0, and log(x) with x = 1 where
# x == 0 (JAX's convention), so that 0^0 and x^0 have finite partials. Only 0^0 is masked:
# masking y == 0 alone would make the rule's own derivative in y wrong at y = 0, x != 0.


# The power rules take their powers with _power (defined below), never with **: on float64
# scalars ** is the C library's pow, which differs from np.power in the last bit at some points,
# and a point's partials must be a batch row's, bit for bit.


def _pow_dx(g: Any, ans: Any, x: Any, y: Any) -> Any:
    # y*x^(y-1). Where y-1 is exact and x^(y-1) neither over- nor underflows, that formula as
    # it stands; elsewhere x^(y-1) as x^d * b^e, d = y-1 rounded and e its exact rounding error
    # (without it, x = 1e300 and y = 0.1 are hundreds of ulps off). Below 2^53, e is tiny and
    # b = |x|; beyond, y is even and e an odd whole number, and b = x (so the sign of an odd
    # power of a negative base comes out right), or sign(x) where |x| is far from 1 and the
    # power over- or underflows anyway. Not ans/x: ans overflows or underflows where x^(y-1)
    # does not. The extra factors are exactly 1 where they are not needed, so leaving them out
    # there changes neither the numbers nor their derivatives.
    xr, yr = _plain(x), _plain(y)
    dr, er = _two_diff(yr, 1.0)
    dr = dr + (yr == 0) * (xr == 0)  # 0^0: exponent 0
    power = _power(xr, dr)
    whole = np.abs(power)
    split = ((whole == np.inf) | (whole < 2.0 ** -1022)) * (xr != 0)
    tiny_y = np.abs(yr) < 2.0 ** -1022
    if not (np.any(er) or np.any(split) or np.any(tiny_y)):
        if x is xr and y is yr:  # plain numbers: x^(y-1) is the power just taken
            return g * (y * power)
        return g * (y * _power(x, y - 1 + (y == 0) * (x == 0)))
    # (g times the same product as above where the extra factors are 1: a batch takes this
    # branch for all its rows when one needs it, and every row must keep a point's bits)
    return _pow_dx_careful(g, x, y, xr, yr, dr, split, tiny_y)


def _pow_dy(g: Any, ans: Any, x: Any, y: Any) -> Any:
    # x^y*log(x); where x^y is subnormal (lost bits that log(x) would multiply), as
    # x^(y/2)*log(x)*x^(y/2)
    # and so where x^y overflows and x^y*log(x) need not (2^1024*log(2) = 1.25e308)
    xr, ar = _plain(x), _plain(ans)
    over = np.isinf(ar) & np.isfinite(xr) & np.isfinite(_plain(y))
    m = (_subnormal(ans) | over) * (xr > 0)
    if not np.any(m):
        return g * (ans * np.log(x + (x == 0)))  # the product below, where h = 0
    h = y * (0.5 * m)
    return g * (_power(x, y - h) * np.log(x + (x == 0)) * _power(x, h))


def _pow_dx_careful(g: Any, x: Any, y: Any, xr: Any, yr: Any, dr: Any, split: Any,
                    tiny_y: Any) -> Any:
    d, e = _two_diff(y, 1.0)
    # a zero base to a power y - 1 that is not the rounded d (e != 0: y - 1 is no integer)
    # is +0's, whatever the zero's sign: (-0)^-1 is -inf, but 0^(-1 + 5e-324) is +inf (the
    # limit from both sides of 0, and C99's pow of -0 to a non-integer). Adding +0.0 there
    # (and -0.0, which changes no number, elsewhere): a plain number, no derivative changes.
    flip = (xr == 0) & (_plain(e) != 0)
    if np.any(flip):
        x = x + _scalar(np.where(flip, 0.0, -0.0))
    ax = np.abs(xr)
    huge = 1.0 * (np.abs(yr) >= 2.0 ** 53)
    near1 = huge * (ax >= 0.5) * (ax <= 2)
    sign = np.sign(xr) + (xr == 0)
    base = (1 - huge) * (np.abs(x) + (x == 0)) + near1 * x + (huge - near1) * sign
    # x^d as |x|^(d/2) * |x|^(d/2) (times the sign of an odd power of a negative base) where it
    # over- or underflows, multiplied into y first: x^-1 overflows at x = 5e-324 where
    # y*x^(y-1) with y = -1e-25 does not (a subnormal y is scaled up by 2^64 meanwhile, so that
    # it keeps its bits)
    dm = d + (y == 0) * (x == 0)
    odd = 1 - 2 * split * (xr < 0) * (np.mod(dr, 2) == 1)
    k = 1.0 + tiny_y * (2.0 ** 64 - 1)
    # a factor that is exactly 1 everywhere is left out: the numbers are the same, and its
    # derivative (0) would meet an infinite cotangent as inf*0 = nan in a Hessian (x^3 at
    # 1e200, where (x^3)' = 3e400 overflows and (x^3)'' = 6e200 does not)
    # Where the power is split, g goes in before its halves: a Hessian's cotangent far from 1
    # brings back a product whose halves overflow (d/dt of t^-0.5 at t = 1e-310 is g*1e465
    # with g = 5e-301); elsewhere g multiplies the product last, as in the rule above
    out = y * k if np.any(tiny_y) else y
    split_any = np.any(split)
    if split_any:
        h = dm * (0.5 * split)
        xs = x * (1 - split + split * sign)   # |x| where split (x != 0 there), else x with
        # its zero's sign (a sum with 0*|x| = +0.0 would turn -0.0 into +0.0)
        # g before the halves only in split rows: the others keep a point's order, g last
        # (a batch takes this branch for all its rows when one row is split)
        first = split != 0
        out = out * _scalar(np.where(first, g, 1.0)) * _power(xs, dm - h) * _power(xs, h)
        g = _scalar(np.where(first, 1.0, g))
    else:
        out = out * _power(x, dm)
    if np.any(_plain(e)):
        out = out * _power(base, e)
    if np.any(odd != 1):
        out = out * odd
    if np.any(tiny_y):
        out = out / k
    return g * out


_EXACT_POWERS = ((2.0, np.square), (0.5, np.sqrt), (-1.0, np.reciprocal))


def _power(x: Any, y: Any) -> Any:
    """np.power, with numpy's own exact results for a scalar exponent of 2, 0.5 or -1 (x*x,
    sqrt(x), 1/x, each correctly rounded) taken for every element whose exponent is one of
    them, also in a column of exponents, where numpy runs its general pow (about 1 ulp off at a
    tenth of the points): so a batch row's value is the point's, bit for bit."""
    out = np.power(x, y)
    if hasattr(out, "uid") or np.ndim(y) == 0:
        return out  # recorded (this function computed its value), or numpy's case already
    for value, exact in _EXACT_POWERS:
        at = y == value
        if np.any(at):
            out = np.where(at, exact(x), out)
    return out


POW = Primitive(
    "pow", 2, _power,
    (_pow_dx,
     _pow_dy),
    lambda sp, x, y: x ** y, spelling="pow", symbol="^", doc="x to the y.", ufuncs=(np.power,),
    domain=lambda x, y: (x < 0) & (y != np.round(y)),
    domain_note="a negative number to a non-integer power is not real",
    sample=((0.5, 2.0), (-2.0, 2.0)), analytic=True, guards=((None, "pow"),),
)

# ---------------------------------------------------------------- trigonometric

SIN = _fn("sin", np.sin, [lambda g, ans, x: g * np.cos(x)], lambda sp, x: sp.sin(x),
          sympy_class="sin", mpmath=lambda m: m.sin, doc="sin(x).",
          analytic=True, scalar=lambda x: _LIBM.sin(x),
          scalar_vjps=(lambda g, ans, x: g * _LIBM.cos(x),))
COS = _fn("cos", np.cos, [lambda g, ans, x: -g * np.sin(x)], lambda sp, x: sp.cos(x),
          sympy_class="cos", mpmath=lambda m: m.cos, doc="cos(x).",
          analytic=True, scalar=lambda x: _LIBM.cos(x),
          scalar_vjps=(lambda g, ans, x: -g * _LIBM.sin(x),))
TAN = _fn("tan", np.tan, [lambda g, ans, x: g * (1 + ans * ans)], lambda sp, x: sp.tan(x),
          sympy_class="tan", mpmath=lambda m: m.tan, doc="tan(x).",
          sample=((-1.2, 1.2),), analytic=True, scalar=lambda x: _LIBM.tan(x),
          scalar_vjps=(lambda g, ans, x: g * (1 + ans * ans),))
def _one_minus_square(x: Any) -> Any:
    """1 - x^2 as (1-x)*(1+x) from |x| = 1/2 on: exact near +-1, where x*x's rounding would
    swamp the difference; below, as 1 - x*x, which does not cancel and whose derivative -2x
    comes out exact on the recorded path ((1-x) - (1+x) is 0 at x = 1e-255)."""
    small = 1.0 * (np.abs(_plain(x)) < 0.5)
    if np.all(small == 1):
        return 1 - x * x
    if not np.any(small):
        return (1 - x) * (1 + x)
    # each formula on a stand-in that keeps it finite where it is not used (so that the mask
    # does not multiply its inf by 0: x = 1e300 beside x = 0.2 gave nan): x clamped to
    # [-1/2, 1/2], which is x itself where |x| < 1/2, and x times the other mask
    big = 1 - small
    xs = np.minimum(np.maximum(x, -0.5), 0.5)
    xb = x * big
    return (1 - xs * xs) * small + (1 - xb) * (1 + xb) * big


ASIN = _fn("asin", np.arcsin, [lambda g, ans, x: g / np.sqrt(_one_minus_square(x))],
           lambda sp, x: sp.asin(x),
           sympy_class="asin", mpmath=lambda m: m.asin,
           doc="arcsine, defined on [-1, 1].", monotone="increasing",
           domain=lambda x: np.abs(x) > 1,
           domain_note="asin is only defined on [-1, 1]", sample=((-0.9, 0.9),),
           analytic=True,
           guards=((0, "unit"),))
ACOS = _fn("acos", np.arccos, [lambda g, ans, x: -g / np.sqrt(_one_minus_square(x))],
           lambda sp, x: sp.acos(x),
           sympy_class="acos", mpmath=lambda m: m.acos,
           doc="arccosine, defined on [-1, 1].", monotone="decreasing",
           domain=lambda x: np.abs(x) > 1,
           domain_note="acos is only defined on [-1, 1]", sample=((-0.9, 0.9),),
           analytic=True,
           guards=((0, "unit"),))


def _atan_dx(g: Any, ans: Any, x: Any) -> Any:
    # 1/(1+x^2), and 1/x/x where x*x overflows (there 1 + x^2 == x^2 in float64)
    xx = x * x
    big = 1.0 * np.isinf(_plain(xx))
    if not np.any(big):
        return g / (1 + xx)
    small = 1 - big
    xs = x * small  # 0 where big: finite in both branches, no inf*0
    xb = x * big + small  # 1 where small
    return g / (1 + xs * xs) * small + g / xb / xb * big


def _atan_dx_scalar(g: float, ans: float, x: float) -> float:
    # _atan_dx on Python floats, where x*x does not overflow
    xx = x * x
    if xx == math.inf:
        raise OverflowError
    return g / (1 + xx)


def _hypot_scale(x: Any, y: Any, r: Any) -> Any:
    """For r = hypot(x, y): 1, or the power of two (0.5 or 2^54) that brings hypot into the
    normal range where it over- or underflows, so that x/hypot keeps every bit
    (hypot(5e-324, 5e-324) rounds to 5e-324, hypot(1e308, 1e308) to inf). A plain number: no
    gradient flows through it."""
    rr = _plain(r)
    return 1.0 - 0.5 * np.isinf(rr) + (2.0 ** 54 - 1) * (rr < 2.0 ** -1022)


def _hypot_scaled(x: Any, y: Any, r: Any) -> tuple[Any, Any, Any]:
    """(x*c, y*c, hypot(x*c, y*c)) with c = _hypot_scale(x, y, r)."""
    c = _hypot_scale(x, y, r)
    if np.all(c == 1.0):
        return x, y, r
    xc, yc = x * c, y * c
    return xc, yc, np.hypot(xc, yc)


def _atan2_dy(g: Any, ans: Any, y: Any, x: Any) -> Any:
    return g * _atan2_part(x, y, x)


def _atan2_dx(g: Any, ans: Any, y: Any, x: Any) -> Any:
    return -g * _atan2_part(y, x, y)


def _atan2_screen(out: Any, args: Sequence[Any], errs: Sequence[Any]) -> Any:
    (y, x), (ey, ex) = args, errs
    return (np.abs(x) * ey + np.abs(y) * ex) / (x * x + y * y) + _OWN * np.abs(out)


def _atan2_interval(ctx: Any, y: Any, x: Any) -> Any:
    ctx.require(not (x.a <= 0 <= x.b and y.a <= 0 <= y.b), ctx.zero(x) and ctx.zero(y))
    if x.a > 0 or y.a > 0 or y.b < 0:
        return ctx.iv.atan2(y, x)
    if ctx.zero(y):
        return ctx.iv.mpf(ctx.iv.pi)   # on the branch cut, x < 0 and y = 0 exactly: pi
    ctx.require(False, False)  # straddling the branch cut: leave it to more precision
    return None


def _atan2_part(u: Any, x: Any, y: Any) -> Any:
    # u/(x^2+y^2); (u/r)/r with r = hypot(x, y) (rescaled) where x*x + y*y under- or overflows
    s = x * x + y * y
    if _normal(s, x, y):
        return u / s
    fine = 1.0 * _normal_mask(s)
    xf, yf = x * fine, y * fine
    sb = xf * xf + yf * yf + (1 - fine)  # 1 where s is not normal: finite in both branches
    c = _hypot_scale(x, y, np.hypot(_plain(x), _plain(y)))
    r = np.hypot(x * c, y * c)
    return u / sb * fine + (u * c) / r / r * c * (1 - fine)


def _normal_mask(s: Any) -> Any:
    v = np.abs(_plain(s))
    return (v >= 2.0 ** -1022) & (v < np.inf)


def _normal(s: Any, x: Any, y: Any) -> bool:
    """Every element of s = x*x + y*y a normal float64, or 0 at x = y = 0 (the kink, where the
    rule's 0/0 is the convention)."""
    kink = (_plain(x) == 0) & (_plain(y) == 0)
    return bool(np.all(_normal_mask(s) | kink))


def _hypot_dx(g: Any, ans: Any, x: Any, y: Any) -> Any:
    xc, _, r = _hypot_scaled(x, y, ans)
    return g * (xc / r)


def _hypot_dy(g: Any, ans: Any, x: Any, y: Any) -> Any:
    _, yc, r = _hypot_scaled(x, y, ans)
    return g * (yc / r)


ATAN = _fn("atan", np.arctan, [_atan_dx], lambda sp, x: sp.atan(x),
           sympy_class="atan", mpmath=lambda m: m.atan,
           doc="arctangent.", monotone="increasing", analytic=True,
           scalar=lambda x: _LIBM.atan(x), scalar_vjps=(_atan_dx_scalar,))
ATAN2 = _fn("atan2", np.arctan2, [_atan2_dy, _atan2_dx],
            lambda sp, y, x: sp.atan2(y, x), sympy_class="atan2",
            doc="The angle of the point (x, y).", params=("y", "x"),
            screen=_atan2_screen, interval=_atan2_interval,
            kink=lambda y, x: (x == 0) & (y == 0),
            kink_note="atan2 is not differentiable at (0, 0)",
            convention="the tape's rule gives 0/0 = nan there",
            cut=lambda y, x: (y == 0) & (x < 0),
            cut_note="atan2 jumps from pi to -pi across y = 0 where x < 0",
            sample=((0.5, 2.0), (0.5, 2.0)))


def _sinc(x: Any) -> Any:
    # sin(x)/x, and 1 at 0: nothing cancels (sin keeps its relative accuracy down to the
    # subnormals, where sin(x) = x)
    zero = x == 0
    return _scalar(np.where(zero, 1.0, np.sin(x) / np.where(zero, 1.0, x)))


# sinc'(x)/x = sum over k >= 1 of (-1)^k 2k x^(2k-2)/(2k+1)!, to x^18: below |x| = 1 the terms
# fall factorially and this is exact to float64
_SINC_DX = tuple((-1) ** k * 2 * k / math.factorial(2 * k + 1) for k in range(1, 11))


def _sinc_dx_series(x: Any) -> Any:
    t = x * x
    p: Any = _SINC_DX[-1]
    for c in _SINC_DX[-2::-1]:
        p = p * t + c
    return x * p


def _sinc_dx(g: Any, ans: Any, x: Any) -> Any:
    # (cos(x) - sinc(x))/x, which cancels for |x| < 1 (to 0 at 0): there its Taylor series.
    # Both are recorded operations, so the Hessian differentiates the same formulas.
    small = 1.0 * (np.abs(_plain(x)) < 1)
    if np.all(small == 1):
        return g * _sinc_dx_series(x)
    if not np.any(small):
        return g * ((np.cos(x) - ans) / x)
    big = 1 - small
    xs, xb = x * small, x * big + small   # 0 and 1 where not used: finite on both sides
    return g * (_sinc_dx_series(xs) * small + (np.cos(xb) - _call(SINC, xb)) / xb * big)


def _sinc_interval(ctx: Any, x: Any) -> Any:
    # 1 - x^2/6 <= sinc(x) <= 1 for every x: around 0, where mpmath's sinc gives no bound
    if x.a <= 0 <= x.b:
        r = max(-x.a, x.b)
        ctx.require(r < 1, False)
        return ctx.iv.mpf([(1 - ctx.iv.mpf(r) ** 2 / 6).a, 1]) if r else ctx.iv.mpf(1)
    return ctx.iv.sinc(x)


def _np_sinc(x: Any) -> tuple[Any, ...]:
    return (x * np.pi,)   # numpy's sinc is sin(pi*x)/(pi*x), with pi*x rounded as here


SINC = _fn("sinc", _sinc, [_sinc_dx], lambda sp, x: sp.sinc(x), sympy_class="sinc",
           interval=_sinc_interval, analytic=True, functions=((np.sinc, _np_sinc),),
           doc="sin(x)/x, and 1 at 0 (SymPy's and the mathematicians' sinc; numpy's np.sinc(x) "
           "is sinc(pi*x)).")
# numpy's constants, pi/180 and 180/pi rounded once: x times them is numpy's deg2rad(x) and
# rad2deg(x) bit for bit (and takes the complex step)
_DEG = float(np.deg2rad(1.0))
_RAD = float(np.rad2deg(1.0))
DEG2RAD = _fn("deg2rad", lambda x: x * _DEG, [lambda g, ans, x: g * _DEG],
              lambda sp, x: x * sp.pi / 180, ufuncs=(np.deg2rad, np.radians), analytic=True,
              doc="Degrees to radians, x*pi/180.")
RAD2DEG = _fn("rad2deg", lambda x: x * _RAD, [lambda g, ans, x: g * _RAD],
              lambda sp, x: x * 180 / sp.pi, ufuncs=(np.rad2deg, np.degrees), analytic=True,
              doc="Radians to degrees, x*180/pi.")

# ---------------------------------------------------------------- hyperbolic


def _sech2(x: Any) -> Any:
    s = 1 / np.cosh(x)
    return s * s


def _tanh_dx_scalar(g: float, ans: float, x: float) -> float:
    s = 1 / _LIBM.cosh(x)
    return g * (s * s)


SINH = _fn("sinh", np.sinh, [lambda g, ans, x: g * np.cosh(x)], lambda sp, x: sp.sinh(x),
           sympy_class="sinh", mpmath=lambda m: m.sinh, doc="sinh(x).", monotone="increasing",
           analytic=True, scalar=lambda x: _LIBM.sinh(x),
           scalar_vjps=(lambda g, ans, x: g * _LIBM.cosh(x),))
COSH = _fn("cosh", np.cosh, [lambda g, ans, x: g * np.sinh(x)], lambda sp, x: sp.cosh(x),
           sympy_class="cosh", mpmath=lambda m: m.cosh, doc="cosh(x).", monotone="even",
           analytic=True, scalar=lambda x: _LIBM.cosh(x),
           scalar_vjps=(lambda g, ans, x: g * _LIBM.sinh(x),))
# tanh' = 1/cosh^2: 1 - tanh^2 cancels to 0 (or to noise) once |tanh| rounds near 1
TANH = _fn("tanh", np.tanh, [lambda g, ans, x: g * _sech2(x)], lambda sp, x: sp.tanh(x),
           sympy_class="tanh", mpmath=lambda m: m.tanh, doc="tanh(x).", monotone="increasing",
           analytic=True, scalar=lambda x: _LIBM.tanh(x), scalar_vjps=(_tanh_dx_scalar,))
# acosh' = 1/sqrt(x^2 - 1) as 1/(sqrt(x-1)*sqrt(x+1)): x - 1 is exact near 1 and nothing
# overflows; asinh' = 1/hypot(1, x), which neither overflows nor loses x^2's bits; atanh' =
# 1/(1 - x^2), taken as for asin
ACOSH = _fn("acosh", np.arccosh, [lambda g, ans, x: g / (np.sqrt(x - 1) * np.sqrt(x + 1))],
            lambda sp, x: sp.acosh(x), sympy_class="acosh", mpmath=lambda m: m.acosh,
            monotone="increasing", analytic=True, doc="Inverse hyperbolic cosine, defined on "
            "[1, inf).", domain=lambda x: x < 1, domain_note="acosh is only defined for x >= 1",
            kink=lambda x: x == 1, kink_note="acosh is not differentiable at 1 (its slope is "
            "infinite)", convention="the tape gives acosh'(1) = inf, as for sqrt at 0",
            sample=((1.2, 4.0),), guards=((0, "at_least_one"),))
ASINH = _fn("asinh", np.arcsinh, [lambda g, ans, x: g / np.hypot(1.0, x)],
            lambda sp, x: sp.asinh(x), sympy_class="asinh", mpmath=lambda m: m.asinh,
            monotone="increasing", analytic=True, doc="Inverse hyperbolic sine.")
ATANH = _fn("atanh", np.arctanh, [lambda g, ans, x: g / _one_minus_square(x)],
            lambda sp, x: sp.atanh(x), sympy_class="atanh", mpmath=lambda m: m.atanh,
            monotone="increasing", analytic=True, doc="Inverse hyperbolic tangent, defined on "
            "(-1, 1).", domain=lambda x: np.abs(x) >= 1,
            domain_note="atanh is only defined on (-1, 1)", sample=((-0.9, 0.9),),
            guards=((0, "open_unit"),))

# ---------------------------------------------------------------- exponential and logarithmic

EXP = _fn("exp", np.exp, [lambda g, ans, x: g * ans], lambda sp, x: sp.exp(x),
          sympy_class="exp", mpmath=lambda m: m.exp, doc="e to the x.",
          analytic=True, scalar=lambda x: _LIBM.exp(x),
          scalar_vjps=(lambda g, ans, x: g * ans,))
# 2^x*log(2) as 2^(x-1)*(2*log(2)): 2^x overflows from x = 1024 on, the partial only from
# x = 1024.53 (x - 1 is exact wherever 2^x is neither 0 nor inf)
_TWO_LN2 = 2 * math.log(2.0)
EXP2 = _fn("exp2", np.exp2, [lambda g, ans, x: g * (np.exp2(x - 1) * _TWO_LN2)],
           lambda sp, x: sp.Integer(2) ** x, doc="2 to the x.", analytic=True)
LOG = _fn("log", np.log, [lambda g, ans, x: g / x], lambda sp, x: sp.log(x),
          sympy_class="log", mpmath=lambda m: m.log,
          doc="Natural logarithm, or the logarithm to a base.",
          domain=lambda x: x <= 0, domain_note="log is only defined for positive numbers",
          sample=((0.2, 3.0),), analytic=True,
           guards=((0, "positive"),), scalar=lambda x: _LIBM.log(x),
           scalar_vjps=(lambda g, ans, x: g / x,))
LOGB = _fn("logb", lambda x, b: np.log(x) / np.log(b),
           [lambda g, ans, x, b: g / np.log(b) / x,
            lambda g, ans, x, b: -g * (ans / np.log(b) / b)],
           lambda sp, x, b: sp.log(x) / sp.log(b), spelling="log",
           domain=lambda x, b: (x <= 0) | (b <= 0) | (b == 1),
           domain_note="log(x, base) needs x > 0 and a positive base other than 1",
           sample=((0.2, 3.0), (1.5, 4.0)), analytic=True,
           guards=((0, "positive"), (1, "base")), params=("x", "base"))
# g/log(2)/x, not g/(x*log(2)): x*log(10) overflows at x = 1e308 and loses bits where
# subnormal; nor g/x/log(2): 1/x overflows at x = 3e-309
_LN2, _LN10 = float(np.log(2.0)), float(np.log(10.0))  # (the scalar forms' constants)
LOG2 = _fn("log2", np.log2, [lambda g, ans, x: g / np.log(2.0) / x],
           lambda sp, x: sp.log(x, 2), doc="Base-2 logarithm.", domain=lambda x: x <= 0,
           domain_note="log2 is only defined for positive numbers", sample=((0.2, 3.0),),
           analytic=True,
           guards=((0, "positive"),), scalar=lambda x: _LIBM.log2(x),
           scalar_vjps=(lambda g, ans, x: g / _LN2 / x,))
LOG10 = _fn("log10", np.log10, [lambda g, ans, x: g / np.log(10.0) / x],
            lambda sp, x: sp.log(x, 10), doc="Base-10 logarithm.", domain=lambda x: x <= 0,
            domain_note="log10 is only defined for positive numbers", sample=((0.2, 3.0),),
            analytic=True,
            guards=((0, "positive"),), scalar=lambda x: _LIBM.log10(x),
            scalar_vjps=(lambda g, ans, x: g / _LN10 / x,))
SQRT = _fn("sqrt", np.sqrt, [lambda g, ans, x: g * 0.5 / ans], lambda sp, x: sp.sqrt(x),
           doc="Square root.",
           domain=lambda x: x < 0, domain_note="sqrt is only defined for non-negative numbers",
           kink=lambda x: x == 0, kink_note="sqrt is not differentiable at 0 (its slope is "
           "infinite)", convention="the tape gives sqrt'(0) = inf, as PyTorch and TensorFlow do",
           sample=((0.2, 3.0),), analytic=True,
           guards=((0, "nonnegative"),), scalar=lambda x: _LIBM.sqrt(x),
           scalar_vjps=(lambda g, ans, x: g * 0.5 / ans,))
SQUARE = _fn("square", np.square, [lambda g, ans, x: g * (2 * x)], lambda sp, x: x ** 2,
             doc="x^2.", analytic=True, scalar=lambda x: float.__mul__(x, x),
             scalar_vjps=(lambda g, ans, x: g * (2 * x),))


def _cbrt_dx(g: Any, ans: Any, x: Any) -> Any:
    # 1/(3*cbrt(x)^2) as (cbrt(x)/x)/3: squaring the root would double its rounding error;
    # at the kink 0 the slope is infinite (as sqrt'(0))
    zero = _plain(x) == 0
    if not np.any(zero):
        return g * ((ans / x) / 3)
    return g * _scalar(np.where(zero, np.inf, _plain((ans / (x + zero)) / 3)))


CBRT = _fn("cbrt", np.cbrt, [_cbrt_dx],
           lambda sp, x: sp.cbrt(x), sympy_class="cbrt", monotone="increasing",
           mpmath=lambda m: lambda t: m.sign(t) * m.cbrt(abs(t)),
           doc="The real cube root (negative for negative x).",
           kink=lambda x: x == 0, kink_note="cbrt is not differentiable at 0 (its slope is "
           "infinite)", convention="the tape gives cbrt'(0) = inf, as for sqrt")
RECIPROCAL = _fn("reciprocal", np.reciprocal, [lambda g, ans, x: _div_dy(g, ans, 1.0, x)],
                 lambda sp, x: 1 / x, doc="1/x.", domain=lambda x: x == 0,
                 domain_note="1/x is not defined at 0", sample=((0.5, 2.0),), analytic=True,
                 guards=((0, "nonzero"),))

# ---------------------------------------------------------------- piecewise

ABS = _fn("abs", np.abs, [lambda g, ans, x: g * np.sign(_plain(x))], lambda sp, x: sp.Abs(x),
          sympy_class="Abs", doc="|x|; its derivative at 0 is taken as 0.", screen=_carried,
          ufuncs=(np.absolute, np.fabs),
          interval=lambda ctx, x: abs(x),
          kink=lambda x: x == 0, kink_note="abs is not differentiable at 0",
          convention="the tape uses abs'(0) = 0, as PyTorch and TensorFlow do",
          sample=((0.2, 2.0),))
HYPOT = _fn("hypot", np.hypot, [_hypot_dx, _hypot_dy],
            lambda sp, x, y: sp.sqrt(x * x + y * y), doc="sqrt(x^2 + y^2).", commutative=True,
            kink=lambda x, y: (x == 0) & (y == 0),
            kink_note="hypot is not differentiable at (0, 0)",
            convention="the tape's rule gives 0/0 = nan there")
MIN = Primitive("min", None, lambda *a: functools.reduce(np.minimum, a),
                (_extremum_vjp,), lambda sp, *a: sp.Min(*a),
                spelling="min", kink=lambda *a: _ties(a, functools.reduce(np.minimum, a)) > 1,
                doc="The smallest argument, or the smallest component of a single vector; ties "
                "split the gradient evenly.", commutative=True, ufuncs=(np.minimum, np.fmin),
                sympy_class="Min", screen=_worst, interval=_interval_min,
                kink_note="min is not differentiable where arguments tie",
                convention=_TIE_CONVENTION)
MAX = Primitive("max", None, lambda *a: functools.reduce(np.maximum, a),
                (_extremum_vjp,), lambda sp, *a: sp.Max(*a),
                spelling="max", kink=lambda *a: _ties(a, functools.reduce(np.maximum, a)) > 1,
                doc="The largest argument, or the largest component of a single vector; ties "
                "split the gradient evenly.", commutative=True, ufuncs=(np.maximum, np.fmax),
                sympy_class="Max", screen=_worst, interval=_interval_max,
                kink_note="max is not differentiable where arguments tie",
                convention=_TIE_CONVENTION)
RELU = _fn("relu", lambda x: np.maximum(x, 0.0), [lambda g, ans, x: g * (x > 0)],
           lambda sp, x: sp.Max(0, x), doc="max(x, 0).", kink=lambda x: x == 0,
           kink_note="relu is not differentiable at 0", sample=((0.2, 2.0),),
           convention="the tape uses relu'(0) = 0, as PyTorch and TensorFlow do")


def _flat(g: Any, ans: Any, *args: Any) -> Any:
    """The rule of a piecewise-constant primitive: 0 wherever it is differentiable (zeros of
    the broadcast shape, never g*0, which is nan where g is inf)."""
    shapes = [np.shape(_plain(a)) for a in (g, *args)]
    return np.zeros(np.broadcast_shapes(*shapes))[()]


def _step_screen(out: Any, args: Sequence[Any], errs: Sequence[Any]) -> Any:
    """The screen of a step function of x (sign, floor): exact, unless x is within its own
    error of a jump."""
    x, ex = args[0], errs[0]
    return np.where(np.abs(x - np.round(x)) <= ex, np.inf, 0.0)


def _sign_screen(out: Any, args: Sequence[Any], errs: Sequence[Any]) -> Any:
    return np.where(np.abs(args[0]) <= errs[0], np.inf, 0.0)


def _floor_interval(ctx: Any, x: Any) -> Any:
    lo, hi = ctx.mp.floor(x.a), ctx.mp.floor(x.b)
    if x.a == x.b == lo:   # exactly at a jump: every value of both sides (its own: lo)
        return ctx.step(lo - 1, lo, own=lo)
    ctx.require(lo == hi and (x.b != hi or x.a == x.b), False)
    return ctx.iv.mpf(lo)


SIGN = _fn("sign", np.sign, [_flat], lambda sp, x: sp.sign(x), sympy_class="sign",
           interval=lambda ctx, x: ctx.sign(x), screen=_sign_screen,
           doc="-1, 0 or 1 as x is negative, 0 or positive; its derivative is 0 (where it exists).",
           kink=lambda x: x == 0, kink_note="sign jumps at 0",
           convention="the tape uses sign'(0) = 0, as numpy-based tools do")
# a helper of mod's derivative (not in the language; np.floor on a tensor stays a plain,
# piecewise-constant number): the largest whole number <= x, with a jump at each
FLOOR = Primitive("floor", 1, np.floor, (_flat,), lambda sp, x: sp.Floor(x), ufuncs=(),
                  sympy_class="floor", interval=_floor_interval, screen=_step_screen,
                  kink=lambda x: x == np.floor(x), kink_note="floor jumps at whole numbers",
                  sample=((0.1, 0.9),), doc="The largest whole number <= x.")


def _mod_interval(ctx: Any, x: Any, y: Any) -> Any:
    return x - y * _floor_interval(ctx, x / y)


def _mod_screen(out: Any, args: Sequence[Any], errs: Sequence[Any]) -> Any:
    # x - y*q with q = floor(x/y) exact, unless x/y is within its error of a whole number
    (x, y), (ex, ey) = args, errs
    z = x / y
    ez = (ex + np.abs(z) * ey) / np.abs(y)
    near = np.abs(z - np.round(z)) <= ez
    return np.where(near, np.inf, ex + np.abs(np.floor(z)) * ey + _OWN * np.abs(out))


def _mod_dy(g: Any, ans: Any, x: Any, y: Any) -> Any:
    # -floor(x/y), the quotient numpy's remainder subtracted (floor_divide is its pair), as
    # plain numbers: piecewise constant, no second derivative
    return -g * np.floor_divide(_plain(x), _plain(y))


MOD = _fn("mod", np.remainder, [lambda g, ans, x, y: g, _mod_dy], lambda sp, x, y: sp.mod(x, y),
          sympy_class="mod", symbol="%", interval=_mod_interval, screen=_mod_screen,
          doc="The remainder x - y*floor(x/y), with the sign of y (Python's x % y, np.mod); "
          "its derivatives are 1 and -floor(x/y).", domain=lambda x, y: y == 0,
          domain_note="mod(x, y) is not defined for y = 0",
          kink=lambda x, y: (y != 0) & (np.remainder(x, y) == 0),
          kink_note="mod jumps where x is a whole multiple of y",
          convention="the tape's rule takes the piece on which x/y is a whole number",
          sample=((0.1, 0.9), (1.0, 2.0)), guards=((1, "nonzero"),))

# ---------------------------------------------------------------- smooth activations


def _sigmoid(x: Any) -> Any:
    # by the sign of x: 1/(1+e^-x) for x >= 0, e^x/(1+e^x) below, so nothing cancels or
    # underflows before the result does (0.5 + 0.5*tanh(x/2) is 0 from x = -38 on)
    if np.iscomplexobj(x):  # the complex step (numeric.py): the analytic formula
        return 0.5 + 0.5 * np.tanh(0.5 * x)
    e = np.exp(-np.abs(x))
    return _scalar(np.where(x >= 0, 1.0, e) / (1.0 + e))


def _sigmoid_dx(g: Any, ans: Any, x: Any) -> Any:
    # sigmoid' = sigmoid(x)*sigmoid(-x): 1 - ans cancels to 0 for x > 37
    return g * ans * _call(SIGMOID, -x)


def _softplus(x: Any) -> Any:
    return np.logaddexp(0.0, x)  # max(x, 0) + log1p(exp(-|x|))


def _logaddexp_da(g: Any, ans: Any, a: Any, b: Any) -> Any:
    # exp(a - ans) = sigmoid(a - b), with the rounding error e of a - b put back to first order
    # (sigmoid' = sigmoid*sigmoid(-t)); halves, so that a - b cannot overflow
    d, e = _two_diff(0.5 * a, 0.5 * b)
    p, q = _call(SIGMOID, 2 * d), _call(SIGMOID, -2 * d)
    return g * (p + 2 * e * p * q)


def _logaddexp_db(g: Any, ans: Any, a: Any, b: Any) -> Any:
    return _logaddexp_da(g, ans, b, a)


SIGMOID = _fn("sigmoid", _sigmoid, [_sigmoid_dx],
              lambda sp, x: 1 / (1 + sp.exp(-x)), doc="1 / (1 + exp(-x)).", analytic=True)
SOFTPLUS = _fn("softplus", _softplus, [lambda g, ans, x: g * _call(SIGMOID, x)],
               lambda sp, x: sp.log(1 + sp.exp(x)), doc="log(1 + exp(x)).")
LOG_SIGMOID = _fn("log_sigmoid", lambda x: -_softplus(-x),
                  [lambda g, ans, x: g * _call(SIGMOID, -x)],
                  lambda sp, x: -sp.log(1 + sp.exp(-x)),
                  doc="log(sigmoid(x)) = -softplus(-x), finite for every finite x.")

# ---------------------------------------------------------------- stable building blocks
# What users need to write stable formulas themselves (numpy's accurate kernels).

EXPM1 = _fn("expm1", np.expm1, [lambda g, ans, x: g * np.exp(x)],
            lambda sp, x: sp.exp(x) - 1, doc="exp(x) - 1, accurate for x near 0.",
            analytic=True)
LOG1P = _fn("log1p", np.log1p, [lambda g, ans, x: g / (1 + x)],
            lambda sp, x: sp.log(1 + x), doc="log(1 + x), accurate for x near 0.",
            domain=lambda x: x <= -1,
            domain_note="log1p(x) is only defined for x > -1", sample=((-0.5, 2.0),),
            analytic=True,
           guards=((0, "above_minus_one"),))
LOGADDEXP = _fn("logaddexp", np.logaddexp, [_logaddexp_da, _logaddexp_db],
                lambda sp, a, b: sp.log(sp.exp(a) + sp.exp(b)), params=("a", "b"),
                doc="log(exp(a) + exp(b)), without overflow or underflow.", commutative=True)


def _sigmoid2(t: Any) -> Any:
    # 1/(1 + 2^-t) by the sign of t, as sigmoid: 2^-|t| never overflows (|t| as t times its
    # sign, a plain number: abs'(0) = 0 would make the derivative at t = 0 vanish)
    m = 1.0 * (_plain(t) >= 0)
    u = np.exp2(-(t * (2 * m - 1)))
    return (m + (1 - m) * u) / (1 + u)


def _logaddexp2_da(g: Any, ans: Any, a: Any, b: Any) -> Any:
    # 2^a/(2^a + 2^b) = 1/(1 + 2^(b-a)), in powers of 2 (exp of (a-b)*log(2) would multiply
    # that product's rounding by |a-b|); the rounding error e of a - b put back to first order,
    # halves so that a - b cannot overflow (as logaddexp)
    d, e = _two_diff(0.5 * a, 0.5 * b)
    p, q = _sigmoid2(2 * d), _sigmoid2(-2 * d)
    return g * (p + (2 * e * math.log(2.0)) * p * q)


def _logaddexp2_db(g: Any, ans: Any, a: Any, b: Any) -> Any:
    return _logaddexp2_da(g, ans, b, a)


LOGADDEXP2 = _fn("logaddexp2", np.logaddexp2, [_logaddexp2_da, _logaddexp2_db],
                 lambda sp, a, b: sp.log(sp.Integer(2) ** a + sp.Integer(2) ** b) / sp.log(2),
                 params=("a", "b"), commutative=True,
                 doc="log2(2^a + 2^b), without overflow or underflow.")

# ---------------------------------------------------------------- special functions

_MATH_ERF = np.vectorize(math.erf, otypes=[float])  # libm's erf, element by element


def _erf(x: Any) -> Any:
    return _scalar(_MATH_ERF(x))


def _gauss(x: Any) -> Any:
    # exp(-x^2) with x^2 = h + l split exactly (Dekker): exp(-h)*(1 - l), so that the rounding of
    # x*x (x^2/2 ulps of it) is not multiplied into the result; |x| capped at 40, where
    # exp(-x^2) is 0 anyway (and x * 2^27 + 1 cannot overflow)
    a = np.minimum(np.abs(x), 40.0)
    c = a * 134217729.0
    ah = c - (c - a)
    al = a - ah
    h = a * a
    lo = ((ah * ah - h) + 2 * ah * al) + al * al
    return np.exp(-h) * (1 - lo)


ERF = _fn("erf", _erf, [lambda g, ans, x: g * (2 / math.sqrt(math.pi)) * _gauss(x)],
          lambda sp, x: sp.erf(x), sympy_class="erf", mpmath=lambda m: m.erf, monotone="increasing",
          doc="The error function, 2/sqrt(pi) times the integral of exp(-t^2) from 0 to x.")


@functools.cache
def _special() -> Any:
    """scipy.special, imported on first use (start-up does without it)."""
    import scipy.special

    return scipy.special


def _gauss_inverse(a: Any) -> Any:
    # exp(a^2), with a^2 = h + l split exactly as in _gauss: exp(h)*(1 + l)
    c = a * 134217729.0
    ah = c - (c - a)
    al = a - ah
    h = a * a
    lo = ((ah * ah - h) + 2 * ah * al) + al * al
    return np.exp(h) * (1 + lo)


_HALF_SQRT_PI = math.sqrt(math.pi) / 2


def _erfinv_dx(g: Any, ans: Any, x: Any) -> Any:
    # sqrt(pi)/2 * exp(erfinv(x)^2). Near +-1 the exponent is about 35, so that erfinv's own
    # rounding is multiplied by 70: there the exponent is corrected by a Newton step on erfc,
    # which is accurate where erf rounds to 1 (1 - |x| is exact for |x| >= 1/2): erfinv(x) =
    # ans + delta, and exp((ans + delta)^2) = exp(ans^2)*(1 + 2*ans*delta) to first order.
    # delta is a plain number (about an ulp of ans): the recorded path gives the same numbers.
    e = _gauss_inverse(ans)
    xr = np.abs(_plain(x))
    far = xr >= 0.5
    if not np.any(far):
        return g * (_HALF_SQRT_PI * e)
    a = _plain(ans)
    r = np.abs(a)
    resid = _special().erfc(r) - (1 - xr)
    delta = np.where(far, resid * _HALF_SQRT_PI * _gauss_inverse(r) * np.sign(a), 0.0)
    return g * (_HALF_SQRT_PI * e * (1 + 2 * ans * _scalar(delta)))


def _between_poles(x: Any) -> Any:
    """Mask of the poles of gamma, lgamma and the polygammas: 0 and the negative integers."""
    return (x <= 0) & (x == np.floor(x))


def _mp_polygamma(m: Any, k: int, t: Any) -> Any:
    """mpmath's polygamma(k, t), by the reflection formula where t < 0 (mpmath's own recurrence
    there takes time proportional to |t|: seconds at t = -1e5): psi^(k)(t) = (-1)^k
    psi^(k)(1 - t) - pi^(k+1) P_k(cot(pi t)) (_cot_polynomial: k polynomial steps)."""
    if t >= 0:
        return m.polygamma(k, t)
    sin = m.sinpi(t)
    if not sin:
        return m.nan          # a pole (the domain guards keep the judge away from it)
    c = m.cospi(t) / sin
    poly = m.polyval(_cot_polynomial(k)[::-1], c)
    return (-1) ** k * m.polygamma(k, 1 - t) - m.pi ** (k + 1) * poly


def _mp_lgamma(m: Any) -> Any:
    return lambda t: m.loggamma(t) if t > 0 else m.log(abs(m.gamma(t)))


ERFC = _fn("erfc", lambda x: _special().erfc(x),
           [lambda g, ans, x: g * (-2 / math.sqrt(math.pi)) * _gauss(x)],
           lambda sp, x: sp.erfc(x), sympy_class="erfc", mpmath=lambda m: m.erfc,
           monotone="decreasing", doc="The complementary error function 1 - erf(x), accurate "
           "where erf(x) rounds to 1.")
ERFINV = _fn("erfinv", lambda x: _special().erfinv(x), [_erfinv_dx],
             lambda sp, x: sp.erfinv(x), sympy_class="erfinv", mpmath=lambda m: m.erfinv,
             monotone="increasing", doc="The inverse of erf, defined on (-1, 1).",
             domain=lambda x: np.abs(x) >= 1, domain_note="erfinv is only defined on (-1, 1)",
             sample=((-0.9, 0.9),), guards=((0, "open_unit"),))
def _lgamma(x: Any) -> Any:
    # scipy's gammaln overflows to inf below |x| = 1e-308, where gamma(x) = 1/x does; there
    # (and below 2^-60, where the next term -euler*x is below half an ulp) it is -log|x|
    tiny = np.abs(x) < 2.0 ** -60
    out = _special().gammaln(x)
    if np.any(tiny):
        out = _scalar(np.where(tiny, -np.log(np.abs(np.where(tiny, x, 1.0))), out))
    return out


LGAMMA = _fn("lgamma", _lgamma,
             [lambda g, ans, x: g * _call(DIGAMMA, x)], lambda sp, x: sp.lgamma(x),
             sympy_class="lgamma",
             interval=lambda ctx, x: ctx.by_slope(_mp_lgamma(ctx.mp), ctx.mp.digamma, x),
             doc="log|gamma(x)|, without overflow (scipy's gammaln); poles at 0 and the "
             "negative integers.", domain=_between_poles,
             domain_note="lgamma has poles at 0 and the negative integers",
             sample=((0.3, 4.0),), guards=((0, "gamma"),))
GAMMA = _fn("gamma", lambda x: _special().gamma(x),
            [lambda g, ans, x: g * (ans * _call(DIGAMMA, x))], lambda sp, x: sp.gamma(x),
            sympy_class="gamma",
            interval=lambda ctx, x: ctx.by_slope(
                ctx.mp.gamma, lambda t: ctx.mp.gamma(t) * ctx.mp.digamma(t), x),
            doc="The gamma function, (x-1)! at whole x; poles at 0 and the negative integers.",
            domain=_between_poles, domain_note="gamma has poles at 0 and the negative integers",
            sample=((0.3, 4.0),), guards=((0, "gamma"),))
DIGAMMA = _fn("digamma", lambda x: _special().psi(x),
              [lambda g, ans, x: g * _call(POLYGAMMA, 1.0, x)],
              lambda sp, x: sp.polygamma(0, x), mpmath=lambda m: m.digamma,
              monotone="increasing", doc="The derivative of lgamma, polygamma(0, x); poles at "
              "0 and the negative integers.", domain=_between_poles,
              domain_note="digamma has poles at 0 and the negative integers",
              sample=((0.3, 4.0),), guards=((0, "gamma"),))


def _polygamma(n: Any, x: Any) -> Any:
    # scipy's polygamma(n, x) is (-1)^(n+1) n! zeta(n+1, x), whose Hurwitz zeta loses bits for
    # large x (14 ulps at n = 4, x = 1.7e80): from x = 2^20 on, n >= 1, the asymptotic series
    # (-1)^(n+1) (n-1)!/x^n (1 + n/(2x) + n(n+1)/(12x^2)), whose next term is below 2^-80
    far = (x < -REFLECT_BELOW) & (n >= 1)
    if np.any(far):
        out = _special().polygamma(n, np.where(far, -0.5, x))
        return _scalar(np.where(far, _polygamma_reflected(n, x), _polygamma_positive(n, x, out)))
    return _polygamma_positive(n, x, _special().polygamma(n, x))


# scipy's polygamma at x < 0 shifts x up one step at a time (0.25 s at x = -1e6, tens of
# seconds at -1e8): below -REFLECT_BELOW it is taken by the reflection formula instead
REFLECT_BELOW = 2.0 ** 16


def _cot_polynomial(k: int) -> list[int]:
    """The coefficients (lowest power first) of P_k, with d^k/dt^k cot(pi t) = pi^k
    P_k(cot(pi t)): P_0(c) = c, P_(j+1)(c) = -(1 + c^2) P_j'(c)."""
    coeffs = [0, 1]
    for _ in range(k):
        deriv = [j * a for j, a in enumerate(coeffs)][1:]
        out = [0] * (len(deriv) + 2)
        for j, a in enumerate(deriv):
            out[j] -= a
            out[j + 2] -= a
        coeffs = out
    return coeffs


def _polygamma_reflected(n: Any, x: Any) -> Any:
    # psi^(n)(x) = (-1)^n psi^(n)(1 - x) - pi^(n+1) P_n(cot(pi x)), for x < 0; cot(pi x) from
    # x's exact distance to the nearest whole number (every float64 beyond 2^52 is a whole
    # number: a pole)
    n, x = np.broadcast_arrays(np.asarray(n, dtype=float), np.asarray(x, dtype=float))
    out = np.full(np.shape(x), np.nan)
    far = x < -REFLECT_BELOW
    for k in np.unique(n[far]).tolist():
        if k != int(k) or k < 0:
            continue
        pick = far & (n == k)
        xs = x[pick]
        r = xs - np.round(xs)            # exact, in [-1/2, 1/2]
        with np.errstate(all="ignore"):   # cot(pi r), by tan near +-1/2 where it is near 0
            c = np.where(np.abs(r) < 0.25, 1.0 / np.tan(np.pi * r),
                         np.tan(np.pi * (np.copysign(0.5, r) - r)))
            poly = np.polyval(np.asarray(_cot_polynomial(int(k))[::-1], dtype=float), c)
            value = (-1.0) ** k * _polygamma_positive(
                np.float64(k), 1.0 - xs, _special().polygamma(k, 1.0 - xs)) \
                - np.pi ** (k + 1) * poly
        out[pick] = np.where(r == 0, np.nan, value)
    return out


def _polygamma_positive(n: Any, x: Any, out: Any) -> Any:
    # scipy's value out, except from x = 2^20 on (n >= 1): the asymptotic series below
    big = (x >= 2.0 ** 20) & (n >= 1)
    if not np.any(big):
        return out
    nb = np.where(big, n, 1.0)
    xb = np.where(big, x, 2.0 ** 20)
    lead = _special().gamma(nb) * np.power(xb, -nb)
    series = lead * (1 + nb / (2 * xb) + nb * (nb + 1) / (12 * xb * xb))
    return _scalar(np.where(big, np.where(nb % 2 == 1, series, -series), out))


def _polygamma_screen(out: Any, args: Sequence[Any], errs: Sequence[Any]) -> Any:
    (n, x), (en, ex) = args, errs
    slope = np.abs(_polygamma(n + 1, x))
    return np.where(np.asarray(en) > 0, np.inf, slope * ex + _OWN * np.abs(out))


def _polygamma_interval(ctx: Any, n: Any, x: Any) -> Any:
    # psi^(m) > 0 everywhere for odd m (a sum of 1/(x+k)^(m+1)): so psi^(n) is increasing
    # between poles for even n, and for odd n its slope psi^(n+1) is, so that it changes sign
    # at most once there
    ctx.require(n.a == n.b, False)
    k = int(n.a)

    def fn(t: Any) -> Any:
        return _mp_polygamma(ctx.mp, k, t)

    if k % 2 == 0:
        return ctx.monotone(fn, x)
    return ctx.by_slope(fn, lambda t: _mp_polygamma(ctx.mp, k + 1, t), x)


POLYGAMMA = _fn("polygamma", _polygamma,
                [None, lambda g, ans, n, x: g * _call(POLYGAMMA, n + 1, x)],
                lambda sp, n, x: sp.polygamma(n, x), sympy_class="polygamma",
                interval=_polygamma_interval, screen=_polygamma_screen, params=("n", "x"),
                doc="The n-th derivative of digamma (n a whole number >= 0): polygamma(0, x) "
                "is digamma(x), polygamma(1, x) the trigamma function.",
                domain=lambda n, x: (n < 0) | (n != np.floor(n)) | _between_poles(x),
                domain_note="polygamma(n, x) needs a whole number n >= 0, and has poles at "
                "0 and the negative integers", sample=((1.0, 1.0), (0.3, 4.0)),
                guards=((0, "whole"), (1, "gamma")))

# ---------------------------------------------------------------- gradient control
# (softplus, log_sigmoid and logaddexp above are analytic in mathematics, but np.logaddexp
# refuses complex input, so the complex step does not go through them; numeric.py treats
# stop_gradient itself.)

STOP_GRADIENT = _fn("stop_gradient", lambda x: np.array(x, dtype=float, copy=True)
                    if np.ndim(x) else np.float64(x), [None],
                    lambda sp, x: sp.StopGradient(x),
                    doc="x's value, with no gradient flowing back through it.",
                    sympy_class="StopGradient", compiled=lambda x: x, screen=_carried,
                    interval=lambda ctx, x: x)

# ---------------------------------------------------------------- reductions over one vector
# Arguments are 1-D arrays (the evaluator refuses scalars); the SymPy counterparts receive
# tuples of components. Not batchable: a --points row stays scalar.


def _comps(x: Any) -> tuple[Any, ...]:
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _ones(x: Any) -> Any:
    return np.ones(np.shape(x))


def _prod_others(x: Any) -> Any:
    # the product of the other components, exact where some are zero (no division): the
    # running products from the left times those from the right
    x = np.asarray(x)
    if x.size == 0:  # an empty product's gradient has no components either
        return np.zeros(x.shape)
    left = np.concatenate(([1.0], np.cumprod(x[:-1])))
    right = np.concatenate((np.cumprod(x[::-1][:-1])[::-1], [1.0]))
    out = left * right
    fine = _normal_mask(left) & _normal_mask(right) | (out == 0) & np.all(np.isfinite(left))
    if np.all(np.isfinite(x)) and not np.all(fine):
        # a running product over- or underflowed (or met 0 after inf): each on its own
        out = np.array([_prod(np.delete(x, k)) for k in range(len(x))])
    return out


def _prod_others_vjp(g: Any, ans: Any, x: Any) -> Any:
    # component j: sum over i != j of g_i * (the product of all but x_i and x_j), in O(n) by
    # two running sums, with no division (so zeros are exact)
    if hasattr(g, "uid") or hasattr(x, "uid"):
        return _prod_others_vjp_recorded(g, x)
    g = np.broadcast_to(g, np.shape(x))
    n = len(x)
    if n == 0:
        return np.zeros(0)
    left = np.concatenate(([1.0], np.cumprod(x[:-1])))
    right = np.concatenate((np.cumprod(x[::-1][:-1])[::-1], [1.0]))
    after = np.zeros(n)  # sum over i > j of g_i * right_i * x_(j+1)...x_(i-1)
    before = np.zeros(n)  # sum over i < j of g_i * left_i * x_(i+1)...x_(j-1)
    for j in range(n - 2, -1, -1):
        after[j] = g[j + 1] * right[j + 1] + x[j + 1] * after[j + 1]
    for j in range(1, n):
        before[j] = g[j - 1] * left[j - 1] + x[j - 1] * before[j - 1]
    # after[n-1] and before[0] are empty sums: left out, even where the product beside is inf
    out = np.zeros(n)
    out[:-1] += left[:-1] * after[:-1]
    out[1:] += right[1:] * before[1:]
    return out


def _prod_others_vjp_recorded(g: Any, x: Any) -> Any:
    # third and higher derivatives: the same sums in the same order, as recorded scalar ops
    # (assembling the vector makes it quadratic in the length; only nested tapes beyond the
    # Hessian get here)
    n = np.shape(x)[0]
    xs = [_call(INDEX, x, np.float64(k)) for k in range(n)]
    gs = [_call(INDEX, g, np.float64(k)) if np.ndim(_plain(g)) else g
          for k in range(n)]
    left: list[Any] = [1.0] * n
    right: list[Any] = [1.0] * n
    for k in range(1, n):
        left[k] = xs[0] if k == 1 else left[k - 1] * xs[k - 1]
    for k in range(n - 2, -1, -1):
        right[k] = xs[n - 1] if k == n - 2 else right[k + 1] * xs[k + 1]
    after: list[Any] = [0.0] * n
    before: list[Any] = [0.0] * n
    for j in range(n - 2, -1, -1):
        after[j] = gs[j + 1] * right[j + 1] + xs[j + 1] * after[j + 1]
    for j in range(1, n):
        before[j] = gs[j - 1] * left[j - 1] + xs[j - 1] * before[j - 1]
    out: Any = np.zeros(n)
    for j in range(n):
        part: Any = 0.0
        if j < n - 1:
            part = part + left[j] * after[j]
        if j > 0:
            part = part + right[j] * before[j]
        out = out + (np.arange(n) == j) * part
    return out


def _prod(x: Any) -> Any:
    running = np.cumprod(x)
    out = running[-1] if np.size(x) else np.float64(1.0)
    if not np.all(np.isfinite(x)) or np.all(_normal_mask(running)):
        return out
    if np.any(x == 0):
        return np.float64(0.0)  # not inf*0 = nan: [1e300, 1e300, 0]
    # a running product overflowed or underflowed on the way: again, with the binary exponents
    # kept apart (the mantissas' products round as before)
    m, e = np.frexp(np.asarray(x, dtype=float))
    acc, exp = 1.0, 0
    for mk, ek in zip(m, e, strict=True):
        acc, k = np.frexp(acc * mk)
        exp += int(ek) + int(k)
    return np.ldexp(acc, exp)


def _norm_dx(g: Any, ans: Any, x: Any) -> Any:
    a = _plain(ans)
    if np.isinf(a) or 0 < a < 2.0 ** -1022:  # the norm over- or underflowed, x/norm does not
        c = np.ldexp(1.0, min(-np.frexp(np.max(np.abs(_plain(x))))[1], 1023))
        xc = x * c
        return g * (xc / _call(NORM, xc))
    return g * (x / ans)


def _norm(x: Any) -> Any:
    # scaled by a power of two near the largest component (exact), so squares neither
    # overflow nor underflow: sqrt(sum(x*x)) is 0 at [1e-200, 1e-200] and inf at [1e200, 1e200]
    m = np.max(np.abs(x)) if np.size(x) else 0.0
    if not (np.isfinite(m) and m > 0):
        return np.sqrt(np.sum(np.multiply(x, x)))
    k = np.frexp(m)[1]
    s = np.ldexp(x, -k)
    return np.ldexp(np.sqrt(np.sum(s * s)), k)


def _mean(x: Any) -> Any:
    out = np.mean(x)
    if np.isinf(out) and np.all(np.isfinite(x)):  # the sum overflowed, the mean need not
        out = np.sum(np.divide(x, np.shape(x)[0]))
    return out


def _arg_extremum_vjp(g: Any, ans: Any, x: Any) -> Any:
    hits = x == ans
    return g * hits / np.sum(hits)


def _red(name: str, forward, vjps, sympy, **kw) -> Primitive:
    return Primitive(name, len(vjps), forward, tuple(vjps), sympy,
                     spelling=kw.pop("spelling", name), reduction=True, **kw)


SUM = _red("sum", np.sum, [lambda g, ans, x: g * _ones(x)], lambda sp, x: sp.Add(*_comps(x)),
           doc="The sum of a vector's components.")
MEAN = _red("mean", _mean, [lambda g, ans, x: g * _ones(x) / np.shape(x)[0]],
            lambda sp, x: sp.Add(*_comps(x)) / len(_comps(x)),
            doc="The mean of a vector's components (of all components, for any other shape).")
PROD = _red("prod", _prod, [lambda g, ans, x: g * _call(PROD_OTHERS, x)],
            lambda sp, x: sp.Mul(*_comps(x)),
            doc="The product of a vector's components (of all components, for any other shape).")
# a helper of prod's rule (not in the language): component i is the product of the others, so
# that prod's gradient and its own derivatives are division-free on every path
PROD_OTHERS = _red("prod_others", _prod_others, [_prod_others_vjp],
                   lambda sp, x: tuple(sp.Mul(*(c for k, c in enumerate(_comps(x)) if k != i))
                                       for i in range(len(_comps(x)))), spelling=None)
DOT = _red("dot", lambda u, v: np.sum(np.multiply(u, v)),
           [lambda g, ans, u, v: g * v, lambda g, ans, u, v: g * u],
           lambda sp, u, v: sp.Add(*(a * b for a, b in zip(_comps(u), _comps(v), strict=True))),
           params=("u", "v"), doc="The dot product of two vectors of the same length (anything "
           "else is refused: matmul multiplies matrices).")
NORM = _red("norm", _norm, [_norm_dx],
            lambda sp, x: sp.sqrt(sp.Add(*(c * c for c in _comps(x)))),
            doc="The Euclidean norm of a vector.",
            kink=lambda x: np.all(x == 0),
            kink_note="norm is not differentiable at the zero vector")
MAX_OF = _red("max_of", np.max, [_arg_extremum_vjp], lambda sp, x: sp.Max(*_comps(x)),
              spelling="max", kink=lambda x: np.sum(x == np.max(x)) > 1,
              kink_note="max is not differentiable where components tie")
MIN_OF = _red("min_of", np.min, [_arg_extremum_vjp], lambda sp, x: sp.Min(*_comps(x)),
              spelling="min", kink=lambda x: np.sum(x == np.min(x)) > 1,
              kink_note="min is not differentiable where components tie")
# w[i]: the index is a constant argument (a whole number the parser checked); no gradient to it
INDEX = Primitive("index", 2, lambda x, i: x[int(i)],
                  (lambda g, ans, x, i: g * (np.arange(np.shape(x)[0]) == i), None),
                  lambda sp, x, i: _comps(x)[int(i)], symbol="[]", reduction=True)

# ---------------------------------------------------------------- the table

# (the matrix records, in ops_matrix.py, join the table when that module is imported, which
# the gradcalc package does first: ops_matrix imports this module, not the other way round)
PRIMITIVES: tuple[Primitive, ...] = (
    ADD, SUB, MUL, DIV, NEG, POW,
    SIN, COS, TAN, ASIN, ACOS, ATAN, ATAN2, SINC, DEG2RAD, RAD2DEG,
    SINH, COSH, TANH, ACOSH, ASINH, ATANH,
    EXP, EXP2, LOG, LOGB, LOG2, LOG10, SQRT, SQUARE, CBRT, RECIPROCAL,
    ABS, HYPOT, MIN, MAX, RELU, SIGN, FLOOR, MOD,
    SIGMOID, SOFTPLUS, LOG_SIGMOID,
    EXPM1, LOG1P, LOGADDEXP, LOGADDEXP2,
    ERF, ERFC, ERFINV, LGAMMA, GAMMA, DIGAMMA, POLYGAMMA,
    STOP_GRADIENT,
    SUM, MEAN, PROD, PROD_OTHERS, DOT, NORM, MAX_OF, MIN_OF, INDEX,
)
BY_NAME: dict[str, Primitive] = {p.name: p for p in PRIMITIVES}

# Binary operators of the expression language (unary minus is NEG).
BINARY: dict[str, Primitive] = {"+": ADD, "-": SUB, "*": MUL, "/": DIV, "%": MOD, "^": POW,
                                 "**": POW}

# Named constants: value and SymPy counterpart.
CONSTANTS: dict[str, tuple[float, Callable[[Any], Any]]] = {
    "pi": (float(np.pi), lambda sp: sp.pi),
    "e": (float(np.e), lambda sp: sp.E),
    "inf": (math.inf, lambda sp: sp.oo),  # norm's order only (the parser refuses it elsewhere)
}


def _spellings() -> dict[str, dict[int | None, Primitive]]:
    table: dict[str, dict[int | None, Primitive]] = {}
    for p in PRIMITIVES:
        if p.spelling is not None:
            table.setdefault(p.spelling, {})[p.arity] = p
    return table


FUNCTIONS: dict[str, dict[int | None, Primitive]] = _spellings()

# ---------------------------------------------------------------- registration and derived tables
# Tables other modules derive from the records (the Python API, the ufunc map, the compiled
# programs' evaluators, ...) are built on first use through derived() and dropped whenever the
# table changes, so a registered primitive is seen everywhere.

_DERIVED: dict[str, Any] = {}


def derived(key: str, build: Callable[[], Any]) -> Any:
    """The table `key` derived from the records, built by build() on first use after the
    primitive table last changed."""
    try:
        return _DERIVED[key]
    except KeyError:
        table = _DERIVED[key] = build()
        return table


def _changed() -> None:
    BY_NAME.clear()
    BY_NAME.update((p.name, p) for p in PRIMITIVES)
    FUNCTIONS.clear()
    FUNCTIONS.update(_spellings())
    _DERIVED.clear()


def register(prim: Primitive, *more: Primitive, operator: str | None = None) -> Primitive:
    """Add primitives to the table: the language (under their spellings, or as the binary
    `operator` for prim), the Python API, the tape, the check and every derived table see them
    from now on. Returns prim."""
    global PRIMITIVES
    names = set(BY_NAME)
    spelled = {(s, a) for s, by_arity in FUNCTIONS.items() for a in by_arity}
    for p in (prim, *more):  # all checked first, then the tables rebuilt once
        if p.name in names:
            raise ValueError(f"a primitive named {p.name!r} exists already")
        if p.spelling is not None and (p.spelling, p.arity) in spelled:
            raise ValueError(f"{p.spelling}() of {p.arity} arguments exists already")
        if operator in BINARY:
            raise ValueError(f"the operator {operator} exists already")
        names.add(p.name)
        spelled.add((p.spelling, p.arity))
    PRIMITIVES = (*PRIMITIVES, prim, *more)
    _changed()
    if operator is not None:
        BINARY[operator] = prim
    return prim


def unregister(name: str) -> None:
    """Remove the primitive called name from the table (and from every derived table)."""
    global PRIMITIVES
    if name not in BY_NAME:
        raise KeyError(name)
    PRIMITIVES = tuple(p for p in PRIMITIVES if p.name != name)
    for symbol in [k for k, p in BINARY.items() if p.name == name]:
        del BINARY[symbol]
    _changed()


def by_ufunc() -> dict[Any, Primitive]:
    """numpy ufunc -> the primitive it is on a value that carries derivatives (a recorded
    tensor, a Dual of the Hessian's tangents; see Primitive.numpy_ufuncs)."""
    return derived("ops.ufuncs", lambda: {u: p for p in PRIMITIVES for u in p.numpy_ufuncs()})


# numpy ufuncs that are piecewise constant (comparisons, tests, roundings): no derivative
# flows through them, so on a value that carries derivatives they give plain numbers
PIECEWISE_CONSTANT = frozenset({np.equal, np.not_equal, np.less, np.less_equal, np.greater,
                                np.greater_equal, np.isfinite, np.isnan, np.isinf, np.floor,
                                np.ceil})


def by_sympy_class() -> dict[str, Primitive]:
    """SymPy class name -> the primitive whose counterpart it is (see Primitive.sympy_class)."""
    return derived("ops.sympy_class", lambda: {p.sympy_class: p for p in PRIMITIVES
                                               if p.sympy_class is not None})


def arities(spelling: str) -> str:
    """Human description of the argument counts a function accepts, e.g. '1 or 2'."""
    counts = sorted(FUNCTIONS[spelling], key=lambda a: -1 if a is None else a)
    if None in counts:
        return "1 or more" if 1 in counts else "2 or more"
    return " or ".join(str(c) for c in counts)


def resolve(spelling: str, nargs: int) -> Primitive | None:
    """The primitive a call `spelling(...)` with nargs arguments means, or None if none fits."""
    by_arity = FUNCTIONS.get(spelling)
    if by_arity is None:
        return None
    if nargs in by_arity:
        return by_arity[nargs]
    if None in by_arity and nargs >= 2:
        return by_arity[None]
    return None
