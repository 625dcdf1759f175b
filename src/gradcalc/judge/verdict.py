"""Every verdict: one definition of the true value, where it is undefined, the tolerance, and
which verdict wins. The modes (point check, batch rows, Hessian entries, Jacobian rows,
--expect, --numeric, claims) ask these functions; none restates them.

The true value is the exact derivative of the function the tape was given - every input and
every literal constant taken as the float64 number that stands for it - evaluated by
reference.py in interval arithmetic. A tape value t is judged against the enclosure [lo, hi]:

    ok        |t - v| <= rtol*|v| + floor  for every v in [lo, hi]   (or t is the float64
              nearest to every v in [lo, hi], e.g. an underflow to 0)
    mismatch  |t - v| >  rtol*|v| + floor  for every v in [lo, hi]
    (open)    neither yet: the precision is raised and the enclosure narrows

floor = max(atol, FLOOR_ULPS * eps * depth * magnitude), where magnitude is the sum of the
absolute values of all the terms the backward pass accumulated into that partial (the tape's
own rounding of a sum that cancels to about 0 is not blamed on it) and depth the length of the
tape's longest path. --atol raises the floor; --rtol sets the relative part.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..judge import reference
from ..judge.reference import Enclosure

DEFAULT_RTOL = 1e-9
DEFAULT_ATOL = 0.0
EPS = 2.0 ** -52
FLOOR_ULPS = 4.0


def floor(atol: float, magnitude: float, depth: int) -> float:
    """The absolute part of the tolerance of one partial (see the module docstring)."""
    m = FLOOR_ULPS * EPS * max(depth, 1) * magnitude
    return max(atol, m if math.isfinite(m) else 0.0)


def within(t: float, v: float, rtol: float, fl: float) -> bool:
    """|t - v| <= rtol*|v| + fl, for plain floats (infinities agree only with themselves)."""
    if math.isnan(t) or math.isnan(v):
        return False
    if math.isinf(t) or math.isinf(v):
        return t == v
    return abs(t - v) <= rtol * abs(v) + fl


def classify(t: Any, enc: Enclosure, rtol: float, fl: float) -> str:
    """ok, mismatch, undefined or open (more precision needed) for a tape value t (a float;
    None is not connected and never reaches here) against one enclosure."""
    if enc.flag is reference.UNDEFINED:
        return "undefined"
    if enc.flag is reference.UNRESOLVED:
        return "open"
    import mpmath

    lo, hi = enc.lo, enc.hi
    if mpmath.isinf(lo) or mpmath.isinf(hi):
        return "open"
    t = float(t)
    if float(lo) == t and float(hi) == t:
        return "ok"          # the float64 nearest to the true value (even 0 or inf)
    if not math.isfinite(t):
        return "mismatch"
    with mpmath.workprec(max(enc.prec, 64) + 16):
        tm = mpmath.mpf(t)

        def excess(v: Any) -> Any:
            return abs(tm - v) - rtol * abs(v) - fl

        corners = [lo, hi] + ([mpmath.mpf(0)] if lo < 0 < hi else [])
        if max(excess(v) for v in corners) <= 0:
            return "ok"
        inner = corners + ([tm] if lo < tm < hi else [])
        if min(excess(v) for v in inner) > 0:
            return "mismatch"
    return "open"


@dataclass
class Question:
    """One comparison to decide: the tape's value of output `output` (None: not connected)."""

    output: int
    tape: Any
    rtol: float
    floor: float
    side: tuple[str, ...] | None = None   # symbols to move along for one-sided derivatives
    labels: dict[str, str] = dataclasses.field(default_factory=dict)  # symbol -> w[0], in words


@dataclass
class Answer:
    """The decision on one Question.

    status: ok, mismatch or undefined; value: the best float64 reference (nan if undefined);
    certified: decided by a proven enclosure (False: by the midpoint after the budget or the
    precision ran out); reason: why, when not ok; prec: bits used."""

    status: str
    value: float
    certified: bool = True
    reason: str = ""
    prec: int = 0
    enclosure: Enclosure | None = None
    excess: float | None = None   # a mismatch: min |tape - v| - rtol*|v| over the enclosure


