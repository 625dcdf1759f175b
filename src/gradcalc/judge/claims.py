"""Verification of a gradient the user derived: expected values (--expect), hand-derived
formulas (--claim) and a numeric third opinion (--numeric), with a verdict per partial.

Opinions on a partial: the tape, SymPy's derivative at the point, the numeric estimate and the
user's expected value. Every comparison uses the check's rule |a - b| <= atol + rtol*max(|a|,|b|);
a numeric estimate also gets NUMERIC_SAFETY times its own error estimate.

A claim `NAME: FORMULA` is about the whole function, not one point: gradcalc looks for a
counterexample at random points of the domain, and if none turns up asks SymPy to simplify
(claim - true derivative) to 0. Both steps run under sandbox.run_with_budget.
"""

from __future__ import annotations

import math
import random
import re
import signal
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import ops
from ..engine.evaluate import Run, parse_bindings
from ..errors import (
    SHAPES_HINT,
    InputError,
    Part,
    Setting,
    Span,
    Text,
    as_parts,
    unassigned_output,
)
from ..judge import explain, numeric
from ..judge import verdict as judge
from ..judge.check import Check, Partial
from ..lang.syntax import (
    Assign,
    Expr,
    Name,
    Program,
    free_names,
    parse_expression,
    postorder,
    split_top_level,
)
from ..symbolic import convert as symbolic
from ..symbolic.sandbox import run_with_budget

NUMERIC_SAFETY = numeric.SAFETY  # a numeric estimate agrees within this many times its error
CLAIM_POINTS = 100      # random points per claim
MISS_FRACTION = 0.05    # the probability bound is stated for a difference on 5% of the region
POINT_SECONDS = 0.25    # a point whose evaluation takes longer is skipped (e.g. 9^9^9^x at 9)


# ---------------------------------------------------------------- input


def parse_expect(options: Sequence[str], wrt: Sequence[str]) -> dict[str, float]:
    """Expected partials from --expect texts `NAME=VALUE[,...]`, parsed like --at values; every
    NAME must be a differentiated name."""
    values = parse_bindings(options, "expect")  # its messages name the expected values
    for name, value in values.items():
        if np.ndim(value):
            raise InputError((Setting("expect"), f": the value of '{name}' must be a number, "
                              "not a vector"))
    for text in options:
        for offset, piece in split_top_level(text):
            name = piece.partition("=")[0]
            lead = len(name) - len(name.lstrip())
            name = name.strip()
            if name not in wrt:
                raise InputError((Setting("expect"), f": '{name}' is not a differentiated name"),
                                 Span(offset + lead, offset + lead + len(name)), text,
                                 "differentiated names: " + (", ".join(wrt) or "none"))
    return values


@dataclass(frozen=True)
class Claim:
    """A hand-derived formula for the partial with respect to `name`."""

    name: str
    formula: str
    expr: Expr
    source: str          # the text the spans point into (the option or the whole file)
    name_span: Span
    file: str | None     # the claims file it was read from, None for a --claim text
    line: int = 0        # its line in that file (1-based)


def parse_claims(options: Sequence[str], file_text: str | None = None,
                 file_name: str = "") -> list[Claim]:
    """Claims from --claim texts and a claims file (one `NAME: FORMULA` or `d/dNAME: FORMULA`
    per line; blank lines and # comments are skipped). Formulas are parsed with the expression
    parser."""
    items: list[tuple[str, int, int, str | None, int]] = [
        (text, 0, len(text), None, 0) for text in options]
    if file_text is not None:
        start = 0
        for number, line in enumerate(file_text.split("\n"), 1):
            body = line.split("#", 1)[0]
            if body.strip():
                items.append((file_text, start, start + len(body), file_name, number))
            start += len(line) + 1
    return [_claim(*item) for item in items]


def _given_in(claim_file: str | None) -> Part:
    """Where a claim was given, as its errors name it: the claims file, or the --claim text."""
    return Setting("claim") if claim_file is None else claim_file


