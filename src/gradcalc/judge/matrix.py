"""Claims about a gradient with respect to a vector or matrix, written in matrix notation
(`--claim "w: 2*transpose(X)@(X@w - y)"`): the claim's value is compared with the true
gradient component by component, at the --at point and at random vectors and matrices of the
bindings' shapes (small whole numbers first, so a counterexample is easy to read), then
SymPy tries to simplify every component's difference to 0.

Both sides are SymPy expressions of the components' symbols (symbolic.convert), evaluated
with mpmath at 30 digits; everything runs in a forked child (sandbox.run_with_budget), bounded
by counts (points, expression sizes) and stopped only by the call's deadline.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..budget import Deadline, deadline_of
from ..engine import vectors
from ..engine.evaluate import Run
from ..errors import SHAPES_HINT, InputError, Setting, unassigned_output
from ..judge import verdict as judge
from ..judge.check import DEFAULT_TIMEOUT, Check
from ..judge.claims import (
    EXPAND_TERMS,
    Claim,
    ClaimVerdict,
    Verification,
    check_claim_names,
    expanded_terms,
    judge_claims,
)
from ..lang.syntax import Assign, Program, free_names
from ..symbolic import convert as symbolic
from ..symbolic.sandbox import run_with_budget

DIGITS = 30


def verify(run: Run, claims: Sequence[Claim], rtol: float, atol: float,
           timeout: float = DEFAULT_TIMEOUT, of: str | None = None, points: int = 100,
           deadline: Deadline | None = None) -> Verification:
    """The verdicts on claims about a run with vector or matrix bindings, before the deadline
    (the call's, else one of `timeout` seconds from now)."""
    check_claim_names(claims, list(run.bindings))
    deadline = deadline_of(deadline, timeout)
    return Verification({}, check_claims(run, claims, rtol, atol, deadline, of, points), rtol,
                        atol)


def check_claims(run: Run, claims: Sequence[Claim], rtol: float, atol: float,
                 deadline: Deadline, of: str | None, points: int) -> list[ClaimVerdict]:
    """A verdict on every claim about a run with vector or matrix bindings."""
    for claim in claims:
        _check_shape(run, claim)
    return judge_claims(claims, deadline, run.gradient(),
                        lambda c, d: _search(run, c, rtol, atol, of, points, d),
                        "no point where the true gradient is finite was found")


def _search(run: Run, claim: Claim, rtol: float, atol: float, of: str | None, points: int,
            deadline: float) -> dict[str, Any]:
    """In the child: both sides as SymPy components, compared at points, then expanded (where
    the expansion's size is within claims.EXPAND_TERMS)."""
    import mpmath

    from ..symbolic.derivatives import matrix_work

    sp = symbolic.namespace()
    bindings = run.bindings
    symbols = vectors.symbol_names(bindings)
    f = symbolic.program_to_sympy(run.program, symbols, of)
    shape = np.shape(bindings[claim.name])
    out: dict[str, Any] = {"true_form": None, "at_point": None, "counterexample": None,
                           "points": 0, "proved": False}
    try:  # the true gradient in matrix notation, where SymPy's matrix calculus gives it
        from ..symbolic import matrix_form

        forms, _ = matrix_form.gradients(run.program, bindings, [claim.name], run.gradient(), of)
        out["true_form"] = forms[claim.name].text if claim.name in forms else None
    except Exception:  # noqa: BLE001 - a missing formula only leaves the column empty
        pass
    comps = vectors.symbol_list(symbols[claim.name])
    work = matrix_work(f, symbols, len(comps))
    if work is not None and symbolic.without_stop_gradient(f) is None:
        return _numeric_search(run, claim, rtol, atol, of, points, deadline, out, work)
    f = symbolic.without_stop_gradient(f) or f
    true = [symbolic.derivative(f, c) for c in comps]
    env = {n: symbolic.bound_symbols(s) for n, s in symbols.items()}
    mine_value = symbolic.expr_to_sympy(claim.expr, env)
    mine = _broadcast(mine_value, shape)
    names = vectors.symbol_names(bindings)
    every = [s for n in bindings for s in vectors.symbol_list(names[n])]
    constants = {s: sp.Rational(v[1].numerator, v[1].denominator)
                 for e in (*true, *mine) for s in e.free_symbols
                 if s.name in symbolic.CONSTANT_VALUES
                 for v in [symbolic.CONSTANT_VALUES[s.name]]}
    fn = sp.lambdify([symbolic.symbol(s) for s in every],
                     [e.xreplace(constants) for e in (*true, *mine)], modules="mpmath")
    n = len(comps)

    def judged(values: Sequence[float]) -> tuple[list[Any], list[Any]] | None:
        with mpmath.workdps(DIGITS):
            try:
                got = fn(*(mpmath.mpf(v) for v in values))
            except (ZeroDivisionError, ValueError, OverflowError, TypeError):
                return None
        t = [_real(x) for x in got[:n]]
        if any(x is None or not math.isfinite(x) for x in t):
            return None
        return [_real(x) for x in got[n:]], t

    def differs(pair: tuple[list[Any], list[Any]]) -> int | None:
        yours, t = pair
        scale = max([abs(x) for x in t] + [1.0])
        for k, (y, x) in enumerate(zip(yours, t, strict=True)):
            if y is None or not judge.within(y, x, rtol, max(atol, 1e-20 * scale)):
                return k
        return None

    def as_point(values: Sequence[float]) -> dict[str, Any]:
        out_: dict[str, Any] = {}
        k = 0
        for name, value in bindings.items():
            size = int(np.size(value))
            out_[name] = np.reshape(np.array(values[k:k + size], dtype=float), np.shape(value))
            if out_[name].ndim == 0:
                out_[name] = float(out_[name])
            k += size
        return out_

    def report(values: Sequence[float], pair: tuple[list[Any], list[Any]], k: int) -> dict:
        yours, t = pair
        label = vectors.labels(claim.name, bindings[claim.name])[k]
        return {"at": as_point(values), "component": label,
                "yours": _shaped(yours, shape), "true": _shaped(t, shape)}

    here = [float(c) for n_ in bindings for c in np.ravel(bindings[n_])]
    pair = judged(here)
    if pair is not None:
        out["at_point"] = {"yours": _shaped(pair[0], shape), "true": _shaped(pair[1], shape)}
        k = differs(pair)
        if k is not None:
            out["counterexample"] = report(here, pair, k)
            return out
    rng = random.Random(f"{claim.name}:{claim.formula}")
    found = 0
    for attempt in range(20 * points):
        if found >= points:
            break
        if attempt < points // 2:  # small whole numbers first: a readable counterexample
            values = [float(rng.randint(-2, 2)) for _ in here]
        else:
            values = [rng.uniform(-3.0, 3.0) for _ in here]
        pair = judged(values)
        if pair is None:
            continue
        found += 1
        k = differs(pair)
        if k is not None:
            out["counterexample"] = report(values, pair, k)
            break
    out["points"] = found
    if out["counterexample"] is None:
        diffs = [symbolic.display(a) - symbolic.display(b) for a, b in zip(mine, true,
                                                                         strict=True)]
        out["proved"] = all(expanded_terms(d) <= EXPAND_TERMS for d in diffs) and \
            all(sp.expand(d) == 0 for d in diffs)
    return out


NUMERIC_POINTS = 10   # random points (besides --at) of a claim compared numerically


def _numeric_search(run: Run, claim: Claim, rtol: float, atol: float, of: str | None,
                    points: int, deadline: float, out: dict[str, Any], work: int
                    ) -> dict[str, Any]:
    """In the child, for a program whose SymPy derivatives are beyond the work limit: the
    claim (evaluated in float64 by gradcalc's forward functions) against five-point
    differences of the program (numeric.component, no tape) at the --at point and at up to
    NUMERIC_POINTS random points, each component within rtol plus numeric.SAFETY times its
    error estimate. Never proved: at best equal at the points tried."""
    from ..engine.evaluate import evaluate_expr
    from ..errors import InputError
    from ..symbolic.derivatives import MATRIX_WORK
    from . import numeric

    bindings = run.bindings
    shape = np.shape(bindings[claim.name])
    rng = random.Random(f"{claim.name}:{claim.formula}")
    tries = [dict(bindings)] + [
        {n: (rng.uniform(-3.0, 3.0) if np.ndim(v) == 0 else
             np.array([rng.uniform(-3.0, 3.0) for _ in range(np.size(v))]).reshape(np.shape(v)))
         for n, v in bindings.items()} for _ in range(min(points, NUMERIC_POINTS))]
    labels = vectors.labels(claim.name, bindings[claim.name])
    found = 0
    for k, at in enumerate(tries):
        try:
            value = evaluate_expr(claim.expr, dict(at), claim.formula)
        except InputError:
            continue
        yours = np.broadcast_to(np.asarray(value.value if hasattr(value, "uid") else value,
                                           dtype=float), shape).ravel()
        estimates = [numeric.component(run.program, at, claim.name, c, of, deadline)
                     for c in range(len(labels))]
        if not all(e.trusted and math.isfinite(e.value) for e in estimates):
            continue
        found += 1
        true = [e.value for e in estimates]
        if k == 0:
            out["at_point"] = {"yours": _shaped(list(yours), shape),
                               "true": _shaped(true, shape)}
        for c, (y, e) in enumerate(zip(yours, estimates, strict=True)):
            if not judge.within(float(y), e.value, rtol, atol + numeric.SAFETY * e.error):
                out["counterexample"] = {
                    "at": {n: float(v) if np.ndim(v) == 0 else np.asarray(v)
                           for n, v in at.items()},
                    "component": labels[c], "yours": _shaped(list(yours), shape),
                    "true": _shaped(true, shape)}
                out["points"] = found
                return out
    out["points"] = max(0, found - (out["at_point"] is not None))
    out["reason"] = (f"compared with numeric differences (not proven): SymPy's derivatives "
                     f"are beyond the work limit (over {MATRIX_WORK:,} tree nodes times "
                     "partials)")
    return out


def _check_shape(run: Run, claim: Claim) -> None:
    """Run the claim's formula at the --at point: shape errors inside it, or a result that
    does not have (or broadcast to) the shape of the gradient, are input errors."""
    from ..engine.evaluate import evaluate_expr
    try:
        value = evaluate_expr(claim.expr, dict(run.bindings), claim.formula)
    except InputError as exc:
        raise InputError((Setting("claim"), ": ", *exc.parts,
                          f" in the claim for '{claim.name}'"), hint=exc.hint_parts) from None
    got = np.shape(value.value if hasattr(value, "uid") else value)
    want = np.shape(run.bindings[claim.name])
    try:
        fits = np.broadcast_shapes(got, want) == want
    except ValueError:
        fits = False
    if not fits:
        raise InputError((Setting("claim"), f": the claim for '{claim.name}' is "
                          f"{_words(got)}, but the gradient with respect to {claim.name} is "
                          f"{_words(want)}"),
                         claim.name_span, claim.source)


def _real(x: Any) -> float | None:
    try:
        c = complex(x)
        return None if c.imag != 0 else c.real
    except (TypeError, ValueError):
        return None


def _shape(x: Any) -> tuple[int, ...]:
    if not isinstance(x, tuple):
        return ()
    return (len(x), len(x[0])) if x and isinstance(x[0], tuple) else (len(x),)


def _words(shape: tuple[int, ...]) -> str:
    if not shape:
        return "a scalar"
    if len(shape) == 1:
        return f"a vector of {shape[0]} components"
    return f"a {shape[0]}x{shape[1]} matrix"


def _broadcast(x: Any, shape: tuple[int, ...]) -> list[Any]:
    """The claim's components, broadcast to the gradient's shape, row by row."""
    arr = np.empty(_shape(x), dtype=object)
    for at in np.ndindex(*arr.shape) if arr.shape else [()]:
        v = x
        for k in at:
            v = v[k]
        arr[at] = v
    return list(np.broadcast_to(arr, shape).ravel())


def _shaped(values: Sequence[Any], shape: tuple[int, ...]) -> Any:
    arr = np.array([math.nan if v is None else v for v in values], dtype=float)
    return float(arr[0]) if not shape else arr.reshape(shape)


# ---------------------------------------------------------------- matrix notation


def add_matrix_notation(run: Run, chk: Check, of: str | None, deadline: Deadline) -> None:
    """Set chk.matrix (name -> the gradient in matrix notation, where SymPy's matrix calculus
    gives a formula whose numbers equal the tape's here) and chk.matrix_note (why the other
    vector and matrix names are left to the per-component check), before the deadline."""
    status, found = run_with_budget(lambda: _forms(run, of), deadline)
    if status != "ok":
        chk.matrix_note = ("skipped (time limit)" if status == "timeout" else str(found)) + \
            "; checked component by component"
        return
    forms, note = found
    chk.matrix = {n: f.text for n, f in forms.items()}
    chk.matrix_note = note


def _forms(run: Run, of: str | None) -> tuple[dict[str, Any], str]:
    from ..symbolic import matrix_form

    return matrix_form.gradients(run.program, run.bindings, run.wrt, run.gradient(), of)


def symbolic_gradient(program: Program, bindings: Mapping[str, Any], wrt: Sequence[str],
                      gradient: Mapping[str, Any] | None, fmt: str, of: str | None,
                      deadline: Deadline) -> tuple[list[str] | None, str]:
    """--symbolic: the gradient's formulas as text, LaTeX or a Python module of numpy
    functions, in matrix notation where SymPy's matrix calculus gives one (checked against the
    tape's gradient at the point), else per component; or None and why not (the time limit,
    or SymPy failing). bindings give each name's shape; gradient None: no point (scalars only,
    no matrix notation tried)."""
    status, found = run_with_budget(
        lambda: _all_forms(program, bindings, wrt, gradient, of, fmt), deadline)
    if status != "ok":
        return None, deadline.reason() if status == "timeout" else f"SymPy {found}"
    if fmt == "python":
        from ..symbolic.printer import python_module

        return [python_module(program.source, found)], ""
    return found, ""


def symbolic_without_point(program: Program, wrt: Sequence[str] | None, fmt: str,
                           of: str | None, deadline: Deadline) -> tuple[list[str] | None, str]:
    """--symbolic without --at, as claims are checked without it: every name the program
    reads is a scalar; vectors and matrices need --at for their shapes."""
    from ..engine.matrices import matrix_operation

    variables = free_names(program)
    bodies = [s.value if isinstance(s, Assign) else s for s in program.statements]
    if matrix_operation(bodies) is not None or _reduction(bodies):
        raise InputError((Setting("symbolic"), " for vectors and matrices needs ",
                          Setting("at"), ": the bindings give the shapes"), hint=SHAPES_HINT)
    for name in wrt or []:
        if name not in variables:
            raise InputError((Setting("wrt"), f" names '{name}', which the program does "
                              "not read"),
                             hint="names it reads: " + (", ".join(variables) or "none"))
    assigned = {s.target for s in program.statements if isinstance(s, Assign)}
    if of is not None and of not in assigned:
        raise unassigned_output(of)
    return symbolic_gradient(program, dict.fromkeys(variables, 0.0),
                             list(wrt) if wrt is not None else variables, None, fmt, of,
                             deadline)


def _reduction(exprs: Sequence[Any]) -> bool:
    """Whether the expressions index a vector or reduce one (sum(w), w[0], softmax(v)): their
    names are vectors, whose length only a binding gives."""
    from .. import ops
    from ..lang.syntax import Call, Index, postorder

    arity = {p.spelling: p.arity for p in ops.PRIMITIVES if p.reduction and p.spelling}
    return any(isinstance(node, Index) or isinstance(node, Call) and
               arity.get(node.func) == len(node.args)
               for root in exprs for node in postorder(root))


def _all_forms(program: Program, bindings: Mapping[str, Any], wrt: Sequence[str],
               gradient: Mapping[str, Any] | None, of: str | None, fmt: str) -> list[str]:
    sp = symbolic.namespace()
    forms: dict[str, Any] = {}
    if gradient is not None:
        from ..symbolic import matrix_form

        forms, _ = matrix_form.gradients(program, bindings, wrt, gradient, of)
    symbols = vectors.symbol_names(bindings)
    expr = None
    lines: list[str] = []
    order = list(bindings)
    for name in wrt:
        if name in forms:
            f = forms[name]
            lines.append({"text": f"d/d{name} = {f.text}",
                          "latex": f"\\frac{{\\partial f}}{{\\partial {name}}} = {f.latex}",
                          "python": f.python}[fmt])
            continue
        if expr is None:
            expr = symbolic.program_to_sympy(program, symbols, of)
        labels = vectors.labels(name, bindings[name])
        comps = vectors.symbol_list(symbols[name])
        derivs = [symbolic.display(symbolic.derivative(expr, c)) for c in comps]
        if fmt == "text":
            lines += [f"d/d{label} = {symbolic.form(d, symbols)}"
                      for label, d in zip(labels, derivs, strict=True)]
        elif fmt == "latex":
            lines += [f"\\frac{{\\partial f}}{{\\partial {sp.latex(symbolic.symbol(c))}}} = "
                      f"{sp.latex(d)}" for c, d in zip(comps, derivs, strict=True)]
        else:
            lines.append(_python_components(name, bindings, order, symbols, derivs))
    return lines


def _python_components(name: str, bindings: Any, order: list[str], symbols: Any,
                       derivs: list[Any]) -> str:
    """A numpy function of the bindings giving d/dname from its per-component formulas."""
    from ..symbolic.printer import python_name, to_numpy

    how = ", component by component" if np.shape(bindings[name]) else ""
    lines = [f"def grad_{name}({', '.join(python_name(n) for n in order)}):",
             f'    """d/d{name}{how}."""']
    for n in order:
        comps = vectors.symbol_list(symbols[n])
        shape = np.shape(bindings[n])
        if shape:
            lines.append(f"    {', '.join(comps)}, = numpy.ravel({python_name(n)})")
        elif comps[0] != n:
            lines.append(f"    {comps[0]} = {python_name(n)}")
    body = [to_numpy(d) for d in derivs]
    shape = np.shape(bindings[name])
    if not shape:
        lines.append(f"    return {body[0]}")
    else:
        lines.append(f"    return numpy.reshape(numpy.array([{', '.join(body)}]), {shape})")
    return "\n".join(lines)
