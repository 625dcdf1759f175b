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

Statuses are one Enum (Status, the same words as the output), combined into a check's overall
status by `combine` and into the process's exit status by `exit_status`, each in one place.
Questions and answers are matched by the asker's own key, never by position.
"""

from __future__ import annotations

import dataclasses
import enum
import math
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..judge import guards, reference
from ..judge.reference import Enclosure

DEFAULT_RTOL = 1e-9
DEFAULT_ATOL = 0.0
EPS = 2.0 ** -52
FLOOR_ULPS = 4.0


class Status(str, enum.Enum):
    """Every verdict's word, as the output spells it. Partials, Hessian entries, batch rows and
    whole checks: ok, cut, null (verified), mismatch, undefined, skipped; claims: proved,
    equal (verified), differs, undecided, skipped."""

    OK = "ok"
    CUT = "cut"
    NULL = "null"
    MISMATCH = "mismatch"
    UNDEFINED = "undefined"
    SKIPPED = "skipped"
    UNDECIDED = "undecided"
    PROVED = "proved"
    EQUAL = "equal"
    DIFFERS = "differs"

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)


VERIFIED = frozenset({Status.OK, Status.CUT, Status.NULL, Status.PROVED, Status.EQUAL})
# combine: the first of these found wins; otherwise everything was verified
_PRECEDENCE = ((Status.MISMATCH, Status.DIFFERS), (Status.UNDECIDED,), (Status.UNDEFINED,),
               (Status.SKIPPED,))
_OVERALL = {Status.DIFFERS: Status.MISMATCH}


def combine(statuses: Iterable[str]) -> Status:
    """The status of a set of verdicts (partials, entries, rows, claims, the value, whole
    checks): mismatch if any disagrees, else undecided, else undefined, else skipped if any
    was not verified; ok when every one is verified (ok, cut, null, proved, equal). Nothing at
    all is skipped."""
    seen = {Status(s) for s in statuses}
    if not seen:
        return Status.SKIPPED
    for group in _PRECEDENCE:
        for status in group:
            if status in seen:
                return _OVERALL.get(status, status)
    return Status.OK


def exit_status(statuses: Iterable[str], nonfinite: bool, *, uncertified: bool = False,
                strict: bool = False) -> int:
    """The process's exit status from the statuses of every check that ran: 1 if one
    disagrees; else 3 if a value or partial is not finite; else 4 if something was not
    verified (undefined, skipped, undecided; with strict also a verdict that is not
    certified); else 0."""
    seen = {Status(s) for s in statuses}
    if Status.MISMATCH in seen or Status.DIFFERS in seen:
        return 1
    if nonfinite:
        return 3
    if seen - VERIFIED or (strict and uncertified):
        return 4
    return 0


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


def classify(t: Any, enc: Enclosure, rtol: float, fl: float) -> Status | None:
    """ok, mismatch, undefined or None (open: more precision needed) for a tape value t (a
    float; None is not connected and never reaches here) against one enclosure."""
    if enc.flag is reference.UNDEFINED:
        return Status.UNDEFINED
    if enc.flag is reference.UNRESOLVED:
        return None
    import mpmath

    lo, hi = enc.lo, enc.hi
    t = float(t)
    if float(lo) == t and float(hi) == t:
        return Status.OK     # the float64 nearest to the true value (even 0 or inf)
    if mpmath.isinf(lo) or mpmath.isinf(hi):
        return None
    if not math.isfinite(t):
        return Status.MISMATCH
    with mpmath.workprec(max(enc.prec, 64) + 16):
        tm = mpmath.mpf(t)

        def excess(v: Any) -> Any:
            return abs(tm - v) - rtol * abs(v) - fl

        corners = [lo, hi] + ([mpmath.mpf(0)] if lo < 0 < hi else [])
        if max(excess(v) for v in corners) <= 0:
            return Status.OK
        inner = corners + ([tm] if lo < tm < hi else [])
        if min(excess(v) for v in inner) > 0:
            return Status.MISMATCH
    return None


@dataclass
class Question:
    """One comparison to decide, named by the asker's key: the tape's value of output
    `output` (None: not connected)."""

    key: Hashable
    output: int
    tape: Any
    rtol: float
    floor: float
    side: tuple[str, ...] | None = None   # symbols to move along for one-sided derivatives
    labels: dict[str, str] = dataclasses.field(default_factory=dict)  # symbol -> w[0], in words
    limit: bool = True   # first order: a form undefined here may be judged by its limit (_limit)


@dataclass
class Answer:
    """The decision on one Question.

    status: ok, mismatch or undefined; value: the best float64 reference (nan if undefined);
    certified: decided by a proven enclosure (False: by the midpoint once every precision of
    the ladder was tried); reason: why, when not ok; prec: bits used."""

    status: Status
    value: float
    certified: bool = True
    reason: str = ""
    prec: int = 0
    enclosure: Enclosure | None = None
    excess: float | None = None   # a mismatch: min |tape - v| - rtol*|v| over the enclosure


Answers = dict[Hashable, Answer]   # by the key of the question each answers


def decide(program: Any, outputs: Sequence[int], point: Mapping[str, float],
           questions: Sequence[Question], deadline: float | None = None) -> Answers:
    """Answer every question, raising the precision of the reference along the ladder
    (reference.PRECISIONS) until each is decided. Raises TimeoutError past the deadline.

    A question whose enclosure stays wide because of a kink (a step function at exactly 0)
    is answered from the one-sided derivatives along its `side` symbol: if they agree the
    derivative exists and the tape is judged against it, otherwise it is undefined. Where the
    function itself (output 0) sits on a branch cut, a side along which it jumps makes the
    question undefined; so does one along which it jumps where a step function in it (sign,
    mod's floor) sits exactly at its jump. Where a question's form has no value at the point
    but the function has, the derivative is its limit, when that exists (_limit)."""
    answers: dict[Hashable, Answer] = {}
    last: dict[Hashable, Enclosure] = {}
    cut = False          # the function may jump here: on a branch cut, or a step at its jump
    value: Enclosure | None = None

    def settled(q: Question) -> bool:
        # a mismatch goes on narrowing its enclosure, so the true value it reports is right
        a = answers.get(q.key)
        return a is not None and (a.status != Status.MISMATCH or a.enclosure is None
                                  or tight(a.enclosure))

    for prec in reference.PRECISIONS:
        if all(settled(q) for q in questions):
            break
        encs = reference.evaluate(program, outputs, point, prec, deadline)
        cut = cut or encs[0].cut or encs[0].kink
        value = encs[0]
        for q in questions:
            if settled(q):
                continue
            enc = encs[q.output]
            last[q.key] = enc
            known = answers.get(q.key)
            if known is not None:        # a mismatch already: only the value narrows
                if enc.resolved and not enc.undefined and enc.width() <= \
                        known.enclosure.width():  # type: ignore[union-attr]
                    answers[q.key] = Answer(Status.MISMATCH, enc.mid(), True, "", prec, enc)
                continue
            verdict = classify(q.tape, enc, q.rtol, q.floor)
            if verdict is not None:
                answers[q.key] = Answer(verdict, enc.mid(), True, "", prec, enc)
    jumps: dict[str, Answer | None] = {}
    for q in questions:
        if cut and q.side is not None:
            jumped = _jumped(program, outputs, point, q, jumps, deadline)
            if jumped is not None:
                answers[q.key] = jumped
                continue
        a = answers.get(q.key)
        if a is not None and a.enclosure is not None and a.enclosure.undefined \
                and q.side is not None and q.limit and q.output != 0 and value is not None \
                and value.resolved and not value.undefined and (tight(value) or value.kink):
            a = _limit(program, outputs, point, q, deadline) or a   # (a kink: no jump, above)
            answers[q.key] = a
        if a is not None:
            if a.status == Status.MISMATCH and a.enclosure is not None:
                answers[q.key] = dataclasses.replace(a, excess=_excess(q, a.enclosure))
            continue
        enc = last.get(q.key)
        assert enc is not None   # the first precision always evaluates (or times out)
        if enc.kink and q.output == 0:   # the function's own value at a step's jump
            own = reference.evaluate(program, [outputs[0]], point, enc.prec, deadline,
                                     own=True)[0]
            verdict = classify(q.tape, own, q.rtol, q.floor) if tight(own) else None
            if verdict is not None:
                answers[q.key] = Answer(verdict, own.mid(), True, "", enc.prec, own)
                continue
        if enc.kink and q.side is not None:
            answers[q.key] = _sided(program, outputs, point, q, deadline)
            continue
        answers[q.key] = _fallback(q, enc)
    return answers


def refloor(answers: Answers, floors: Mapping[Hashable, float]) -> Answers:
    """The answers with each mismatch judged again with its question's full floor (the
    questions were asked with a lower one): a mismatch whose excess over the relative
    tolerance is within the floor is ok (the tape's own rounding of a sum that cancels)."""
    out: dict[Hashable, Answer] = {}
    for key, a in answers.items():
        fl = floors.get(key)
        if a.status == Status.MISMATCH and a.excess is not None and fl is not None \
                and a.excess <= fl:
            a = dataclasses.replace(a, status=Status.OK)
        out[key] = a
    return out


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


def _fallback(q: Question, enc: Enclosure) -> Answer:
    """Every precision of the ladder was tried: decide by the midpoint, and say so."""
    if enc.flag is reference.UNRESOLVED:
        return Answer(Status.UNDEFINED, math.nan, False, "the true value could not be "
                      f"resolved at {enc.prec} bits (at or next to a domain edge)", enc.prec, enc)
    v = enc.mid()
    if math.isnan(v):
        return Answer(Status.UNDEFINED, v, False, "the true value could not be resolved "
                      f"at {enc.prec} bits", enc.prec, enc)
    ok = q.tape is not None and within(float(q.tape), v, q.rtol, q.floor)
    return Answer(Status.OK if ok else Status.MISMATCH, v, False,
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
                enc = reference.evaluate(program, [outputs[q.output]], moved, prec,
                                         deadline)[0]
                if enc.resolved and not enc.undefined and tight(enc):
                    break
            assert enc is not None
            sides.append(enc)
        left, right = sides
        if left.undefined or right.undefined:
            side = "left" if left.undefined else "right"
            return Answer(Status.UNDEFINED, math.nan, True, "the function is not "
                          f"differentiable here: it is not defined on the {side} along {along}",
                          prec)
        if not (tight(left) and tight(right)):
            continue      # this direction does not cross the kink
        lv, rv = left.mid(), right.mid()
        if not within(lv, rv, q.rtol, q.floor) or not within(rv, lv, q.rtol, q.floor):
            return Answer(Status.UNDEFINED, math.nan, True, f"one-sided derivatives differ "
                          f"along {along}: {lv:.6g} from the left, {rv:.6g} from the right",
                          prec)
        found = Enclosure(min(left.lo, right.lo), max(left.hi, right.hi), prec=prec)
    if found is None:
        return Answer(Status.UNDEFINED, math.nan, False, "at a kink that no one-sided "
                      "derivative resolves", prec)
    value = found.mid()
    verdict = classify(q.tape, found, q.rtol, q.floor)
    if verdict is None:
        verdict = Status.OK if within(float(q.tape), value, q.rtol, q.floor) \
            else Status.MISMATCH
    return Answer(verdict, value, True, "a kink whose one-sided derivatives agree "
                  f"({value:.6g} on both sides)", prec, found)


def _limit(program: Any, outputs: Sequence[int], point: Mapping[str, float], q: Question,
           deadline: float | None) -> Answer | None:
    """The derivative where its form has no value but the function has one (sinc's
    cos(x)/x - sin(x)/x^2 at 0): the limit of the form along each symbol of q.side, when it
    exists. The form is evaluated on both sides at three steps 2^-LIMIT_BITS[k] * max(1, |x|);
    it converges when each side's change between the two shorter steps is below JUMP_RATIO
    times its change between the two longer ones (an analytic form changes about 2^-400
    times as much; a pole or a logarithm does not converge so), and both sides agree. Then f is
    differentiable there with that derivative (the derivative limit theorem), f being
    continuous there: its value is tight (or a step's at its jump), and decide's jump test
    found no jump along q.side. None where the
    form does not converge (its verdict stands). Like _sided and _jump, a test at fixed
    steps, not a proof."""
    assert q.side is not None
    values = []
    prec = reference.SIDED_PRECISIONS[-1]
    for name in q.side:
        ends = []
        for direction in (-1, 1):
            seen = []
            for bits in LIMIT_BITS:
                enc = reference.evaluate(program, [outputs[q.output]], reference.side_point(
                    point, name, direction, bits), prec, deadline)[0]
                if not enc.resolved or enc.undefined or not tight(enc):
                    return None
                seen.append(enc.mid())
            near, far = abs(seen[2] - seen[1]), abs(seen[1] - seen[0])
            if not (near <= far * JUMP_RATIO or near == 0 or math.isfinite(q.floor)
                    and within(seen[2], seen[1], q.rtol, q.floor)):
                return None
            ends.append(seen[2])
        left, right = ends
        if not (within(left, right, q.rtol, q.floor) and within(right, left, q.rtol, q.floor)):
            return None
        values += ends
    found = Enclosure(min(values), max(values), prec=prec)
    verdict = classify(q.tape, found, q.rtol, q.floor)
    if verdict is None:
        verdict = Status.OK if q.tape is not None and within(
            float(q.tape), found.mid(), q.rtol, q.floor) else Status.MISMATCH
    return Answer(verdict, found.mid(), True, "the derivative's formula has no value here; "
                  f"its limit from both sides is {found.mid():.6g}", prec, found)


LIMIT_BITS = (400, 800, 1200)   # the steps of _limit: 2^-400, 2^-800, 2^-1200 (times |x|)


JUMP_RATIO = 2.0 ** -100   # f changes by more than this share of the change over a 2^600
#                            times longer step: a jump, not a slope (see _jump)


def _jumped(program: Any, outputs: Sequence[int], point: Mapping[str, float], q: Question,
            seen: dict[str, Answer | None], deadline: float | None) -> Answer | None:
    """Undefined, if the function jumps along a symbol of q.side (seen: the answer found
    for each symbol so far); None if it is continuous along every one."""
    assert q.side is not None
    for name in q.side:
        if name not in seen:
            seen[name] = _jump(program, outputs, point, name, q.labels.get(name, name),
                               deadline)
        if seen[name] is not None:
            return seen[name]
    return None


def _jump(program: Any, outputs: Sequence[int], point: Mapping[str, float], name: str,
          along: str, deadline: float | None) -> Answer | None:
    """Whether the function (output 0) jumps along `name` at the point, where it sits on a
    branch cut: its change across steps h = 2^-SIDE_BITS and 2^600 h on both sides. A
    differentiable f changes about 2^600 times less over the shorter step; a jump by the
    same amount over both."""
    prec = reference.SIDED_PRECISIONS[0]
    changes = []
    for bits in (reference.SIDE_BITS, reference.SIDE_BITS // 2):
        left, right = (reference.evaluate(
            program, [outputs[0]], reference.side_point(point, name, d, bits), prec,
            deadline)[0] for d in (-1, 1))
        if not (left.resolved and right.resolved) or left.undefined or right.undefined \
                or not (tight(left) and tight(right)):
            return None
        changes.append((left, right))
    (l1, r1), (l2, r2) = changes
    near = max(r1.lo - l1.hi, l1.lo - r1.hi, 0)   # at least |f(x + h) - f(x - h)|
    far = max(r2.hi - l2.lo, l2.hi - r2.lo)       # at most |f(x + H) - f(x - H)|
    if not near > 0 or near < far * JUMP_RATIO:
        return None
    return Answer(Status.UNDEFINED, math.nan, True, f"the function jumps along {along}: "
                  f"{l1.mid():.6g} on one side, {r1.mid():.6g} on the other", prec)


def tight(enc: Enclosure) -> bool:
    """Whether an enclosure pins its value to about 60 bits (finite)."""
    import mpmath

    if mpmath.isinf(enc.lo) or mpmath.isinf(enc.hi):
        return False
    return enc.hi - enc.lo <= abs(enc.hi) * mpmath.mpf(2) ** -60


def guard_holds(kind: str, encs: Sequence[Enclosure]) -> bool | None:
    """Whether a domain condition (a kind of guards.KINDS) holds at the point: True, False,
    or None (cannot tell at this precision)."""
    if any(e.flag is reference.UNDEFINED for e in encs):
        return False
    if any(e.flag is not None for e in encs):
        return None
    return guards.kind(kind).holds([(e.lo, e.hi) for e in encs])


@dataclass(frozen=True)
class DomainFailure:
    """The first domain condition that fails at the point (certain: proven; otherwise it could
    not be decided at any precision of the ladder)."""

    kind: str
    op: str
    start: int | None
    end: int | None
    certain: bool = True

    @property
    def text(self) -> str:
        """What a point outside this kind of condition is told."""
        return guards.kind(self.kind).text


def domain(program: Any, outputs: Sequence[int], guard_list: Sequence[Sequence[Any]],
           first: int, point: Mapping[str, Any], deadline: float | None = None
           ) -> DomainFailure | None:
    """The first guard (kind, op, start, end, argument count; its argument outputs start at
    outputs[first]) that fails at the point, or None when every one holds. Raises
    TimeoutError past the deadline."""
    if not guard_list:
        return None
    spans: list[tuple[int, int]] = []
    k = first
    for g in guard_list:
        spans.append((k, k + g[4]))
        k += g[4]
    wanted = [outputs[i] for i in range(first, k)]
    undecided: list[int] = list(range(len(guard_list)))
    for prec in reference.PRECISIONS:
        encs = reference.evaluate(program, wanted, point, prec, deadline)
        still: list[int] = []
        for j in undecided:
            lo, hi = spans[j]
            holds = guard_holds(guard_list[j][0], encs[lo - first:hi - first])
            if holds is False:
                g = guard_list[j]
                return DomainFailure(g[0], g[1], g[2], g[3], True)
            if holds is None:
                still.append(j)
        undecided = still
        if not undecided:
            return None
    g = guard_list[undecided[0]]
    return DomainFailure(g[0], g[1], g[2], g[3], False)


def judge_point(program: Any, outputs: Sequence[int], guard_list: Sequence[Sequence[Any]],
                first_guard: int, point: Mapping[str, Any], questions: Sequence[Question],
                deadline: float | None = None) -> tuple[DomainFailure | None, Answers]:
    """The domain at the point, then (inside it) the answer to every question, by key."""
    failure = domain(program, outputs, guard_list, first_guard, point, deadline)
    if failure is not None:
        return failure, {}
    return None, decide(program, outputs, point, questions, deadline)