def decide(program: Any, outputs: Sequence[int], point: Mapping[str, float],
           questions: Sequence[Question], deadline: float | None = None) -> list[Answer]:
    """Answer every question, raising the precision of the reference until each is decided.

    A question whose enclosure stays wide because of a kink (a step function at exactly 0)
    is answered from the one-sided derivatives along its `side` symbol: if they agree the
    derivative exists and the tape is judged against it, otherwise it is undefined."""
    answers: list[Answer | None] = [None] * len(questions)
    last: list[Enclosure | None] = [None] * len(questions)

    def settled(a: Answer | None) -> bool:
        # a mismatch goes on narrowing its enclosure, so the true value it reports is right
        return a is not None and (a.status != "mismatch" or a.enclosure is None
                                  or tight(a.enclosure))

    for prec in reference.PRECISIONS:
        if all(settled(a) for a in answers):
            break
        if deadline is not None and time.monotonic() > deadline:
            break
        try:
            encs = reference.evaluate(program, outputs, point, prec, deadline)
        except TimeoutError:
            break
        for k, q in enumerate(questions):
            if settled(answers[k]):
                continue
            enc = encs[q.output]
            last[k] = enc
            if answers[k] is not None:        # a mismatch already: only the value narrows
                if enc.resolved and not enc.undefined and enc.width() <= \
                        answers[k].enclosure.width():  # type: ignore[union-attr]
                    answers[k] = Answer("mismatch", enc.mid(), True, "", prec, enc)
                continue
            verdict = classify(q.tape, enc, q.rtol, q.floor)
            if verdict != "open":
                answers[k] = Answer(verdict, enc.mid(), True, "", prec, enc)
    for k, q in enumerate(questions):
        a = answers[k]
        if a is not None:
            if a.status == "mismatch" and a.enclosure is not None:
                answers[k] = dataclasses.replace(a, excess=_excess(q, a.enclosure))
            continue
        enc = last[k]
        if enc is not None and enc.kink and q.side is not None:
            answers[k] = _sided(program, outputs, point, q, deadline)
            continue
        answers[k] = _fallback(q, enc)
    return [a for a in answers if a is not None]


def _excess(q: Question, enc: Enclosure) -> float:
    """How far the tape is beyond the relative tolerance, at the nearest value of the
    enclosure: a mismatch stays one for every floor below this."""
    import mpmath

    t = float(q.tape)
    if not math.isfinite(t):
        return math.inf
    with mpmath.workprec(max(enc.prec, 64) + 16):
        tm = mpmath.mpf(t)
        inner = [enc.lo, enc.hi] + ([mpmath.mpf(0)] if enc.lo < 0 < enc.hi else []) + \
            ([tm] if enc.lo < tm < enc.hi else [])
        return float(min(abs(tm - v) - q.rtol * abs(v) for v in inner))


def _fallback(q: Question, enc: Enclosure | None) -> Answer:
    """The budget or the precision ran out: decide by the midpoint, and say so."""
    if enc is None:
        return Answer("skipped", math.nan, False, "symbolic check over budget")
    if enc.flag is reference.UNRESOLVED:
        return Answer("undefined", math.nan, False, "the true value could not be resolved "
                      f"at {enc.prec} bits (at or next to a domain edge)", enc.prec, enc)
    v = enc.mid()
    if math.isnan(v):
        return Answer("undefined", v, False, "the true value could not be resolved "
                      f"at {enc.prec} bits", enc.prec, enc)
    ok = q.tape is not None and within(float(q.tape), v, q.rtol, q.floor)
    return Answer("ok" if ok else "mismatch", v, False,
                  f"not certified: the reference's enclosure at {enc.prec} bits is wider than "
                  "the tolerance", enc.prec, enc)


