"""The reference values every verdict is judged against: a compiled symbolic program (see
compiled.py) evaluated at a point in interval arithmetic, so that each result is an enclosure
proven to contain the true value.

- The point is used exactly: a float64 binding is an exact binary rational, so `x - y` at x = y
  is exactly 0 (and `log(x - y)` is undefined there, not a large negative number).
- Precision is adaptive: the caller (verdict.py) re-evaluates at higher precision, along the
  ladder PRECISIONS, until its question (is the tape within tolerance?) is answered by the
  enclosure or the ladder ends.
- The work of one evaluation is bounded by its size, not by a clock: an intermediate beyond
  2^MAX_BITS in magnitude (1/x^4 at the smallest subnormal x is 2^4296) is enclosed as
  [2^HUGE_BITS, inf] (or its negative): beyond every float64, and small enough that no
  function is asked to reduce a larger argument (sin(2^(2^20)) needs a million bits of pi,
  exp(2^16384) 16,384 squarings at 24,000 bits; 9^9^9^9 would need more). Past the call's
  deadline it raises TimeoutError.
- `0^0 = 1`, as on the tape. Where a product's factors are powers (or the log) of one base
  that is exactly 0, they are taken together: x^a * x^b is x^(a+b) and x^a * log(x) is 0 for
  a > 0 - the values at x = 0 of SymPy's forms y*x^y/x and x^y*log(x) of the derivatives of
  x^y, which are undefined there factor by factor although the derivatives exist.
- A sign or Heaviside step whose argument is exactly 0 (a kink) gives the whole range of its
  values ([-1, 1] or [0, 1]), so a kink whose effect is multiplied away (`x*abs(x)` at 0)
  still gives a tight enclosure, and one that matters gives a wide one. Arguments exactly on
  a primitive's branch cut (atan2 at y = 0, x < 0) give its value there and flag the
  enclosure `cut`, so the judge can look for a jump.
- Outside a function's domain (log of a non-positive number, division by zero, ...) the result is
  UNDEFINED; where the enclosure of an argument straddles a domain edge it is UNRESOLVED (more
  precision may decide it).

Elementary functions that mpmath's interval context lacks are evaluated at each endpoint of a
monotone piece with mpmath at a higher precision and widened outward by a few units in the last
place: the enclosures are as sound as mpmath's own functions are accurate.
"""

from __future__ import annotations

import fractions
import functools
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .. import ops
from . import guards

PRECISIONS = (96, 192, 384, 768, 1536, 3072)   # bits, tried in turn (the precision ladder)
SIDED_PRECISIONS = (1400, 2800)                # for one-sided derivatives at x +- SIDE_STEP
SIDE_BITS = 1200                               # x +- 2^-1200 * max(1, |x|)
MAX_BITS = 1 << 12                             # magnitudes up to 2^4096 are kept exactly,
HUGE_BITS = 1100                               # larger ones enclosed as [2^1100, inf]


class _Flag:
    __slots__ = ("name",)

    def __init__(self, name: str):
        self.name = name

    def __repr__(self) -> str:
        return self.name


UNDEFINED = _Flag("UNDEFINED")     # outside the domain, for certain
UNRESOLVED = _Flag("UNRESOLVED")   # this precision cannot tell


@dataclass(frozen=True)
class Enclosure:
    """One reference value at one precision: an interval [lo, hi] (mpmath numbers, possibly
    infinite) that contains the true value, or a flag. kink: a step function met an argument that
    is exactly 0 on the way (the interval then covers every convention). cut: a primitive met
    arguments exactly on its branch cut (ops.Primitive.cut) on the way: the value is defined,
    but the function may jump along a direction that crosses the cut."""

    lo: Any = None
    hi: Any = None
    flag: _Flag | None = None
    kink: bool = False
    prec: int = 0
    cut: bool = False

    @property
    def undefined(self) -> bool:
        return self.flag is UNDEFINED

    @property
    def resolved(self) -> bool:
        return self.flag is not UNRESOLVED

    def mid(self) -> float:
        """The best float64 estimate of the value (nan if undefined or unresolved)."""
        if self.flag is not None:
            return float("nan")
        if self.lo == self.hi or float(self.lo) == float(self.hi):
            return float(self.lo)    # (also both beyond float64's range: inf)
        if abs(self.lo) == float("inf") or abs(self.hi) == float("inf"):
            return float(self.lo) if self.lo == self.hi else float("nan")
        return float((self.lo + self.hi) / 2)

    def width(self) -> Any:
        return self.hi - self.lo