def _claim(source: str, lo: int, hi: int, claim_file: str | None, line: int) -> Claim:
    text = source[lo:hi]
    where = _given_in(claim_file)

    def fail(message: Text, span: Span, hint: Text = "") -> InputError:
        return InputError((where, ": ", *as_parts(message)), span, source, hint)

    lead = len(text) - len(text.lstrip())
    colon = text.find(":")
    if colon < 0:
        raise fail("a claim needs the form NAME: FORMULA", Span(lo + lead, hi),
                   ("e.g. ", Setting("claim", "'a: an*tax'")))
    name = text[:colon].strip()
    name_span = Span(lo + lead, lo + lead + max(1, len(name)))
    if name.startswith("d/d"):  # `d/da: an*tax` says the same as `a: an*tax`
        name = name[3:]
        name_span = Span(name_span.start + 3, name_span.end)
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise fail(f"'{name}' is not a variable name" if name else "no variable before ':'",
                   name_span, "a claim looks like  a: an*tax")
    formula = text[colon + 1:]
    at = lo + colon + 1
    if not formula.strip():
        raise fail(f"no formula after '{name}:'", Span(at - 1, at))
    try:
        expr = parse_expression(formula)
    except InputError as exc:
        span = exc.span or Span(0, len(formula))
        raise fail((*exc.parts, f" in the claim for '{name}'"),
                   Span(at + span.start, at + span.end), exc.hint_parts) from None
    return Claim(name, formula.strip(), expr, source, name_span, claim_file, line)


def check_claim_names(claims: Sequence[Claim], variables: Sequence[str]) -> None:
    """Every claim is about a variable of the function and uses only its variables and
    constants; otherwise an InputError pointing at the offending name."""
    where = ", ".join(variables) or "none"
    for claim in claims:
        prefix = _given_in(claim.file)
        if claim.name not in variables:
            raise InputError((prefix, f": '{claim.name}' is not a variable of the expression"),
                             claim.name_span, claim.source, f"variables: {where}")
        offset = claim.name_span.end + claim.source[claim.name_span.end:].find(":") + 1
        for node in postorder(claim.expr):
            if isinstance(node, Name) and node.id not in variables \
                    and node.id not in ops.CONSTANTS:
                raise InputError((prefix, f": unknown name '{node.id}' in the claim for "
                                  f"'{claim.name}'"), Span(offset + node.span.start,
                                                         offset + node.span.end),
                                 claim.source, f"variables: {where}")


# ---------------------------------------------------------------- verdicts


@dataclass
class Opinions:
    """Everything known about one partial at the point, and the verdict.

    tape: the tape's partial (None: not connected). symbolic: SymPy's value (None when the
    check did not run). numeric: the third opinion. expected: the user's value. status: ok,
    mismatch, undefined, null or skipped.
    """

    name: str
    tape: Any
    symbolic: Any = None
    numeric: numeric.Estimate | None = None
    expected: float | None = None
    status: str = "ok"
    reason: str = ""
    agree: list[str] = field(default_factory=list)


@dataclass
class ClaimVerdict:
    """The verdict on one claim: status proved, equal, differs, undecided or skipped."""

    claim: Claim
    status: str
    true_form: str | None = None
    points: int = 0                          # random points where both sides were compared
    counterexample: dict[str, Any] | None = None   # {"at": {...}, "yours": .., "true": ..}
    at_point: dict[str, Any] | None = None         # {"yours": .., "true": .., "tape": ..}
    reason: str = ""
    difference: str = ""      # what differs structurally, when it differs (judge.explain)

    @property
    def miss_probability(self) -> float:
        """The chance that `points` random points all miss a difference on MISS_FRACTION."""
        return (1 - MISS_FRACTION) ** self.points


@dataclass
class Verification:
    """The verdicts of one verification: per partial and per claim."""

    partials: dict[str, Opinions]
    claims: list[ClaimVerdict]
    rtol: float
    atol: float
    numeric: bool = False
    true_forms: dict[str, str] = field(default_factory=dict)

    @property
    def status(self) -> str:
        """mismatch if anything disagrees, else undecided if a claim could not be decided,
        else ok."""
        if any(p.status == "mismatch" for p in self.partials.values()) or any(
                c.status == "differs" for c in self.claims):
            return "mismatch"
        if any(c.status == "undecided" for c in self.claims):
            return "undecided"
        return "ok"