def _sided(program: Any, outputs: Sequence[int], point: Mapping[str, float], q: Question,
           deadline: float | None) -> Answer:
    """The derivative at a kink from its one-sided values along each symbol of q.side: it
    exists when, along every direction that resolves the kink, the two sides agree."""
    assert q.side is not None
    found: Enclosure | None = None
    prec = 0
    for name in q.side:
        along = q.labels.get(name, name)
        sides: list[Enclosure] = []
        for direction in (-1, 1):
            moved = reference.side_point(point, name, direction)
            enc: Enclosure | None = None
            for prec in reference.SIDED_PRECISIONS:
                try:
                    enc = reference.evaluate(program, [outputs[q.output]], moved, prec,
                                             deadline)[0]
                except TimeoutError:
                    return Answer("skipped", math.nan, False, "symbolic check over budget")
                if enc.resolved and not enc.undefined and tight(enc):
                    break
            assert enc is not None
            sides.append(enc)
        left, right = sides
        if left.undefined or right.undefined:
            side = "left" if left.undefined else "right"
            return Answer("undefined", math.nan, True, "the function is not differentiable "
                          f"here: it is not defined on the {side} along {along}", prec)
        if not (tight(left) and tight(right)):
            continue      # this direction does not cross the kink
        lv, rv = left.mid(), right.mid()
        if not within(lv, rv, q.rtol, q.floor) or not within(rv, lv, q.rtol, q.floor):
            return Answer("undefined", math.nan, True, f"one-sided derivatives differ along "
                          f"{along}: {lv:.6g} from the left, {rv:.6g} from the right",
                          prec)
        found = Enclosure(min(left.lo, right.lo), max(left.hi, right.hi), prec=prec)
    if found is None:
        return Answer("undefined", math.nan, False, "at a kink that no one-sided derivative "
                      "resolves", prec)
    value = found.mid()
    verdict = classify(q.tape, found, q.rtol, q.floor)
    if verdict == "open":
        verdict = "ok" if within(float(q.tape), value, q.rtol, q.floor) else "mismatch"
    return Answer(verdict, value, True, "a kink whose one-sided derivatives agree "
                  f"({value:.6g} on both sides)", prec, found)


def tight(enc: Enclosure) -> bool:
    """Whether an enclosure pins its value to about 60 bits (finite)."""
    import mpmath

    if mpmath.isinf(enc.lo) or mpmath.isinf(enc.hi):
        return False
    return enc.hi - enc.lo <= abs(enc.hi) * mpmath.mpf(2) ** -60


def guard_holds(kind: str, encs: Sequence[Enclosure]) -> bool | None:
    """Whether a domain condition holds at the point: True, False, or None (cannot tell).
    kind: positive (> 0), nonzero, nonnegative (>= 0), unit ([-1, 1]), above_minus_one
    (> -1), base (positive and not 1), pow (x^y is real: x > 0, x = 0 with y >= 0, or y
    a whole number), at_least_one (>= 1), open_unit ((-1, 1)), gamma (not a pole of gamma: 0
    or a negative whole number) or whole (a whole number >= 0)."""
    if any(e.flag is reference.UNDEFINED for e in encs):
        return False
    if any(e.flag is not None for e in encs):
        return None
    x = encs[0]
    lo, hi = x.lo, x.hi
    if kind == "positive":
        return True if lo > 0 else False if hi <= 0 else None
    if kind == "nonzero":
        return True if lo > 0 or hi < 0 else False if lo == 0 == hi else None
    if kind == "nonnegative":
        return True if lo >= 0 else False if hi < 0 else None
    if kind == "unit":
        return True if lo >= -1 and hi <= 1 else False if hi < -1 or lo > 1 else None
    if kind == "above_minus_one":
        return True if lo > -1 else False if hi <= -1 else None
    if kind == "at_least_one":
        return True if lo >= 1 else False if hi < 1 else None
    if kind == "open_unit":
        return True if lo > -1 and hi < 1 else False if hi <= -1 or lo >= 1 else None
    if kind in ("gamma", "whole"):
        import mpmath

        whole = lo == hi and lo == int(lo)
        no_whole_inside = mpmath.ceil(lo) > hi
        if kind == "gamma":
            return True if lo > 0 or no_whole_inside else False if whole and lo <= 0 else None
        return True if whole and lo >= 0 else False if hi < 0 or no_whole_inside else None
    if kind == "base":
        if hi <= 0 or (lo == 1 == hi):
            return False
        return True if lo > 0 and (hi < 1 or lo > 1) else None
    if kind == "pow":
        y = encs[1]
        if lo > 0:
            return True
        if y.lo == y.hi and y.lo == int(y.lo):
            return True if y.lo >= 0 or lo > 0 or hi < 0 else None
        if lo == 0 == hi:
            return True if y.lo >= 0 else False if y.hi < 0 else None
        if hi < 0:
            return False if y.lo == y.hi else None
        return None
    raise ValueError(f"unknown guard kind {kind}")