def _mp() -> Any:
    import mpmath

    return mpmath


# ---------------------------------------------------------------- interval operations


class _Domain(Exception):
    """Raised inside an operation: the result is UNDEFINED (certain) or UNRESOLVED."""

    def __init__(self, flag: _Flag):
        self.flag = flag


# (asked of the raw endpoints, mpmath's normalized (sign, mantissa, exponent, bits) tuples:
# comparing the interval objects would convert both sides, the most frequent cost of a sweep)
_ZERO = (0, 0, 0, 0)      # mpmath's fzero
_NAN = (0, 0, -123, -1)   # mpmath's fnan


def _point(x: Any) -> bool:
    a, b = x._mpi_
    return a == b and a != _NAN


def _zero(x: Any) -> bool:
    a, b = x._mpi_
    return a == _ZERO and b == _ZERO


def _require(ok_certain: bool, bad_certain: bool) -> None:
    if ok_certain:
        return
    raise _Domain(UNDEFINED if bad_certain else UNRESOLVED)


class _Ops:
    """Interval versions of the program's ops at one precision."""

    def __init__(self, prec: int, own: bool = False):
        mpmath = _mp()
        self.own = own        # a step function at its jump takes its own value (sign(0) = 0)
        self.mp = mpmath.mp   # the global context: _mono sets its precision with workprec
        self.iv = mpmath.iv
        self.prec = prec
        self.kinks: set[int] = set()
        self.cuts: set[int] = set()

    # outward-rounded endpoint evaluation of a monotone function
    def _mono(self, f: Callable[[Any], Any], x: Any, increasing: bool = True) -> Any:
        mpmath = _mp()
        iv = self.iv
        a, b = (mpmath.mp.make_mpf(v) for v in x._mpi_)   # the endpoints, exactly
        with mpmath.workprec(self.prec + 24):   # every step here, the widening included
            lo, hi = f(a), f(b)
            if not increasing:
                lo, hi = hi, lo
            slack = mpmath.ldexp(1, -self.prec)
            lo = lo - abs(lo) * slack
            hi = hi + abs(hi) * slack
            return iv.mpf([lo, hi])

    def num(self, text: str) -> Any:
        f = fractions.Fraction(text)
        iv = self.iv
        return iv.mpf(f.numerator) / f.denominator

    def add(self, *a: Any) -> Any:
        out = a[0]
        for x in a[1:]:
            out = out + x
        return out

    def mul(self, *a: Any) -> Any:
        iv = self.iv
        out = a[0]
        for x in a[1:]:
            if _zero(out) or _zero(x):
                # 0 times anything finite is 0; 0 * inf keeps the interval code's answer
                other = x if _zero(out) else out
                if abs(other.a) != float("inf") and abs(other.b) != float("inf"):
                    out = iv.mpf(0)
                    continue
            out = out * x
        return out

    def pow(self, x: Any, y: Any) -> Any:
        iv = self.iv
        if _point(y) and y.a == int(y.a):
            n = int(y.a)
            if n == 0:
                return iv.mpf(1)          # x^0 = 1, and 0^0 = 1 as on the tape
            if n < 0:
                _require(x.a > 0 or x.b < 0, _zero(x))
            return x ** n
        if _zero(x):
            _require(y.a > 0, y.b <= 0)   # 0^y = 0 for y > 0; 0^y for y < 0 is a pole
            return iv.mpf(0)
        _require(x.a > 0, x.b < 0 and _point(y))
        return iv.power(x, y)

    def sign(self, x: Any) -> Any:
        iv = self.iv
        if x.a > 0:
            return iv.mpf(1)
        if x.b < 0:
            return iv.mpf(-1)
        if _zero(x):
            return self.step(-1, 1, own=0)
        raise _Domain(UNRESOLVED)

    def heaviside(self, x: Any, h0: Any = None) -> Any:
        iv = self.iv
        if x.a > 0:
            return iv.mpf(1)
        if x.b < 0:
            return iv.mpf(0)
        if _zero(x):
            return self.step(0, 1)
        raise _Domain(UNRESOLVED)

    def step(self, lo: Any, hi: Any, own: Any = None) -> Any:
        """A step function exactly at its jump: the whole range [lo, hi] of its values (or,
        evaluating the function's own value, its value there: own, if given), and the result
        marked as met at a kink."""
        self.kinks.add(self._current)
        if self.own and own is not None:
            return self.iv.mpf(own)
        return self.iv.mpf([lo, hi])

    def monotone(self, f: Callable[[Any], Any], x: Any, increasing: bool = True) -> Any:
        """The enclosure of f over x where f is monotone there (f of mpmath numbers, evaluated
        at the ends at a higher precision, widened outward)."""
        return self._mono(f, x, increasing)

    def by_slope(self, f: Callable[[Any], Any], slope: Callable[[Any], Any], x: Any) -> Any:
        """The enclosure of f over x where f's slope changes sign at most once on the piece
        that holds x (no pole in x: the record's guards say so): the slope's sign at both ends
        of x, if the same, says which way f is monotone; otherwise more precision is needed."""
        mpmath = _mp()
        with mpmath.workprec(self.prec + 24):
            a, b = (mpmath.mp.make_mpf(v) for v in x._mpi_)
            sa, sb = slope(a), slope(b)
        if sa >= 0 and sb >= 0:
            return self._mono(f, x)
        if sa <= 0 and sb <= 0:
            return self._mono(f, x, increasing=False)
        raise _Domain(UNRESOLVED)

    def diracdelta(self, x: Any) -> Any:
        # the derivative of a step: 0 away from its jump, no value at it
        _require(x.a > 0 or x.b < 0, _zero(x))
        return self.iv.mpf(0)

    _current = -1

    # what a primitive's record asks of the context (ops.Primitive.interval)
    def require(self, ok_certain: bool, bad_certain: bool) -> None:
        """Go on if ok_certain; else the result is UNDEFINED if bad_certain, UNRESOLVED if not."""
        _require(ok_certain, bad_certain)

    zero = staticmethod(_zero)

    def table(self) -> dict[str, Callable[..., Any]]:
        """Op name -> interval operation: SymPy's own forms, then every primitive with a SymPy
        class (from its record)."""
        out: dict[str, Callable[..., Any]] = {
            "add": self.add, "mul": self.mul, "pow": self.pow, "sign": self.sign,
            "heaviside": self.heaviside, "diracdelta": self.diracdelta,
        }
        for prim in ops.by_sympy_class().values():
            out[prim.name] = functools.partial(_primitive, self, prim)
        return out