def _real(x: Any) -> float | None:
    if x is None or isinstance(x, complex):
        return None
    x = float(x)
    return x if math.isfinite(x) else None


JUDGED = ("ok", "mismatch", "undefined", "cut", "null")


def _opinions(name: str, tape: Any, p: Partial | None, est: numeric.Estimate | None,
              expected: float | None, rtol: float, atol: float) -> Opinions:
    """The verdict on one partial from every opinion. The judge's verdict (a proven reference)
    decides whenever the check ran; a numeric estimate then only confirms it, or is reported
    inconclusive. Without the check, tape and numeric decide, unless the numeric stencil
    crossed a kink or domain edge (inconclusive: skipped)."""
    judged = p is not None and p.status in JUDGED
    ref = _real(p.expected) if judged and p is not None else None
    over = est is not None and est.method == numeric.OVER_BUDGET
    if over:
        est = None
    op = Opinions(name, tape, ref if judged else None, est, expected)
    t = None if tape is None else float(tape)
    notes: list[str] = ["numeric skipped: over budget"] if over and judged else []
    if judged:
        assert p is not None
        op.status, op.reason = p.status, p.reason
        if p.status == "ok":
            op.agree = ["symbolic", "tape"]
        if est is not None and ref is not None:
            slack = atol + NUMERIC_SAFETY * est.error
            with_ref = math.isfinite(est.value) and judge.within(est.value, ref, rtol, slack)
            with_tape = t is not None and est.trusted and math.isfinite(est.value) and \
                judge.within(t, est.value, rtol, slack)
            if with_ref:
                op.agree = sorted(set(op.agree) | {"numeric", "symbolic"})
                if p.status == "mismatch":
                    notes.append("symbolic and numeric agree; tape differs")
            elif p.status == "mismatch" and with_tape:
                op.agree = ["numeric", "tape"]
                notes.insert(0, "tape and numeric agree; symbolic differs")
            else:
                notes.append("numeric inconclusive: " + (
                    "its differences reach across a kink or domain edge" if not est.trusted
                    else "it differs from the proven reference"))
    elif est is not None:
        if not est.trusted or not math.isfinite(est.value) or t is None:
            op.status = "skipped"
            op.reason = ("numeric inconclusive: its differences reach across a kink or domain "
                         "edge, and there is no symbolic reference" if not est.trusted
                         else "numeric inconclusive and no symbolic reference")
        elif judge.within(t, est.value, rtol, atol + NUMERIC_SAFETY * est.error):
            op.agree = ["numeric", "tape"]
        else:
            op.status, op.reason = "mismatch", "tape and numeric disagree"
    else:
        op.status = "skipped"
        op.reason = p.reason if p is not None else (
            "numeric over budget and no symbolic reference" if over
            else "no symbolic check and nothing to compare with")
    if expected is not None:
        if judged and p is not None and p.status == "null":
            ref = 0.0   # not connected, and the derivative is identically 0
        truth = ref if ref is not None else (
            est.value if est is not None and est.trusted and op.status == "ok" else None)
        if truth is None and op.status in ("ok", "skipped") and t is not None \
                and not judged and est is None:
            truth = t
        if truth is not None and not judge.within(expected, truth, rtol, atol):
            diff = expected - truth
            rel = f" ({abs(diff) / abs(truth):.3g} relative)" if truth else ""
            how = explain.value_difference(expected, truth, rtol)   # a sign, a factor
            notes.insert(0, f"yours {expected:.15g} differs from the true derivative "
                         f"{truth:.15g} by {diff:.3g}{rel}" + (f"; {how}" if how else ""))
            op.status = "mismatch"
        elif truth is None and op.status not in ("undefined",):
            notes.append(f"yours {expected:.15g} is not compared: no reference")
        elif op.status == "undefined":
            notes.append(f"yours {expected:.15g} is not compared")
    if notes:
        op.reason = "; ".join(([op.reason] if op.reason else []) + notes)
    return op


