"""Verification of a gradient the user derived: expected values (--expect), hand-derived
formulas (--claim) and a numeric third opinion (--numeric), with a verdict per partial.

Opinions on a partial: the tape, SymPy's derivative at the point, the numeric estimate and the
user's expected value. Every comparison uses the judge's rule (verdict.within), relative to the
reference it is compared with: |a - ref| <= rtol*|ref| + atol, where the reference is the
true derivative when it is known (else the numeric estimate, else the tape); a numeric
estimate also gets NUMERIC_SAFETY times its own error estimate added to atol.

A claim `NAME: FORMULA` is about the whole function, not one point: gradcalc looks for a
counterexample at points of the domain - one in every piece that the kinks, branch cuts and
domain edges of both sides cut the line into, then random ones - and if none turns up asks
SymPy to simplify (claim - true derivative) to 0. Both steps run in a forked child
(sandbox.run_with_budget) and are bounded by counts (points, precisions, expression sizes);
the call's deadline only stops them, and a claim it stops is skipped (time limit).
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import ops
from ..budget import Deadline, deadline_of
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
from ..judge.check import DEFAULT_TIMEOUT, Check, Partial
from ..judge.verdict import Status
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
# work limits of the claim check (counts, never the clock)
CLAIM_PRECISIONS = 4        # the first rungs of reference.PRECISIONS tried at a point
ROOT_DEGREE = 4             # anchors are the real roots of polynomial arguments up to this degree
ANCHOR_OPS = 40             # ... of at most this many operations (sympy.count_ops)
ANCHOR_ARGUMENTS = 200      # ... among the first this many guard and kink arguments
SIMPLIFY_OPS = 60           # sympy.simplify tries a difference of at most this many operations
EXPAND_TERMS = 5_000        # sympy.expand tries a difference it expands to at most this many terms


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
    status: Status = Status.OK
    reason: str = ""
    agree: list[str] = field(default_factory=list)
    unchecked: bool = False   # --no-check and nothing asked to compare: no verdict at all


@dataclass
class ClaimVerdict:
    """The verdict on one claim: status proved, equal, differs, undecided or skipped (the time
    limit stopped it)."""

    claim: Claim
    status: Status
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
    def status(self) -> Status:
        """Every partial's and claim's verdict combined (verdict.combine): mismatch if anything
        disagrees, else undecided if a claim could not be decided, else undefined or skipped
        if something could not be verified, else ok. A partial that --no-check left with
        nothing to compare has no verdict."""
        return verdict_of([p.status for p in self.partials.values() if not p.unchecked]
                          + [c.status for c in self.claims])


def verdict_of(statuses: Sequence[str]) -> Status:
    """The combined status of a verification (ok when it has nothing to say)."""
    return judge.combine(statuses) if statuses else Status.OK


def _real(x: Any) -> float | None:
    if x is None or isinstance(x, complex):
        return None
    x = float(x)
    return x if math.isfinite(x) else None


JUDGED = (Status.OK, Status.MISMATCH, Status.UNDEFINED, Status.CUT, Status.NULL)


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
    notes: list[str] = ["numeric skipped (time limit)"] if over and judged else []
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
                if p.status == Status.MISMATCH:
                    notes.append("symbolic and numeric agree; tape differs")
            elif p.status == Status.MISMATCH and with_tape:
                op.agree = ["numeric", "tape"]
                notes.insert(0, "tape and numeric agree; symbolic differs")
            else:
                notes.append("numeric inconclusive: " + (
                    "its differences reach across a kink or domain edge" if not est.trusted
                    else "it differs from the proven reference"))
    elif est is not None:
        if not est.trusted or not math.isfinite(est.value) or t is None:
            op.status = Status.SKIPPED
            op.reason = ("numeric inconclusive: its differences reach across a kink or domain "
                         "edge, and there is no symbolic reference" if not est.trusted
                         else "numeric inconclusive and no symbolic reference")
        elif judge.within(t, est.value, rtol, atol + NUMERIC_SAFETY * est.error):
            op.agree = ["numeric", "tape"]
        else:
            op.status, op.reason = Status.MISMATCH, "tape and numeric disagree"
    else:
        op.status = Status.SKIPPED
        op.reason = p.reason if p is not None else (
            "numeric skipped (time limit) and no symbolic reference" if over
            else "no symbolic check and nothing to compare with")
        op.unchecked = p is None and not over
    if expected is not None:
        if judged and p is not None and p.status == Status.NULL:
            ref = 0.0   # not connected, and the derivative is identically 0
        truth = ref if ref is not None else (
            est.value if est is not None and est.trusted and op.status == Status.OK else None)
        if truth is None and op.status in (Status.OK, Status.SKIPPED) and t is not None \
                and not judged and est is None:
            truth = t
        if truth is not None and not judge.within(expected, truth, rtol, atol):
            diff = expected - truth
            rel = f" ({abs(diff) / abs(truth):.3g} relative)" if truth else ""
            how = explain.value_difference(expected, truth, rtol)   # a sign, a factor
            notes.insert(0, f"yours {expected:.15g} differs from the true derivative "
                         f"{truth:.15g} by {diff:.3g}{rel}" + (f"; {how}" if how else ""))
            op.status, op.unchecked = Status.MISMATCH, False
        elif truth is None and op.status != Status.UNDEFINED:
            notes.append(f"yours {expected:.15g} is not compared: no reference")
        elif op.status == Status.UNDEFINED:
            notes.append(f"yours {expected:.15g} is not compared")
    if notes:
        op.reason = "; ".join(([op.reason] if op.reason else []) + notes)
    return op


def verify(run: Run, chk: Check | None, expected: Mapping[str, float], with_numeric: bool,
           claims: Sequence[Claim], rtol: float, atol: float,
           timeout: float = DEFAULT_TIMEOUT, of: str | None = None, points: int = CLAIM_POINTS,
           deadline: Deadline | None = None) -> Verification:
    """Verdicts at the run's point for every differentiated name, and on every claim, before
    the deadline (the call's, else one of `timeout` seconds from now)."""
    deadline = deadline_of(deadline, timeout)
    check_claim_names(claims, list(run.bindings))
    for name, value in run.bindings.items():
        if np.ndim(value) and (expected or with_numeric):
            raise InputError((Setting("expect"), " and ", Setting("numeric"),
                              f" take scalar bindings only, but '{name}' is a "
                              f"{'matrix' if np.ndim(value) == 2 else 'vector'}"))
    gradient = run.gradient()
    point = {n: float(v) for n, v in run.bindings.items()}
    partials: dict[str, Opinions] = {}
    for name, g in gradient.items():
        p = chk.partials.get(name) if chk is not None else None
        est = None
        if with_numeric:
            try:
                est = numeric.partial(run.program, point, name, of, deadline.at)
            except TimeoutError:
                est = numeric.Estimate(math.nan, math.inf, numeric.OVER_BUDGET, False)
        partials[name] = _opinions(name, g, p, est, expected.get(name), rtol, atol)
    verdicts = check_claims(run.program, list(run.bindings), claims, point, gradient, rtol,
                            atol, deadline, of, points) if claims else []
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


def _kink_arguments(exprs: Sequence[Any]) -> list[Any]:
    """Where the expressions are piecewise: the arguments of their steps (sign, Heaviside,
    DiracDelta), the differences of the arguments of max and min, the conditions of a
    Piecewise, and the arguments of every primitive whose record declares a kink or a branch
    cut (abs, atan2, ...). Their roots cut the line into the pieces a claim is sampled on."""
    sp = symbolic.namespace()
    classes = {p.sympy_class for p in ops.PRIMITIVES if p.sympy_class is not None
               and (p.kink is not None or p.cut is not None)} | {"sign", "Heaviside",
                                                                 "DiracDelta"}
    out: list[Any] = []
    seen: set[Any] = set()
    stack = [symbolic.display(e) for e in exprs]
    while stack:
        e = stack.pop()
        if e in seen or not e.args:
            continue
        seen.add(e)
        stack.extend(e.args)
        name = type(e).__name__
        if name in ("Max", "Min"):
            out += [a - b for k, a in enumerate(e.args) for b in e.args[k + 1:]]
        elif isinstance(e, sp.Piecewise):
            out += [c.lhs - c.rhs for _, c in e.args if isinstance(c, sp.Rel)]
        elif name in classes:
            out += list(e.args[:1] if name == "Heaviside" else e.args)
    return out


def _roots(arg: Any, variables: Sequence[str]) -> list[float]:
    """The real roots of an argument in one variable, where it is a polynomial (or a ratio of
    polynomials) of degree at most ROOT_DEGREE with at most ANCHOR_OPS operations: found
    exactly, in a time bounded by that size."""
    sp = symbolic.namespace()
    free = [s for s in arg.free_symbols if s.name in variables]
    if len(free) != 1 or arg.free_symbols - set(free) or sp.count_ops(arg) > ANCHOR_OPS:
        return []
    numerator = sp.together(arg).as_numer_denom()[0]
    try:
        poly = sp.Poly(numerator, free[0])
    except sp.PolynomialError:
        return []
    if not 0 < poly.degree() <= ROOT_DEGREE or not poly.domain.is_Exact:
        return []
    out = []
    for r in sp.real_roots(poly):
        v = float(r)
        if math.isfinite(v):
            out.append(v)
    return out


def _anchors(exprs: Sequence[Any], guards: Sequence[symbolic.Guard], variables: Sequence[str]
             ) -> list[float]:
    """Numbers to sample near: the constants of the expressions and the real roots of each
    domain guard's and each kink's argument in one variable (see _roots)."""
    sp = symbolic.namespace()
    out: set[float] = set()
    for e in exprs:
        for atom in symbolic.display(e).atoms(sp.Number):
            v = float(atom)
            if math.isfinite(v) and 1e-300 < abs(v) < 1e300:
                out.add(v)
    args = [symbolic.display(a) for g in guards for a in g.args] + _kink_arguments(exprs)
    for arg in args[:ANCHOR_ARGUMENTS]:
        out.update(_roots(arg, variables))
    return sorted(out)


def _pieces(anchors: Sequence[float]) -> list[float]:
    """One point inside each piece that the anchors cut the line into (the two unbounded
    pieces included), and one just beside each anchor on either side."""
    if not anchors:
        return []
    out = [anchors[0] - max(1.0, abs(anchors[0])), anchors[-1] + max(1.0, abs(anchors[-1]))]
    out += [(a + b) / 2 for a, b in zip(anchors, anchors[1:], strict=False)]
    for a in anchors:
        step = 1e-3 * max(1.0, abs(a))
        out += [a - step, a + step]
    return sorted(set(out))


def expanded_terms(expr: Any) -> int:
    """An upper bound on the number of terms sympy.expand makes of an expression (and of any
    function argument inside it), capped just above EXPAND_TERMS: a power of a sum is counted
    by the multinomial theorem."""
    cap = EXPAND_TERMS + 1
    sizes: dict[Any, int] = {}
    worst = 1
    stack: list[tuple[Any, bool]] = [(expr, False)]
    while stack:
        e, done = stack.pop()
        if e in sizes:
            continue
        if not done and e.args:
            stack.append((e, True))
            stack.extend((a, False) for a in e.args if a not in sizes)
            continue
        kids = [sizes[a] for a in e.args]
        if e.is_Add:
            n = sum(kids)
        elif e.is_Mul:
            n = 1
            for k in kids:
                n = min(cap, n * k)
        elif e.is_Pow and e.exp.is_Integer and int(e.exp) > 0:
            n = min(cap, math.comb(int(e.exp) + kids[0] - 1, kids[0] - 1)) if kids[0] > 1 \
                else 1
        else:
            n = 1   # an atom or a function: its arguments are expanded on their own
        sizes[e] = n = min(cap, n)
        worst = max(worst, n)
    return worst


def _proved(mine: Any, true: Any) -> bool:
    """Whether SymPy simplifies (claim - true derivative) to 0, trying only what the work
    limits allow (EXPAND_TERMS, SIMPLIFY_OPS)."""
    sp = symbolic.namespace()
    diff = symbolic.display(mine) - symbolic.display(true)
    if diff == 0:
        return True
    if expanded_terms(diff) <= EXPAND_TERMS and sp.expand(diff) == 0:
        return True
    return sp.count_ops(diff) <= SIMPLIFY_OPS and sp.simplify(diff) == 0


def _search(program: Program, variables: Sequence[str], claim: Claim, point: Mapping[str, float]
            | None, rtol: float, atol: float, points: int, of: str | None,
            deadline: float) -> dict[str, Any]:
    """In the child: the true derivative's form, both sides at the --at point, and a search for
    a counterexample at points where the function is defined and differentiable (one in every
    piece, then random ones), then SymPy's attempt to prove the claim. Raises TimeoutError
    past the deadline."""
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

    ladder = reference.PRECISIONS[:CLAIM_PRECISIONS]

    def judged(pt: Mapping[str, float]) -> tuple[Any, Any] | None:
        """(yours, true) at a point where the true derivative exists; yours is nan where the
        claim is undefined. None: outside the domain, at a kink, or unresolved."""
        if judge.domain(prog, outputs, fmeta, 3, pt, deadline) is not None:
            return None
        t = None
        for prec in ladder:
            t = reference.evaluate(prog, [outputs[1]], pt, prec, deadline)[0]
            if t.undefined:
                return None
            if t.resolved and judge.tight(t):
                break
        else:
            return None          # a kink or an unresolved point: no derivative
        if judge.domain(prog, outputs, cmeta, cfirst, pt, deadline) is not None:
            return math.nan, t.mid()
        for prec in ladder:
            c = reference.evaluate(prog, [outputs[2]], pt, prec, deadline)[0]
            if c.undefined:
                return math.nan, t.mid()
            if c.resolved and judge.tight(c):
                break
        return c.mid(), t.mid()

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
    anchors = _anchors([f, true, mine], [*fguards, *cguards], variables)
    rng = random.Random(f"{claim.name}:{claim.formula}")
    pieces = _pieces(anchors)
    planned = [(n, v) for v in pieces for n in variables]   # each variable in each piece
    if len(planned) > points // 2:
        planned = [planned[k * len(planned) // (points // 2)] for k in range(points // 2)]
    found = 0
    for attempt in range(40 * points):
        if found >= points:
            break
        pt = {n: _draw(rng, anchors) for n in variables}
        if attempt < len(planned):
            name, value = planned[attempt]
            pt[name] = value
        pair = judged(pt)
        if pair is None:
            continue
        found += 1
        if differs(*pair):
            out["counterexample"] = _simplest(pt, pair, judged, differs)
            break
    out["points"] = found
    if out["counterexample"] is None:
        out["proved"] = _proved(mine, true)
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
                 rtol: float, atol: float, deadline: Deadline, of: str | None = None,
                 points: int = CLAIM_POINTS) -> list[ClaimVerdict]:
    """A verdict on every claim: a counterexample search at points of the domain (and at the
    --at point, if any), then SymPy simplification; all before the deadline."""
    verdicts = judge_claims(
        claims, deadline, gradient,
        lambda c, d: _search(program, variables, c, point, rtol, atol, points, of, d),
        "no point where the true derivative exists was found, and SymPy could not simplify "
        "the difference to 0")
    explain.annotate(verdicts, program, variables, of, deadline)   # words only, no verdict
    return verdicts


Search = Callable[[Claim, float], dict[str, Any]]


def judge_claims(claims: Sequence[Claim], deadline: Deadline,
                 gradient: Mapping[str, Any] | None, search: Search, no_points: str
                 ) -> list[ClaimVerdict]:
    """A verdict on every claim from search(claim, deadline), run in a forked child (the
    counterexample search, then SymPy's simplification): differs, proved, equal (at every
    point tried) or undecided, with no_points as the reason when no point could be tried;
    skipped (time limit) when the call's deadline stopped it, or the reason SymPy failed.
    gradient: the tape's partials, shown beside the claim at the --at point."""
    symbolic.namespace()  # import SymPy once here, not in every forked child
    verdicts: list[ClaimVerdict] = []
    for claim in claims:
        status, found = run_with_budget(lambda c=claim: search(c, deadline.at), deadline)
        if status == "timeout":
            verdicts.append(ClaimVerdict(claim, Status.SKIPPED, reason=deadline.reason()))
            continue
        if status != "ok":
            verdicts.append(ClaimVerdict(claim, Status.UNDECIDED, reason=str(found)))
            continue
        v = ClaimVerdict(claim, Status.EQUAL, found["true_form"], found["points"],
                         found["counterexample"], found["at_point"], found.get("reason", ""))
        if v.at_point is not None and gradient is not None:
            v.at_point["tape"] = gradient.get(claim.name)
        if v.counterexample is not None:
            v.status = Status.DIFFERS
        elif found["proved"]:
            v.status = Status.PROVED
        elif v.points == 0:
            v.status = Status.UNDECIDED
            v.reason = no_points
        verdicts.append(v)
    return verdicts


def verify_claims_only(program: Program, claims: Sequence[Claim], rtol: float, atol: float,
                       timeout: float = DEFAULT_TIMEOUT, of: str | None = None,
                       points: int = CLAIM_POINTS, deadline: Deadline | None = None
                       ) -> Verification:
    """Claims about a function given without --at: no point, no tape run; before the deadline
    (the call's, else one of `timeout` seconds from now)."""
    deadline = deadline_of(deadline, timeout)
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
    verdicts = check_claims(program, variables, claims, None, None, rtol, atol, deadline, of,
                            points)
    forms = {v.claim.name: v.true_form for v in verdicts if v.true_form is not None}
    return Verification({}, verdicts, rtol, atol, False, forms)
