"""The kinds of domain guard, one table: for each kind, its exact test on the endpoints of its
arguments' enclosures (the interval reference and the judge), its test on float64 values with
error bounds (the --points screen), and the message of a point outside it.

A guard is a condition a domain-restricted primitive leaves on its arguments (ops.Primitive.
guards, symbolic.convert.Guard): division's divisor is nonzero, log's argument positive, ...
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

Ends = tuple[Any, Any]   # an argument's enclosure: (lo, hi), exact numbers (mpmath or float)
Screened = tuple[np.ndarray, np.ndarray]   # float64 values and a bound on their error


@dataclass(frozen=True)
class GuardKind:
    """One kind of domain condition.

    holds(args): True if it holds for every value in the arguments' enclosures, False if it
    fails for every value, None if they straddle its edge (more precision may tell).
    screen(args): the rows where float64 values within their error bounds prove it holds.
    text: what a point outside it is told."""

    name: str
    holds: Callable[[Sequence[Ends]], bool | None]
    screen: Callable[[Sequence[Screened]], np.ndarray]
    text: str


def _decided(certain: bool, impossible: bool) -> bool | None:
    return True if certain else False if impossible else None


def _pow_holds(args: Sequence[Ends]) -> bool | None:
    # x^y is defined: x > 0; or x = 0 with y >= 0 (0^0 = 1; 0^y for y < 0 is a pole); or y a
    # whole number (x^-n needs x != 0)
    (lo, hi), (ylo, yhi) = args
    if lo > 0:
        return True
    if lo == 0 == hi:
        return _decided(ylo >= 0, yhi < 0)
    if ylo == yhi and ylo % 1 == 0:
        return True if ylo >= 0 or hi < 0 else None
    if hi < 0:
        return False if ylo == yhi else None
    return None


def _pow_screen(args: Sequence[Screened]) -> np.ndarray:
    (v, e), (y, ey) = args
    whole = (ey == 0) & (y == np.round(y)) & ((y >= 0) | (v + e < 0) | (v - e > 0))
    return (v - e > 0) | whole | ((v == 0) & (e == 0) & (y - ey >= 0))


def _whole(v: Any) -> bool:
    """Whether an exact number (mpmath or float) is a whole number."""
    return bool(abs(v) != float("inf") and v == int(v))


def _no_whole_within(lo: Any, hi: Any) -> bool:
    """Whether no whole number lies in [lo, hi] (finite ends)."""
    if not (_whole(lo) or abs(lo) == float("inf")) and abs(hi) != float("inf"):
        below = int(lo) - (1 if lo < 0 else 0)     # floor(lo), lo not whole
        return below + 1 > hi
    return False


def _gamma_holds(lo: Any, hi: Any) -> tuple[bool, bool]:
    # not a pole of gamma (0, -1, -2, ...)
    return lo > 0 or _no_whole_within(lo, hi), lo == hi and _whole(lo) and lo <= 0


def _whole_holds(lo: Any, hi: Any) -> tuple[bool, bool]:
    # an order of polygamma: a whole number >= 0
    return lo == hi and _whole(lo) and lo >= 0, hi < 0 or _no_whole_within(lo, hi)


def _one(test: Callable[[Any, Any], tuple[bool, bool]]) -> Callable[[Sequence[Ends]], Any]:
    return lambda args: _decided(*test(*args[0]))


def _screen_one(test: Callable[[Any, Any], Any]) -> Callable[[Sequence[Screened]], Any]:
    def screen(args: Sequence[Screened]) -> np.ndarray:
        v, e = args[0]
        with np.errstate(all="ignore"):
            return np.asarray(test(v, e), dtype=bool)
    return screen


KINDS: dict[str, GuardKind] = {k.name: k for k in (
    GuardKind("positive", _one(lambda lo, hi: (lo > 0, hi <= 0)),
              _screen_one(lambda v, e: v - e > 0), "the argument must be positive"),
    GuardKind("nonzero", _one(lambda lo, hi: (lo > 0 or hi < 0, lo == 0 == hi)),
              _screen_one(lambda v, e: np.abs(v) > e), "division by zero"),
    GuardKind("nonnegative", _one(lambda lo, hi: (lo >= 0, hi < 0)),
              _screen_one(lambda v, e: v - e >= 0), "the argument must not be negative"),
    GuardKind("unit", _one(lambda lo, hi: (lo >= -1 and hi <= 1, hi < -1 or lo > 1)),
              _screen_one(lambda v, e: (v - e >= -1) & (v + e <= 1)),
              "the argument must lie in [-1, 1]"),
    GuardKind("above_minus_one", _one(lambda lo, hi: (lo > -1, hi <= -1)),
              _screen_one(lambda v, e: v - e > -1), "the argument must be above -1"),
    GuardKind("base", _one(lambda lo, hi: (lo > 0 and (hi < 1 or lo > 1),
                                           hi <= 0 or lo == 1 == hi)),
              _screen_one(lambda v, e: (v - e > 0) & (np.abs(v - 1) > e)),
              "the base of log must be positive and not 1"),
    GuardKind("pow", _pow_holds, _pow_screen,
              "a negative number to a non-integer power is not real"),
    GuardKind("at_least_one", _one(lambda lo, hi: (lo >= 1, hi < 1)),
              _screen_one(lambda v, e: v - e >= 1), "the argument must be at least 1"),
    GuardKind("open_unit", _one(lambda lo, hi: (lo > -1 and hi < 1, hi <= -1 or lo >= 1)),
              _screen_one(lambda v, e: (v - e > -1) & (v + e < 1)),
              "the argument must lie strictly between -1 and 1"),
    GuardKind("gamma", _one(_gamma_holds),
              _screen_one(lambda v, e: (v - e > 0) | (np.ceil(v - e) > v + e)),
              "gamma, lgamma and the polygammas have poles at 0 and the negative integers"),
    GuardKind("whole", _one(_whole_holds),
              _screen_one(lambda v, e: (e == 0) & (v == np.round(v)) & (v >= 0)),
              "the order of polygamma must be a whole number >= 0"),
)}


def kind(name: str) -> GuardKind:
    """The guard kind called name (a ValueError names an unknown one)."""
    try:
        return KINDS[name]
    except KeyError:
        raise ValueError(f"unknown guard kind {name}") from None