def _primitive(ctx: _Ops, prim: ops.Primitive, *args: Any) -> Any:
    """A primitive's value over intervals, as its record says (ops.Primitive: guards, cut,
    interval, monotone, mpmath)."""
    for index, kind in prim.guards:
        holds = guards.kind(kind).holds
        for x in args if index is None else (args[index],):
            ok = holds([(x.a, x.b)])
            if not ok:
                raise _Domain(UNDEFINED if ok is False else UNRESOLVED)
    if prim.cut is not None and all(_point(x) for x in args) and prim.cut(*(x.a for x in args)):
        ctx.cuts.add(ctx._current)
    if prim.interval is not None:
        return prim.interval(ctx, *args)
    if prim.mpmath is None:   # nothing says how: no enclosure (test_op_record names it)
        raise _Domain(UNRESOLVED)
    if prim.monotone:
        fn = prim.mpmath(ctx.mp)
        (x,) = args
        if prim.monotone == "increasing":
            return ctx._mono(fn, x)
        if prim.monotone == "decreasing":
            return ctx._mono(fn, x, increasing=False)
        # "even": decreasing below 0, increasing above, least at 0
        if x.a >= 0:
            return ctx._mono(fn, x)
        if x.b <= 0:
            return ctx._mono(fn, x, increasing=False)
        top = ctx._mono(fn, ctx.iv.mpf(max(-x.a, x.b)))
        return ctx.iv.mpf([fn(0), top.b])
    out = prim.mpmath(ctx.iv)(*args)
    # a pole inside the interval (tan): more precision may move the ends off it
    _require(abs(out.a) != float("inf") and abs(out.b) != float("inf"), False)
    return out


