"""Cross-check of the tape's partials against SymPy's symbolic derivatives, with verdicts.

The symbolic work runs in a forked child process stopped at the call's deadline
(budget.Deadline), so what no work limit foresaw ends in `skipped (time limit)`, never a hang.
The questions asked of the judge are named: the value, each checked partial and (with
stop_gradient) each true partial, keyed VALUE, ("d", label) and ("true", label).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import budget, ops
from ..budget import Deadline, deadline_of
from ..engine import vectors
from ..engine.evaluate import Run
from ..engine.tape import Node, backward, depth, input_values, source_masks
from ..engine.why import stop_gradient_cuts, where
from ..errors import location
from ..judge import verdict as judge
from ..judge.verdict import Status

DEFAULT_RTOL = judge.DEFAULT_RTOL
DEFAULT_ATOL = judge.DEFAULT_ATOL
DEFAULT_TIMEOUT = budget.DEFAULT_SECONDS  # the call's safety net (--check-timeout)

VALUE = "value"   # the key of the value's question


def derivative_key(label: str) -> tuple[str, str]:
    """The key of the question about the partial `label` (the program as written)."""
    return ("d", label)


def true_key(label: str) -> tuple[str, str]:
    """The key of the question about the true partial (stop_gradient(e) read as e)."""
    return ("true", label)


@dataclass
class Partial:
    """The verdict on one partial: status is ok, mismatch, undefined, null, cut or skipped.
    sampled: False for a component of a long vector that the check left out by design (its
    status is skipped; the sample stands for it in the check's overall status)."""

    name: str
    tape: Any
    status: Status
    symbolic: str | None = None     # the symbolic form
    expected: Any = None            # the symbolic value at the point (float, complex or nan)
    error: float | None = None      # |tape - symbolic|
    reason: str = ""
    true_symbolic: str | None = None  # with stop_gradient(e) read as e: the true derivative
    true_value: Any = None
    floor: float | None = None      # the absolute part of its tolerance (judge.floor)
    certified: bool | None = None   # decided by a proven enclosure of the true value
    sampled: bool = True


@dataclass
class Check:
    """The verdict on a whole run."""

    status: Status                  # the value and the sampled partials, combined
    partials: dict[str, Partial] = field(default_factory=dict)
    value: Any = None               # the symbolic value of the output
    value_status: Status = Status.SKIPPED
    reason: str = ""
    rtol: float = DEFAULT_RTOL
    atol: float = DEFAULT_ATOL
    sampled: dict[str, list[int]] = field(default_factory=dict)  # vector -> checked components
    matrix: dict[str, str] = field(default_factory=dict)  # name -> gradient in matrix notation
    matrix_note: str = ""           # why names are left to the per-component check
    reference: str = "SymPy"        # what the tape was compared with (see numeric_check)

    @property
    def largest_error(self) -> float | None:
        errors = [p.error for p in self.partials.values() if p.error is not None]
        return max(errors) if errors else None

    @property
    def uncertified(self) -> bool:
        """Whether a verdict was decided without a proven enclosure (`not certified`)."""
        return any(p.certified is False for p in self.partials.values())


def overall(partials: Mapping[str, Partial], value_status: str) -> Status:
    """A check's status: its value's and its sampled partials' verdicts combined."""
    return judge.combine([p.status for p in partials.values() if p.sampled] + [value_status])


# ---------------------------------------------------------------- kinks


def _place(run: Run, node: Node) -> str:
    """`node tN, column C` (or `line L, column C`) for verdict reasons."""
    if node.span is None:
        return f"node t{node.id}"
    return f"node t{node.id}, {location(run.program.source, node.span.start)}"


def kinks(run: Run) -> dict[str, str]:
    """Per watched name (per component `w[k]` of a vector), why its partial is undefined: the
    first non-differentiable point (a kink such as abs at 0) on a path from it to the output."""
    target = run.target_id()
    if target is None:
        return {}
    nodes = run.nodes
    adj = run.backward.adjoints if run.backward else []
    bit = {node.id: 1 << k for k, name in enumerate(run.wrt)
           if (node := run.tape.node_of(run.sources[name])) is not None}
    masks = source_masks(nodes, bit, target)
    reasons: dict[str, str] = {}
    for node in nodes[: target + 1]:
        if node.prim is None:
            continue
        m = masks[node.id]
        domain = node.prim.domain
        if m and domain is not None and adj[node.id] is not None:
            args = input_values(nodes, node)
            if bool(np.any(domain(*args))):
                where = _place(run, node)
                for k, name in enumerate(run.wrt):
                    if m >> k & 1:
                        for label in vectors.labels(name, run.bindings[name]):
                            reasons.setdefault(label, f"the function is not defined here: "
                                               f"{node.prim.domain_note} ({where})")
        prim = node.prim
        if not m or (prim.kink is None and prim.cut is None) or adj[node.id] is None:
            continue
        values = input_values(nodes, node)
        at_kink = prim.nonsmooth(*values)
        if bool(np.any(at_kink)):
            on_cut = prim.cut is not None and bool(np.any(prim.cut(*values)))
            note = prim.cut_note if on_cut else prim.kink_note
            where = _place(run, node)
            reach: dict[int, Any] | None = None
            for k, name in enumerate(run.wrt):
                if not m >> k & 1:
                    continue
                labels = [name]
                if vectors.length(run.bindings[name]) is not None:
                    # only the components that reach the kinked elements are undefined
                    if reach is None:
                        start, mask = node.id, at_kink
                        if node.prim in (ops.MAX_OF, ops.MIN_OF) and isinstance(
                                node.inputs[0], int):
                            # a tie of components: only the tied ones are at the kink
                            start, mask = node.inputs[0], values[0] == node.value
                        reach = vectors.influence(nodes, start, mask)
                    src = run.tape.node_of(run.sources[name])
                    hit = reach.get(src.id) if src is not None else None
                    every = vectors.labels(name, run.bindings[name])
                    labels = [] if hit is None else [every[c] for c in np.flatnonzero(hit)]
                for label in labels:
                    reasons.setdefault(label, f"{note} ({where})" + (
                        f"; {prim.convention}" if prim.convention and not on_cut else ""))
    return reasons


# ---------------------------------------------------------------- verdicts


def _floors(run: Run, atol: float) -> tuple[dict[str, float], float]:
    """The absolute floor of the tolerance per component label (see judge.floor), and the
    value's: eps * depth * the largest magnitude on the tape."""
    target = run.target_id()
    if target is None:
        return {}, atol
    nodes = run.nodes
    sources = [run.tape.node_of(run.sources[n]) for n in run.wrt]
    mags = backward(nodes, target, [s.id for s in sources if s is not None],
                    np.ones_like(nodes[target].value), magnitude=True).adjoints
    d = depth(nodes, target)
    out: dict[str, float] = {}
    for name, src in zip(run.wrt, sources, strict=True):
        m = None if src is None else mags[src.id]
        labels = vectors.labels(name, run.bindings[name])
        values = [0.0] * len(labels) if m is None else np.ravel(m).tolist()
        for label, v in zip(labels, values, strict=True):
            out[label] = judge.floor(atol, float(v), d)
    biggest = 0.0
    with np.errstate(all="ignore"):
        for node in nodes[: target + 1]:
            v = node.value
            if node.prim is not None and node.prim.magnitude is not None:
                v = node.prim.magnitude(v, *input_values(nodes, node))
            v = np.max(np.abs(v)) if np.size(v) else 0.0
            if np.isfinite(v):
                biggest = max(biggest, float(v))
    return out, judge.floor(atol, biggest, d)


def domain_reason(run: Run, failure: judge.DomainFailure) -> str:
    """Why every partial is undefined at a point outside the domain, naming where."""
    prim = ops.BY_NAME.get(failure.op)
    text = prim.domain_note if prim is not None and prim.domain_note else failure.text
    node = next((n for n in run.nodes if n.span is not None and failure.start is not None
                 and n.span.start == failure.start and n.op == failure.op), None)
    if node is not None:
        where = f" ({_place(run, node)})"
    elif failure.start is not None:
        where = f" ({location(run.program.source, failure.start)})"
    else:
        where = ""
    if not failure.certain:
        return f"at the edge of the domain, undecided at every precision: {text}{where}"
    return f"the function is not defined here: {text}{where}"


@dataclass
class Plan:
    """What the point check asks at one point: each component's symbol, the tape's values and
    the floors of their tolerances."""

    run: Run
    point: dict[str, float]
    symbols: dict[str, Any]
    gradient: list[tuple[str, Any]]
    checked: dict[str, str]           # component label -> symbol name, for the partials checked
    sampled: dict[str, list[int]]
    value: float
    rtol: float
    atol: float
    _floors: tuple[dict[str, float], float] | None = None

    @property
    def floors(self) -> dict[str, float]:
        """The absolute floor of each checked component's tolerance (judge.floor): a second,
        absolute-valued backward pass, so computed only when a verdict needs it."""
        if self._floors is None:
            self._floors = _floors(self.run, self.atol)
        return self._floors[0]

    @property
    def value_floor(self) -> float:
        """The floor of the value's tolerance."""
        if self._floors is None:
            self._floors = _floors(self.run, self.atol)
        return self._floors[1]

    def not_sampled(self, label: str, g: Any) -> Partial:
        """The verdict on a component of a long vector or matrix that the check left out."""
        name = vectors.owner(label)
        return Partial(label, g, Status.SKIPPED, reason=f"not sampled ({name} has "
                       f"{vectors.length(self.run.bindings[name]):,} components; "
                       f"{len(self.sampled[name])} are checked)", sampled=False)

    def questions(self, has_true: bool) -> list[judge.Question]:
        """What the point check asks, by key, of a program whose outputs are the value, each
        checked partial, then (has_true) each true partial. The floor is atol: the full floors
        are applied afterwards, to mismatches only (assemble)."""
        labels = list(self.checked)
        n = len(labels)
        tapes = dict(self.gradient)
        out = [judge.Question(VALUE, 0, self.value, self.rtol, self.atol)]
        for k, label in enumerate(labels):
            t = tapes[label]
            side = (self.checked[label],)
            words = {self.checked[label]: label}
            if t is not None:
                out.append(judge.Question(derivative_key(label), 1 + k, t, self.rtol,
                                          self.atol, side=side, labels=words))
            if has_true:  # also when not connected on the tape: is the true one 0?
                out.append(judge.Question(true_key(label), 1 + n + k,
                                          0.0 if t is None else t, self.rtol, self.atol,
                                          side=side, labels=words))
        return out

    def floors_by_key(self) -> dict[Any, float]:
        """The full floor of every question's tolerance, by its key."""
        out: dict[Any, float] = {VALUE: self.value_floor}
        for label in self.checked:
            out[derivative_key(label)] = out[true_key(label)] = self.floors[label]
        return out

    def judge_fn(self, deadline: float) -> Callable[..., Any]:
        """The function the child runs on the derivatives' program: the domain at the point,
        then a verdict per question (judge.judge_point), by key."""
        n = len(self.checked)

        def judge_fn(program: Any, outputs: list[int], guards: list[list[Any]]) -> Any:
            has_true = len(outputs) - 1 - n - sum(g[4] for g in guards) == n
            first_guard = 1 + n + (n if has_true else 0)
            return judge.judge_point(program, outputs, guards, first_guard, self.point,
                                     self.questions(has_true), deadline)

        return judge_fn


def plan(run: Run, rtol: float = DEFAULT_RTOL, atol: float = DEFAULT_ATOL) -> Plan:
    """The questions of the point check for this run."""
    gradient = vectors.components(run.wrt, run.bindings, run.gradient())
    symbols = vectors.symbol_names(run.bindings)
    point: dict[str, float] = {}
    for n, v in run.bindings.items():
        point.update(zip(vectors.symbol_list(symbols[n]), np.ravel(v).tolist(), strict=True))
    sampled = {n: sample(vectors.length(run.bindings[n]) or 0, n) for n in run.wrt
               if (vectors.length(run.bindings[n]) or 0) > SAMPLE_ABOVE}
    checked: dict[str, str] = {}
    for name in run.wrt:
        for k, (label, sym) in enumerate(zip(vectors.labels(name, run.bindings[name]),
                                             vectors.symbol_list(symbols[name]), strict=True)):
            if name not in sampled or k in sampled[name]:
                checked[label] = sym
    tv = float(run.value) if np.ndim(run.value) == 0 else math.nan
    return Plan(run, point, symbols, gradient, checked, sampled, tv, rtol, atol)


def check(run: Run, rtol: float = DEFAULT_RTOL, atol: float = DEFAULT_ATOL,
          timeout: float = DEFAULT_TIMEOUT, of: str | None = None, cache: bool = True,
          deadline: Deadline | None = None) -> Check:
    """Judge every partial of the run (and its value) against the true derivative at the same
    point (verdict.py: a proven enclosure, a tolerance that scales, domains and kinks).

    cache: read and fill the disk cache of derivatives (a hit imports no SymPy). deadline: the
    call's (else one of `timeout` seconds from now); what it stops is skipped (time limit)."""
    from ..symbolic.derivatives import MATRIX_WORK, at_point

    deadline = deadline_of(deadline, timeout)
    pl = plan(run, rtol, atol)
    if numeric_reference(run):
        total = sum(int(np.size(v)) for v in run.bindings.values())
        return numeric_check(pl, of, deadline, f"SymPy's expansion of {total:,} components is "
                             f"beyond the check's work limit ({LARGE_COMPONENTS:,})")
    status, result = at_point(run.program, pl.symbols, list(pl.checked.values()), pl.point, of,
                              deadline, cache, pl.judge_fn(deadline.at))
    if status == "too large":
        return numeric_check(pl, of, deadline, f"SymPy's derivatives of this matrix program "
                             f"are beyond the check's work limit (tree nodes times partials "
                             f"over {MATRIX_WORK:,})")
    if status != "ok":
        return skipped(pl, deadline.reason() if status == "timeout" else str(result))
    judged = result["judged"]
    if judged is None:
        judged = _fallback_answers(result["fallback"], pl, bool(result["true_forms"]))
    return assemble(pl, result["forms"], result["true_forms"], judged)


LARGE_COMPONENTS = 2_000  # a matrix program with more components gets a numeric reference


def numeric_reference(run: Run) -> bool:
    """Whether the check compares with numeric differences rather than SymPy: a program with
    a matrix binding and more than LARGE_COMPONENTS components in all, whose per-component
    SymPy expression (a symbol per component, a symbolic determinant) is beyond a budget."""
    values = run.bindings.values()
    return any(np.ndim(v) == 2 for v in values) and \
        sum(int(np.size(v)) for v in values) > LARGE_COMPONENTS


def numeric_check(pl: Plan, of: str | None, deadline: Deadline, why: str) -> Check:
    """Judge the sampled partials against fourth-order differences of the program's forward
    functions (judge.numeric.component: no tape, no VJPs), each within rtol plus
    numeric.SAFETY times its own error estimate. Not proven: every verdict is uncertified.
    why: which work limit sent the check here."""
    from . import numeric

    run = pl.run
    point = dict(run.bindings)
    partials: dict[str, Partial] = {}
    for label, g in pl.gradient:
        name = vectors.owner(label)
        if label not in pl.checked:
            partials[label] = pl.not_sampled(label, g)
            continue
        k = label.k if isinstance(label, vectors.Component) else None
        flat = 0 if k is None else k if isinstance(k, int) else \
            k[0] * np.shape(run.bindings[name])[1] + k[1]
        try:
            est = numeric.component(run.program, point, name, flat, of, deadline.at)
        except TimeoutError:
            partials[label] = Partial(label, g, Status.SKIPPED, reason=deadline.reason(),
                                      certified=False)
            continue
        shown = f"{est.value:.17g} ± {est.error:.2g} ({est.method})"
        if not est.trusted or not math.isfinite(est.value):
            partials[label] = Partial(label, g, Status.SKIPPED, expected=est.value,
                                      certified=False,
                                      reason="the numeric reference's stencil crosses a kink "
                                      "or a domain edge, or is not finite")
            continue
        tape = 0.0 if g is None else float(g)
        err = abs(tape - est.value)
        allow = pl.rtol * abs(est.value) + max(pl.atol, numeric.SAFETY * est.error)
        status = Status.OK if err <= allow else Status.MISMATCH
        if g is None and status == Status.OK:
            status = Status.NULL
        partials[label] = Partial(
            label, g, status, "-", expected=est.value, error=err, certified=False,
            reason="" if status != Status.MISMATCH else
            f"the tape differs from the numeric reference {shown} by {err:.3g}")
    reason = (f"numeric reference: {why}; the {'sampled ' if pl.sampled else ''}partials "
              f"are compared with five-point differences of the forward functions (no tape, "
              f"no VJPs), within rtol plus {numeric.SAFETY:g} times their error estimate: not "
              f"proven")
    if all(budget.stopped(p.reason) for p in partials.values() if p.sampled):
        return skipped(pl, deadline.reason())
    return Check(judge.combine(p.status for p in partials.values() if p.sampled), partials,
                 reason=reason, rtol=pl.rtol, atol=pl.atol, sampled=pl.sampled,
                 reference="numeric differences")


def skipped(pl: Plan, reason: str) -> Check:
    """Every partial skipped for one reason (the time limit, SymPy failed)."""
    partials = {n_: Partial(n_, g, Status.SKIPPED, reason=reason) for n_, g in pl.gradient}
    return Check(Status.SKIPPED, partials, reason=reason, rtol=pl.rtol, atol=pl.atol)


def assemble(pl: Plan, forms: Mapping[str, str], true_forms: Mapping[str, str],
             judged: tuple[judge.DomainFailure | None, judge.Answers]) -> Check:
    """The Check of one point from the judge's answers to the plan's questions (by key)."""
    run = pl.run
    failure, answers = judged
    checked, sampled = pl.checked, pl.sampled
    if any(a.status == Status.MISMATCH for a in answers.values()):
        answers = judge.refloor(answers, pl.floors_by_key())
    why = kinks(run)
    partials: dict[str, Partial] = {}
    for label, g in pl.gradient:
        name = vectors.owner(label)
        if label not in checked:
            partials[label] = pl.not_sampled(label, g)
            continue
        form = forms[checked[label]]
        p = Partial(label, g, Status.OK, form,
                    floor=pl.floors.get(label) if pl._floors is not None else None)
        t = answers.get(true_key(label)) if true_forms else None
        if g is None:
            p.status = Status.NULL if form == "0" else Status.MISMATCH
            p.reason = ("not connected: the output does not depend on " + name) \
                if form == "0" else "the tape has no path but the derivative is not zero"
        elif failure is not None:
            p.status, p.reason = Status.UNDEFINED, domain_reason(run, failure)
        else:
            apply_answer(p, answers[derivative_key(label)], why.get(label), float(g))
        if t is not None:
            p.true_symbolic, p.true_value = true_forms[checked[label]], t.value
            if p.status in (Status.OK, Status.NULL) and t.status == Status.MISMATCH:
                mark_cut(run, p, t.value)
        partials[label] = p
    value_answer = answers.get(VALUE)
    if failure is not None:
        value_status, value = Status.UNDEFINED, math.nan
    elif value_answer is None:
        value_status, value = Status.SKIPPED, math.nan
    else:
        value_status, value = value_answer.status, value_answer.value
    status = overall(partials, value_status)
    reason = domain_reason(run, failure) if failure is not None else ""
    if status == Status.MISMATCH:
        lost = cancellation(run)
        if lost:
            reason = lost
            for p in partials.values():
                if p.status == Status.MISMATCH:
                    p.reason += f"; {lost}"
    return Check(status, partials, value, value_status, reason=reason, rtol=pl.rtol,
                 atol=pl.atol, sampled=sampled)


LOST_DIGITS = 4   # a sum that loses this many digits to cancellation is named in a mismatch


def cancellation(run: Run) -> str:
    """Where the tape lost the most digits to cancellation (an add or sub of nearly opposite
    numbers on the way to the output), with the stable form to use; "" if nowhere."""
    target = run.target_id()
    if target is None:
        return ""
    nodes = run.nodes
    worst, lost = None, 0.0
    with np.errstate(all="ignore"):
        for node in nodes[: target + 1]:
            if node.prim not in (ops.ADD, ops.SUB) or np.ndim(node.value):
                continue
            a, b = (abs(float(v)) for v in input_values(nodes, node))
            terms, result = a + b, abs(float(node.value))
            if not (math.isfinite(terms) and terms > 0) or min(a, b) == 0:
                continue
            digits = 16.0 if result == 0 else math.log10(terms / result)
            if digits > lost:
                worst, lost = node, digits
    if worst is None or lost < LOST_DIGITS:
        return ""
    text = ""
    if worst.span is not None:
        text = " " + run.program.source[worst.span.start:worst.span.end].strip()
    at = ", ".join(f"{n}={v:.6g}" for n, v in run.bindings.items() if np.ndim(v) == 0)
    hint = _stable_form(run, worst)
    return (f"{worst.ref} = {worst.op}:{text} loses {min(lost, 16):.0f} digits to cancellation"
            + (f" at {at}" if at else "") + (f"; {hint}" if hint else ""))


def _stable_form(run: Run, node: Node) -> str:
    """A stable rewrite for a cancelling sum, when its shape is a known one."""
    nodes, source = run.nodes, run.program.source
    consts = [r.value for r in node.inputs if not isinstance(r, int)]
    one = any(np.ndim(c) == 0 and float(c) == 1.0 for c in consts)
    for r in node.inputs:
        if not isinstance(r, int) or not one:
            continue
        inner = nodes[r]
        text = source[inner.span.start:inner.span.end] if inner.span is not None else ""
        if inner.op == "exp":
            return f"write {'expm1' + text[3:] if text.startswith('exp') else 'expm1(u)'} " \
                   f"for {text or 'exp(u)'} - 1"
        if inner.op == "cos":
            arg = text[3:] if text.startswith("cos") else "(u)"
            return f"write 2*sin({arg}/2)^2 for 1 - {text or 'cos(u)'}"
    return "rewrite it so that nearly equal numbers are not subtracted"


def apply_answer(p: Partial, a: judge.Answer, kink: str | None, t: float) -> None:
    """Fill a partial's verdict from the judge's answer."""
    p.expected = a.value
    p.status = a.status
    p.certified = a.certified
    if a.status in (Status.OK, Status.MISMATCH) and math.isfinite(a.value):
        p.error = abs(t - a.value) if math.isfinite(t) else math.inf
    if a.status == Status.MISMATCH:
        p.reason = f"tape {t!r} but the true derivative is {a.value!r}"
        if not a.certified:
            p.reason += f" ({a.reason})"
    elif a.status == Status.UNDEFINED:
        reason = a.reason or "the derivative is not defined here"
        p.reason = f"{kink}: {reason}" if kink else reason
    elif a.status == Status.SKIPPED:
        p.reason = a.reason


def mark_cut(run: Run, p: Partial, true_value: float, name: str | None = None) -> None:
    """A partial that agrees with the stop_gradient-aware derivative but not with the true one
    is `cut`, not a tape bug. name: the variable whose path is cut (default: the partial's)."""
    name = name or vectors.owner(p.name)
    source, target = run.tape.node_of(run.sources[name]), run.target_id()
    cuts = [] if source is None or target is None else \
        stop_gradient_cuts(run.nodes, source.id, target)
    at = ", ".join(where(c, run.program.source) for c in cuts) or "?"
    p.status = Status.CUT
    p.reason = f"cut by stop_gradient at {at} (true derivative {true_value:.15g})"


def _fallback_answers(values: list[Any], pl: Plan, has_true: bool
                      ) -> tuple[None, judge.Answers]:
    """Answers from SymPy's own float values, for derivatives the program format cannot
    express (not certified), to the same questions as the child's (by key)."""
    floors = pl.floors_by_key()

    def answer(q: judge.Question) -> judge.Answer:
        v = values[q.output]
        if isinstance(v, complex) or v is None or math.isnan(v):
            return judge.Answer(Status.UNDEFINED, math.nan, False,
                                "the derivative is not real here")
        ok = judge.within(float(q.tape), float(v), pl.rtol, floors[q.key])
        return judge.Answer(Status.OK if ok else Status.MISMATCH, float(v), False,
                            "not certified: evaluated by SymPy in floating point")

    return None, {q.key: answer(q) for q in pl.questions(has_true)}


def verdict(name: str, value: Any, form: str, expected: Any, kink: str | None, rtol: float,
            atol: float, unconnected: str = "") -> Partial:
    """The verdict on one derivative from a plain reference value (first or higher order):
    value is the tape's (None if not connected), form and expected the symbolic form and value,
    kink why it is undefined (None if it is not)."""
    p = Partial(name, value, Status.OK, form, expected)
    if value is None:
        p.status = Status.NULL if form == "0" else Status.MISMATCH
        p.reason = ((unconnected or "not connected: the output does not depend on " + name)
                    if form == "0" else "the tape has no path but the derivative is not zero")
    elif kink:
        p.status, p.reason = Status.UNDEFINED, kink
    elif isinstance(expected, complex) or math.isnan(expected):
        p.status = Status.UNDEFINED
        p.reason = ("the derivative is not real here" if isinstance(expected, complex)
                    else "the derivative is not defined here")
    else:
        t = float(value)
        p.error = abs(t - expected) if math.isfinite(t) and math.isfinite(expected) \
            else (0.0 if t == expected else math.inf)
        if not judge.within(t, expected, rtol, atol):
            p.status = Status.MISMATCH
            p.reason = f"tape {t!r} but the true derivative is {expected!r}"
    return p


SAMPLE_ABOVE = 40   # vectors longer than this have only SAMPLE_SIZE components checked
SAMPLE_SIZE = 20


def sample(n: int, name: str) -> list[int]:
    """The components of a long vector the check looks at: the first, the last and a fixed
    pseudo-random choice of the others (the same on every run)."""
    rng = random.Random(f"gradcalc:{name}:{n}")
    return sorted({0, n - 1, *rng.sample(range(1, n - 1), SAMPLE_SIZE - 2)})