def verify(run: Run, chk: Check | None, expected: Mapping[str, float], with_numeric: bool,
           claims: Sequence[Claim], rtol: float, atol: float, timeout: float,
           of: str | None = None, points: int = CLAIM_POINTS) -> Verification:
    """Verdicts at the run's point for every differentiated name, and on every claim."""
    check_claim_names(claims, list(run.bindings))
    for name, value in run.bindings.items():
        if np.ndim(value) and (expected or with_numeric):
            raise InputError((Setting("expect"), " and ", Setting("numeric"),
                              f" take scalar bindings only, but '{name}' is a "
                              f"{'matrix' if np.ndim(value) == 2 else 'vector'}"))
    gradient = run.gradient()
    point = {n: float(v) for n, v in run.bindings.items()}
    partials: dict[str, Opinions] = {}
    deadline = time.monotonic() + timeout   # --numeric has the budget of the check
    for name, g in gradient.items():
        p = chk.partials.get(name) if chk is not None else None
        est = None
        if with_numeric:
            try:
                est = numeric.partial(run.program, point, name, of, deadline)
            except TimeoutError:
                est = numeric.Estimate(math.nan, math.inf, numeric.OVER_BUDGET, False)
        partials[name] = _opinions(name, g, p, est, expected.get(name), rtol, atol)
    verdicts = check_claims(run.program, list(run.bindings), claims, point, gradient, rtol,
                            atol, timeout, of, points) if claims else []
    return Verification(partials, verdicts, rtol, atol, with_numeric)


# ---------------------------------------------------------------- claims


def _draw(rng: random.Random, anchors: Sequence[float]) -> float:
    """One coordinate: near one of the anchors (constants of the expressions and edges of
    their domains) half the time when there are any, else uniform on [-3, 3] or a
    log-uniform magnitude in [0.01, 30] of either sign."""
    if anchors and rng.random() < 0.5:
        c = rng.choice(anchors)
        sign = rng.choice((-1.0, 1.0))
        if rng.random() < 0.5:
            return c + sign * max(abs(c), 1.0) * 10 ** rng.uniform(-6.0, 0.0)
        return c + sign * 10 ** rng.uniform(-3.0, 1.0)
    if rng.random() < 0.5:
        return rng.uniform(-3.0, 3.0)
    return rng.choice((-1.0, 1.0)) * 10 ** rng.uniform(-2.0, math.log10(30.0))


class _Slow(Exception):
    """One step ran over its time limit."""


@contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    """Raise _Slow inside the block after `seconds` (where the platform has interval timers)."""
    if not hasattr(signal, "setitimer"):
        yield
        return

    def on_alarm(signum: int, frame: Any) -> None:
        raise _Slow

    try:
        old = signal.signal(signal.SIGALRM, on_alarm)
    except ValueError:  # not the main thread: no per-step limit, the overall budget still holds
        yield
        return
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def _anchors(exprs: Sequence[Any], guards: Sequence[symbolic.Guard], variables: Sequence[str]
             ) -> list[float]:
    """Numbers to sample near: the constants of the expressions and the real roots of each
    domain guard's argument in one variable (where SymPy finds them quickly)."""
    sp = symbolic.namespace()
    out: set[float] = set()
    for e in exprs:
        for atom in symbolic.display(e).atoms(sp.Number):
            v = float(atom)
            if math.isfinite(v) and 1e-300 < abs(v) < 1e300:
                out.add(v)
    for g in guards:
        for arg in g.args:
            free = [s for s in arg.free_symbols if s.name in variables]
            if len(free) != 1 or sp.count_ops(arg) > 40:
                continue
            try:
                with _time_limit(POINT_SECONDS):
                    roots = sp.solve(symbolic.display(arg), free[0])
            except (_Slow, NotImplementedError, ValueError, TypeError):
                continue
            for r in roots:
                if r.is_real:
                    v = float(r)
                    if math.isfinite(v):
                        out.add(v)
    return sorted(out)