# ---------------------------------------------------------------- evaluation


def evaluate(program: Sequence[Sequence[Any]], outputs: Sequence[int],
             point: Mapping[str, Any], prec: int, deadline: float | None = None,
             own: bool = False) -> list[Enclosure]:
    """Each output's enclosure at the point (values: floats or mpmath numbers, used exactly) at
    `prec` bits. Raises TimeoutError past the deadline (time.monotonic()). own: a step function
    exactly at its jump takes its own value (floor(2) = 2, sign(0) = 0) instead of the range of
    both sides: the function's value there, not a derivative's."""
    mpmath = _mp()
    iv = mpmath.iv
    saved = iv.prec
    iv.prec = prec
    try:
        ops = _Ops(prec, own)
        table = ops.table()
        interval = type(iv.mpf(0))
        regs: list[Any] = []
        kink: list[bool] = []
        cut: list[bool] = []
        need = _cone(program, outputs)
        for i, ins in enumerate(program):
            if deadline is not None and i & 63 == 0 and time.monotonic() > deadline:
                raise TimeoutError
            if not need[i]:   # not on the way to any output asked for
                regs.append(None)
                kink.append(False)
                cut.append(False)
                continue
            op = ins[0]
            k = c = False
            if op == "num":
                v = ops.num(ins[1])
            elif op == "sym":
                v = iv.mpf(point[ins[1]])
            elif op == "pi":
                v = iv.pi
            elif op == "e":
                v = iv.e
            else:
                args = [regs[a] for a in ins[1:]]
                k = any(kink[a] for a in ins[1:])
                c = any(cut[a] for a in ins[1:])
                if op == "mul" and any(a is UNDEFINED for a in args):
                    v = _zero_base(ops, program, ins, regs)
                elif any(a is UNDEFINED for a in args):
                    v = UNDEFINED
                elif any(a is UNRESOLVED for a in args):
                    v = UNRESOLVED
                else:
                    ops._current = i
                    try:
                        v = table[op](*args)
                    except _Domain as exc:
                        v = exc.flag
                    except (ArithmeticError, ValueError):
                        v = UNRESOLVED
                    if v is not UNDEFINED and v is not UNRESOLVED:
                        if not isinstance(v, interval):
                            v = UNDEFINED       # a complex value: not real here
                        elif _NAN in v._mpi_:
                            v = UNRESOLVED
                    k = k or i in ops.kinks
                    c = c or i in ops.cuts
            if v is not UNDEFINED and v is not UNRESOLVED:
                v = _bounded(v)
            regs.append(v)
            kink.append(k)
            cut.append(c)
        out: list[Enclosure] = []
        for o in outputs:
            v = regs[o]
            if v is UNDEFINED or v is UNRESOLVED:
                out.append(Enclosure(flag=v, kink=kink[o], prec=prec, cut=cut[o]))
            else:
                lo, hi = v._mpi_
                out.append(Enclosure(mpmath.mp.make_mpf(lo), mpmath.mp.make_mpf(hi),
                                     kink=kink[o], prec=prec, cut=cut[o]))
        return out
    finally:
        iv.prec = saved