@dataclass(frozen=True)
class DomainFailure:
    """The first domain condition that fails at the point (certain: proven; otherwise it could
    not be decided at any precision)."""

    kind: str
    op: str
    start: int | None
    end: int | None
    certain: bool = True


def domain(program: Any, outputs: Sequence[int], guards: Sequence[Sequence[Any]],
           first: int, point: Mapping[str, Any], deadline: float | None = None
           ) -> DomainFailure | None:
    """The first guard (kind, op, start, end, argument count; its argument outputs start at
    outputs[first]) that fails at the point, or None when every one holds."""
    if not guards:
        return None
    spans: list[tuple[int, int]] = []
    k = first
    for g in guards:
        spans.append((k, k + g[4]))
        k += g[4]
    wanted = [outputs[i] for i in range(first, k)]
    undecided: list[int] = list(range(len(guards)))
    for prec in reference.PRECISIONS:
        try:
            encs = reference.evaluate(program, wanted, point, prec, deadline)
        except TimeoutError:
            break
        still: list[int] = []
        for j in undecided:
            lo, hi = spans[j]
            holds = guard_holds(guards[j][0], encs[lo - first:hi - first])
            if holds is False:
                g = guards[j]
                return DomainFailure(g[0], g[1], g[2], g[3], True)
            if holds is None:
                still.append(j)
        undecided = still
        if not undecided:
            return None
    g = guards[undecided[0]]
    return DomainFailure(g[0], g[1], g[2], g[3], False)


def judge_point(program: Any, outputs: Sequence[int], guards: Sequence[Sequence[Any]],
                first_guard: int, point: Mapping[str, Any], questions: Sequence[Question],
                deadline: float | None = None) -> tuple[DomainFailure | None, list[Answer]]:
    """The domain at the point, then (inside it) the answer to every question."""
    failure = domain(program, outputs, guards, first_guard, point, deadline)
    if failure is not None:
        return failure, []
    return None, decide(program, outputs, point, questions, deadline)


GUARD_TEXT = {
    "positive": "the argument must be positive",
    "nonzero": "division by zero",
    "nonnegative": "the argument must not be negative",
    "unit": "the argument must lie in [-1, 1]",
    "above_minus_one": "the argument must be above -1",
    "base": "the base of log must be positive and not 1",
    "pow": "a negative number to a non-integer power is not real",
    "at_least_one": "the argument must be at least 1",
    "open_unit": "the argument must lie strictly between -1 and 1",
    "gamma": "gamma, lgamma and the polygammas have poles at 0 and the negative integers",
    "whole": "the order of polygamma must be a whole number >= 0",
}


def status_of(statuses: Iterable[str]) -> str:
    """The status of a set of verdicts (partials, entries, the value): mismatch if any;
    undecided if any; ok when every one is ok, cut, null or skipped (not sampled); otherwise
    undefined (something could not be checked because it is not defined there)."""
    seen = set(statuses)
    if "mismatch" in seen:
        return "mismatch"
    if "undecided" in seen:
        return "undecided"
    if seen <= {"ok", "cut", "null", "skipped"}:
        return "ok" if seen - {"skipped"} else "skipped"
    return "undefined"


def exit_status(mismatch: bool, undecided: bool, nonfinite: bool) -> int:
    """The process's exit status: 1 for a disagreement or an undecided claim, else 3 for a
    non-finite value or partial, else 0."""
    if mismatch or undecided:
        return 1
    return 3 if nonfinite else 0
