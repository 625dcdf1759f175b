"""The check of Hessians and Jacobians against SymPy's derivatives (engine/higher.py computes
them)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import ops
from ..budget import Deadline, deadline_of
from ..engine import vectors
from ..engine.evaluate import Run
from ..engine.higher import Hessian
from ..engine.tape import depth
from ..judge import verdict as judge
from ..judge.check import (
    DEFAULT_ATOL,
    DEFAULT_RTOL,
    DEFAULT_TIMEOUT,
    Check,
    Partial,
    apply_answer,
    check,
    derivative_key,
    domain_reason,
    kinks,
    mark_cut,
    plan,
    true_key,
    verdict,
)
from ..judge.verdict import Status
from ..lang.syntax import Program
from ..symbolic import convert as symbolic
from ..symbolic.derivatives import symbol_names
from ..symbolic.sandbox import run_with_budget

# ---------------------------------------------------------------- the cross-check


@dataclass
class HessianCheck:
    """Verdicts per Hessian entry, as for first-order partials."""

    status: Status                                # the entries' verdicts, combined
    entries: dict[str, dict[str, Partial]] = field(default_factory=dict)
    reason: str = ""
    rtol: float = DEFAULT_RTOL
    atol: float = DEFAULT_ATOL

    def as_check(self) -> Check:
        """The same verdicts as a flat Check (entries keyed 'i,j'), for summaries."""
        flat = {f"{i},{j}": p for i, row in self.entries.items() for j, p in row.items()}
        return Check(self.status, flat, value_status=Status.SKIPPED, reason=self.reason,
                     rtol=self.rtol, atol=self.atol)


def _programs() -> dict[tuple[Any, ...], dict[str, Any]]:
    """SymPy's Hessian program per (source, names, wrt, of): `--points --hessian` asks for the
    same second derivatives at every row; each row's child is forked from this process, so it
    finds the program an earlier row's child returned with its verdicts and needs no SymPy.
    Emptied when the primitive table changes (ops.derived)."""
    return ops.derived("hessian programs", dict)


def _hessian_program(program: Program, symbols: Mapping[str, Any], wrt: Sequence[str],
                     of: str | None) -> dict[str, Any] | None:
    """SymPy's second derivative per pair (i <= j in wrt order: component symbols) and, with
    stop_gradient, the true one, compiled with the domain guards; None when the forms cannot
    be compiled. symbols: each bound name's symbol or component symbols (as for
    program_to_sympy)."""
    from ..symbolic import compiled

    guards: list[symbolic.Guard] = []
    expr = symbolic.program_to_sympy(program, symbols, of, guards)
    true_expr = symbolic.without_stop_gradient(expr)
    pairs = [(i, j) for a, i in enumerate(wrt) for j in wrt[a:]]
    seconds = [symbolic.derivative(symbolic.derivative(expr, i), j) for i, j in pairs]
    trues = [] if true_expr is None else [
        symbolic.derivative(symbolic.derivative(true_expr, i), j) for i, j in pairs]
    meta = [[g.kind, g.op, None if g.span is None else g.span.start,
             None if g.span is None else g.span.end, len(g.args)] for g in guards]
    exprs = [expr, *seconds, *trues, *(a for g in guards for a in g.args)]
    try:
        prog, outputs = compiled.compile_sympy(exprs, symbol_names(symbols),
                                               symbolic.constants_of(exprs))
    except compiled.Unsupported:
        return None
    return {"forms": {pair: symbolic.form(d, symbols) for pair, d in zip(pairs, seconds,
                                                                         strict=True)},
            "pairs": pairs, "program": prog, "outputs": outputs, "meta": meta,
            "has_true": bool(trues),
            "true_forms": {pair: symbolic.form(d, symbols) for pair, d in zip(pairs, trues,
                                                                        strict=False)}}


def _judge_hessian(program: Program, symbols: Mapping[str, Any], wrt: Sequence[str],
                   point: dict[str, float], of: str | None, tapes: dict[tuple[str, str], Any],
                   floors: dict[tuple[str, str], float], rtol: float, deadline: float,
                   labels: dict[str, str]) -> dict[str, Any]:
    """In the child: the Hessian program (from an earlier row, or SymPy's), each entry judged
    against the tape's (judge.judge_point), keyed ("d", (i, j)) and ("true", (i, j)) by
    component symbols; labels: symbol -> the component's label (w[0]) for reasons."""
    key = (program.source, tuple(symbol_names(symbols)), tuple(wrt), of)
    data = _programs().get(key) or _hessian_program(program, symbols, wrt, of)
    if data is None:
        expr = symbolic.program_to_sympy(program, symbols, of, [])
        pairs = [(i, j) for a, i in enumerate(wrt) for j in wrt[a:]]
        seconds = [symbolic.derivative(symbolic.derivative(expr, i), j) for i, j in pairs]
        forms = {pair: symbolic.form(d, symbols) for pair, d in zip(pairs, seconds,
                                                                    strict=True)}
        values = [symbolic.evaluate(e, point) for e in [expr, *seconds]]
        return {"forms": forms, "pairs": pairs, "fallback": values, "judged": None}
    pairs = data["pairs"]
    questions: list[judge.Question] = []
    index = {pair: k for k, pair in enumerate(pairs)}
    # no entry is judged by the limit of its form (verdict._limit): that needs the first
    # derivative to be continuous, and a kink of f (abs at 0) makes it jump
    for entry in tapes:   # every ordered pair: the tape's Hessian need not be symmetric
        k = index[entry if entry in index else (entry[1], entry[0])]
        t = tapes[entry]
        side = tuple(dict.fromkeys(entry))
        words = {s: labels[s] for s in side}
        if t is not None:
            questions.append(judge.Question(derivative_key(entry), 1 + k, t, rtol,
                                            floors[entry], side=side, labels=words,
                                            limit=False))
        if data["has_true"]:
            questions.append(judge.Question(true_key(entry), 1 + len(pairs) + k,
                                            0.0 if t is None else t, rtol, floors[entry],
                                            side=side, labels=words, limit=False))
    first = 1 + len(pairs) * (2 if data["has_true"] else 1)
    judged = judge.judge_point(data["program"], data["outputs"], data["meta"], first, point,
                               questions, deadline)
    return {**data, "judged": judged, "key": key}


def check_hessian(run: Run, hess: Hessian, rtol: float = DEFAULT_RTOL,
                  atol: float = DEFAULT_ATOL, timeout: float = DEFAULT_TIMEOUT,
                  of: str | None = None, deadline: Deadline | None = None) -> HessianCheck:
    """Judge every Hessian entry against the true second derivative at the same point (as
    check.check judges first-order partials); of: the output name given with --of, if any;
    deadline: the call's (else one of `timeout` seconds from now).

    An entry's floor is eps * 2*depth times the larger of the largest entry in its row or
    column and the magnitude of the terms the second backward pass added up for it (computed
    only when a mismatch needs it)."""
    deadline = deadline_of(deadline, timeout)
    pl = plan(run, rtol, atol)   # the point and the symbols of every bound component
    sym = {label: symbol for n in run.wrt for label, symbol in zip(
        vectors.labels(n, run.bindings[n]), vectors.symbol_list(pl.symbols[n]), strict=True)}
    target = run.target_id()
    d = 1 if target is None else 2 * depth(run.nodes, target)
    tapes: dict[tuple[str, str], Any] = {}
    floors: dict[tuple[str, str], float] = {}
    for i in hess.names:
        for j in hess.names:
            tapes[(sym[i], sym[j])] = hess.matrix[i][j]
            scale = max([abs(float(v)) for v in (*hess.matrix[i].values(),
                                                  *hess.matrix[j].values())
                         if v is not None and np.isfinite(v)] or [0.0])
            floors[(sym[i], sym[j])] = judge.floor(atol, scale, d)
    labels = {symbol: label for label, symbol in sym.items()}
    status, result = run_with_budget(
        lambda: _judge_hessian(run.program, pl.symbols, [sym[i] for i in hess.names], pl.point,
                               of, tapes, floors, rtol, deadline.at, labels), deadline)
    entries: dict[str, dict[str, Partial]] = {i: {} for i in hess.names}
    if status == "ok" and "key" in result:
        _programs()[result["key"]] = {k: v for k, v in result.items()
                                      if k not in ("judged", "key")}
    if status != "ok":
        reason = deadline.reason() if status == "timeout" else str(result)
        for i in hess.names:
            for j in hess.names:
                entries[i][j] = Partial(f"{i},{j}", hess.matrix[i][j], Status.SKIPPED,
                                        reason=reason)
        return HessianCheck(Status.SKIPPED, entries, reason, rtol, atol)
    why = kinks(run)
    gradient = dict(pl.gradient)   # per component label: None where not connected
    index = {pair: k for k, pair in enumerate(result["pairs"])}

    def ordered(i: str, j: str) -> tuple[str, str]:
        """The symbol pair of an entry as the program computes it (i <= j)."""
        pair = (sym[i], sym[j])
        return pair if pair in index else (pair[1], pair[0])

    decided: dict[tuple[str, str], Partial] = {}
    if result["judged"] is None:
        values = result["fallback"]
        for i in hess.names:
            for j in hess.names:
                free = i if gradient[i] is None else j
                decided[(i, j)] = verdict(
                    f"{i},{j}", hess.matrix[i][j], result["forms"][ordered(i, j)],
                    values[1 + index[ordered(i, j)]], None, rtol, floors[(sym[i], sym[j])],
                    unconnected=f"not connected: the output does not depend on {free}")
    else:
        failure, answers = result["judged"]
        if any(a.status == Status.MISMATCH for a in answers.values()):
            answers = judge.refloor(answers, _full_floors(hess, floors, labels, atol, d))
        for i in hess.names:
            for j in hess.names:
                pair = (sym[i], sym[j])
                t = hess.matrix[i][j]
                form = result["forms"][ordered(i, j)]
                p = Partial(f"{i},{j}", t, Status.OK, form, floor=floors[pair])
                free = i if gradient[i] is None else j
                if t is None:
                    p.status = Status.NULL if form == "0" else Status.MISMATCH
                    p.reason = (f"not connected: the output does not depend on {free}"
                                if form == "0" else "the tape has no path but the derivative "
                                "is not zero")
                elif failure is not None:
                    p.status, p.reason = Status.UNDEFINED, domain_reason(run, failure)
                else:
                    apply_answer(p, answers[derivative_key(pair)], why.get(i) or why.get(j),
                                 float(t))
                tr = answers.get(true_key(pair))
                if tr is not None:
                    p.true_symbolic = result["true_forms"][ordered(i, j)]
                    p.true_value = tr.value
                    if p.status in (Status.OK, Status.NULL) and tr.status == Status.MISMATCH:
                        mark_cut(run, p, tr.value, vectors.owner(i))
                decided[(i, j)] = p
    for i in hess.names:
        for j in hess.names:
            entries[i][j] = decided[(i, j)]
    overall = judge.combine(p.status for row in entries.values() for p in row.values())
    return HessianCheck(overall, entries, rtol=rtol, atol=atol)


def _full_floors(hess: Hessian, floors: dict[tuple[str, str], float], labels: dict[str, str],
                 atol: float, d: int) -> dict[Any, float]:
    """Each entry's full floor, by the keys of its questions (and raised in `floors`, keyed by
    component symbols; labels: symbol -> label): the larger of its first estimate and the
    second backward pass's magnitudes."""
    mags = hess.magnitudes() if hess.magnitudes is not None else {}
    out: dict[Any, float] = {}
    for pair in floors:
        i, j = pair
        m = float(mags.get(labels[i], {}).get(labels[j], 0.0))
        floors[pair] = max(floors[pair], judge.floor(atol, m, d))
        out[derivative_key(pair)] = out[true_key(pair)] = floors[pair]
    return out


def check_all(rows: Sequence[Run], rtol: float = DEFAULT_RTOL, atol: float = DEFAULT_ATOL,
              timeout: float = DEFAULT_TIMEOUT, cache: bool = True,
              deadline: Deadline | None = None) -> list[Check]:
    """The first-order check of each Jacobian row, all before the one deadline (the call's,
    else one of `timeout` seconds from now); cache: read and fill the disk cache of
    derivatives, as check.check."""
    deadline = deadline_of(deadline, timeout)
    if len(rows) > 1:
        symbolic.namespace()  # import SymPy once here, so the forked checks share it
    return [check(row, rtol, atol, timeout, row.output_name, cache=cache, deadline=deadline)
            for row in rows]