def _search(program: Program, variables: Sequence[str], claim: Claim, point: Mapping[str, float]
            | None, rtol: float, atol: float, points: int, of: str | None,
            deadline: float) -> dict[str, Any]:
    """In the child: the true derivative's form, both sides at the --at point, and a search for
    a counterexample at random points where the function is defined and differentiable, then
    SymPy's attempt to prove the claim."""
    from ..judge import reference
    from ..symbolic import compiled

    env = {n: symbolic.symbol(n) for n in variables}
    fguards: list[symbolic.Guard] = []
    f = symbolic.program_to_sympy(program, variables, of, fguards)
    true = symbolic.derivative(symbolic.without_stop_gradient(f) or f, claim.name)
    cguards: list[symbolic.Guard] = []
    mine = symbolic.expr_to_sympy(claim.expr, env, None, cguards)
    out: dict[str, Any] = {"true_form": symbolic.form(true), "at_point": None,
                           "counterexample": None, "points": 0, "proved": False}
    exprs = [f, true, mine, *(a for g in fguards for a in g.args),
             *(a for g in cguards for a in g.args)]
    prog, outputs = compiled.compile_sympy(exprs, list(variables), symbolic.constants_of(exprs))
    meta = [[g.kind, g.op, None, None, len(g.args)] for g in (*fguards, *cguards)]
    fmeta, cmeta = meta[:len(fguards)], meta[len(fguards):]
    cfirst = 3 + sum(g[4] for g in fmeta)

    def judged(pt: Mapping[str, float]) -> tuple[Any, Any] | None:
        """(yours, true) at a point where the true derivative exists; yours is nan where the
        claim is undefined. None: outside the domain, at a kink, or too slow."""
        try:
            with _time_limit(POINT_SECONDS):
                if judge.domain(prog, outputs, fmeta, 3, pt, deadline) is not None:
                    return None
                t = None
                for prec in reference.PRECISIONS[:4]:
                    t, c = reference.evaluate(prog, [outputs[1], outputs[2]], pt, prec,
                                              deadline)
                    if t.undefined:
                        return None
                    if t.resolved and judge.tight(t):
                        break
                else:
                    return None          # a kink or an unresolved point: no derivative
                if judge.domain(prog, outputs, cmeta, cfirst, pt, deadline) is not None:
                    return math.nan, t.mid()
                for prec in reference.PRECISIONS[:4]:
                    c = reference.evaluate(prog, [outputs[2]], pt, prec, deadline)[0]
                    if c.undefined:
                        return math.nan, t.mid()
                    if c.resolved and judge.tight(c):
                        break
                return c.mid(), t.mid()
        except (_Slow, TimeoutError):
            return None

    def differs(yours: Any, t: float) -> bool:
        y = _real(yours)
        return y is None or not judge.within(y, t, rtol, atol)

    if point is not None:
        pair = judged(point)
        if pair is not None:
            out["at_point"] = {"yours": pair[0], "true": pair[1]}
            if differs(*pair):
                out["counterexample"] = {"at": dict(point), "yours": pair[0], "true": pair[1]}
                return out
    anchors = _anchors([f, mine], [*fguards, *cguards], variables)
    rng = random.Random(f"{claim.name}:{claim.formula}")
    found = 0
    for _ in range(40 * points):
        if found >= points or time.monotonic() > deadline:
            break
        pt = {n: _draw(rng, anchors) for n in variables}
        pair = judged(pt)
        if pair is None:
            continue
        found += 1
        if differs(*pair):
            out["counterexample"] = _simplest(pt, pair, judged, differs)
            break
    out["points"] = found
    if out["counterexample"] is None:
        try:
            with _time_limit(min(3600.0, max(0.01, deadline - time.monotonic()))):
                diff = symbolic.display(mine) - symbolic.display(true)
                sp = symbolic.namespace()
                out["proved"] = bool(diff == 0 or sp.expand(diff) == 0 or sp.simplify(diff) == 0)
        except _Slow:
            out["proof_timeout"] = True
    return out