def _bounded(v: Any) -> Any:
    """The interval, with an endpoint beyond 2^MAX_BITS in magnitude moved outward to
    2^HUGE_BITS or infinity (sound, and it keeps every later operation's work bounded)."""
    a, b = v._mpi_   # raw mpf tuples: (sign, mantissa, exponent, bit count)
    if not (a[1] and a[2] + a[3] > MAX_BITS) and not (b[1] and b[2] + b[3] > MAX_BITS):
        return v
    mpmath = _mp()
    lo, hi = mpmath.mp.make_mpf(a), mpmath.mp.make_mpf(b)
    big = mpmath.ldexp(1, HUGE_BITS)
    if a[1] and a[2] + a[3] > MAX_BITS:
        lo = big if lo > 0 else mpmath.mpf("-inf")
    if b[1] and b[2] + b[3] > MAX_BITS:
        hi = -big if hi < 0 else mpmath.mpf("inf")
    return mpmath.iv.mpf([lo, hi])


def _zero_base(ctx: _Ops, program: Sequence[Sequence[Any]], ins: Sequence[Any],
               regs: Sequence[Any]) -> Any:
    """A product with an undefined factor, where its factors that are powers or the log of one
    base that is exactly 0 can be taken together (see the module docstring): x^a * x^b =
    x^(a+b), and x^a * log(x) = 0 for a > 0. UNDEFINED otherwise."""
    iv = ctx.iv
    groups: dict[int, tuple[list[Any], int]] = {}   # base register -> exponents, logs
    rest: list[Any] = []
    for a in ins[1:]:
        source = program[a]
        base = exponent = None
        if source[0] == "pow" and regs[source[2]] not in (UNDEFINED, UNRESOLVED, None):
            base, exponent = source[1], regs[source[2]]
        elif source[0] == "log":
            base = source[1]
        if base is None or not _is_zero(regs[base]):
            rest.append(regs[a])
            continue
        exponents, logs = groups.get(base, ([], 0))
        if exponent is None:
            groups[base] = (exponents, logs + 1)
        else:
            groups[base] = (exponents + [exponent], logs)
    for exponents, logs in groups.values():
        if not exponents:
            return UNDEFINED     # a log of 0 with no power of 0 beside it
        total = exponents[0]
        for e in exponents[1:]:
            total = total + e
        if logs:
            if not total.a > 0:
                return UNDEFINED
            rest.append(iv.mpf(0))
        else:
            try:
                rest.append(ctx.pow(iv.mpf(0), total))
            except _Domain as exc:
                return exc.flag
    if any(r is UNDEFINED for r in rest):
        return UNDEFINED
    if any(r is UNRESOLVED for r in rest):
        return UNRESOLVED
    return ctx.mul(*rest) if len(rest) > 1 else rest[0]


def _is_zero(x: Any) -> bool:
    return x is not None and x is not UNDEFINED and x is not UNRESOLVED and _zero(x)


def _cone(program: Sequence[Sequence[Any]], outputs: Sequence[int]) -> list[bool]:
    """Which instructions the outputs depend on (a domain check needs only the guards'
    arguments, not the derivatives)."""
    need = [False] * len(program)
    for o in outputs:
        need[o] = True
    for i in range(len(program) - 1, -1, -1):
        ins = program[i]
        if need[i] and ins[0] not in ("num", "sym", "pi", "e"):
            for a in ins[1:]:
                need[a] = True
    return need


def side_point(point: Mapping[str, float], name: str, direction: int,
               bits: int = SIDE_BITS) -> dict[str, Any]:
    """The point moved along `name` by direction * 2^-bits * max(1, |x|), exactly."""
    mpmath = _mp()
    x = point[name]
    with mpmath.workprec(SIDED_PRECISIONS[0]):
        step = mpmath.ldexp(max(mpmath.mpf(1), abs(mpmath.mpf(x))), -bits)
        moved = mpmath.mpf(x) + direction * step
    out: dict[str, Any] = dict(point)
    out[name] = moved
    return out