def _simplest(pt: Mapping[str, float], pair: tuple[Any, float], judged: Any,
              differs: Any) -> dict[str, Any]:
    """A counterexample that is easier to read: the point rounded to 0, 1 or 2 decimals if the
    claim still differs there (and the true derivative exists there)."""
    for digits in (0, 1, 2):
        rounded = {n: float(round(v, digits)) + 0.0 for n, v in pt.items()}  # no -0
        other = judged(rounded)
        if other is not None and differs(*other):
            return {"at": rounded, "yours": other[0], "true": other[1]}
    return {"at": dict(pt), "yours": pair[0], "true": pair[1]}


def check_claims(program: Program, variables: Sequence[str], claims: Sequence[Claim],
                 point: Mapping[str, float] | None, gradient: Mapping[str, Any] | None,
                 rtol: float, atol: float, timeout: float, of: str | None = None,
                 points: int = CLAIM_POINTS) -> list[ClaimVerdict]:
    """A verdict on every claim: a counterexample search at random points of the domain (and at
    the --at point, if any), then SymPy simplification; all under the time budget."""
    verdicts = judge_claims(
        claims, timeout, gradient,
        lambda c, d: _search(program, variables, c, point, rtol, atol, points, of, d),
        "no point where the true derivative exists was found, and SymPy could not simplify "
        "the difference to 0")
    explain.annotate(verdicts, program, variables, of, timeout)   # words only, no verdict
    return verdicts


Search = Callable[[Claim, float], dict[str, Any]]


def judge_claims(claims: Sequence[Claim], timeout: float, gradient: Mapping[str, Any] | None,
                 search: Search, no_points: str) -> list[ClaimVerdict]:
    """A verdict on every claim from search(claim, deadline), run in a budgeted child (the
    counterexample search, then SymPy's simplification): differs, proved, equal (at every
    point tried) or undecided, with no_points as the reason when no point could be tried.
    gradient: the tape's partials, shown beside the claim at the --at point."""
    symbolic.namespace()  # import SymPy once here, not in every forked child
    verdicts: list[ClaimVerdict] = []
    for claim in claims:
        deadline = time.monotonic() + 0.9 * timeout
        status, found = run_with_budget(lambda c=claim, d=deadline: search(c, d), timeout)
        if status != "ok":
            reason = (f"symbolic check over budget ({timeout:g} s)" if status == "timeout"
                      else str(found))
            verdicts.append(ClaimVerdict(claim, "undecided", reason=reason))
            continue
        v = ClaimVerdict(claim, "equal", found["true_form"], found["points"],
                         found["counterexample"], found["at_point"], found.get("reason", ""))
        if v.at_point is not None and gradient is not None:
            v.at_point["tape"] = gradient.get(claim.name)
        if v.counterexample is not None:
            v.status = "differs"
        elif found["proved"]:
            v.status = "proved"
        elif v.points == 0:
            v.status = "undecided"
            v.reason = no_points
        elif found.get("proof_timeout"):
            v.reason = f"simplification over budget ({timeout:g} s)"
        verdicts.append(v)
    return verdicts


def verify_claims_only(program: Program, claims: Sequence[Claim], rtol: float, atol: float,
                       timeout: float, of: str | None = None,
                       points: int = CLAIM_POINTS) -> Verification:
    """Claims about a function given without --at: no point, no tape run."""
    from ..engine.matrices import matrix_operation

    variables = free_names(program)
    check_claim_names(claims, variables)
    bodies = [s.value if isinstance(s, Assign) else s for s in program.statements]
    if matrix_operation([*bodies, *(c.expr for c in claims)]) is not None:
        raise InputError(("claims in vector or matrix notation need ", Setting("at"),
                          ": the bindings give the shapes"), hint=SHAPES_HINT)
    assigned = {s.target for s in program.statements if isinstance(s, Assign)}
    if of is not None and of not in assigned:
        raise unassigned_output(of)
    verdicts = check_claims(program, variables, claims, None, None, rtol, atol, timeout, of,
                            points)
    forms = {v.claim.name: v.true_form for v in verdicts if v.true_form is not None}
    return Verification({}, verdicts, rtol, atol, False, forms)
