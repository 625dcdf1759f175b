"""Higher order: Hessians by reverse-over-reverse on nested tapes, Jacobians by one backward pass
per output, and their cross-check against SymPy's derivatives.

Hessian: the run's tape (a Wengert list) is replayed under two nested tapes; the inner tape's
gradient is taken in graph mode, so the outer tape records the backward pass itself; then one
backward pass of the outer tape per differentiated name gives one row of the matrix. Cost: one
replay, one recorded gradient and n backward passes over a tape a few times the forward's length
(no symbolic expansion anywhere).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import ops
from ..budget import Deadline, deadline_of
from ..engine import vectors
from ..engine.evaluate import Run, where
from ..engine.sweep import seed_of
from ..engine.tape import (
    Node,
    Tape,
    Tensor,
    apply,
    backward,
    depth,
    input_values,
)
from ..errors import InputError, Setting, unassigned_output
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

# ---------------------------------------------------------------- the engine


@dataclass
class SecondOrder:
    """Gradient and Hessian of one tape node with respect to leaf nodes.

    gradient[i]: d target / d source i, None if not connected. hessian[i][j]: the second
    partial, None when the target does not depend on source i or j (a true zero is 0.0).
    nonfinite: where the second backward pass first produced a non-finite contribution: (outer
    tape node, the id of the replayed node it copies or None for a node of the recorded backward
    pass, argument index); None if none. magnitudes(): blocks as hessian's, each entry the sum
    of the magnitudes of the terms its backward pass added up (judge.floor), computed when
    asked.
    """

    gradient: list[Any]
    hessian: list[list[Any]]
    nonfinite: tuple[Node, int | None, int] | None = None
    magnitudes: Callable[[], list[list[Any]]] | None = None


def second_order(nodes: Sequence[Node], target: int, sources: Sequence[int]) -> SecondOrder:
    """Hessian of node `target` with respect to the leaf nodes `sources` (reverse over reverse).

    The tape up to the target is replayed under an outer and an inner tape; the inner gradient
    runs in graph mode, recorded on the outer tape; one backward pass of the outer tape per
    component of each source's gradient gives each row. For sources of shapes S_i and S_j,
    hessian[i][j] has the shape S_i + S_j (a float64 for two scalars). Loops only, no
    recursion.
    """
    outer = Tape(persistent=True, watch_accessed_variables=False)
    inner = Tape(persistent=True, watch_accessed_variables=False)
    last = max([target, *sources])  # a source may be watched after the target was computed
    mapped: list[Any] = [None] * (last + 1)
    original: dict[int, int] = {}  # outer node id -> replayed node id
    with outer, inner:
        for node in nodes[: last + 1]:
            if node.prim is not None and node.id > target:
                continue
            if node.prim is None:
                t = Tensor(node.value, node.label or node.tensor.name)
                outer.watch(t)
                inner.watch(t)
            else:
                args = [mapped[r] if isinstance(r, int) else r.value for r in node.inputs]
                t = apply(node.prim, *args, span=node.span)
            mapped[node.id] = t
            replayed = outer.node_of(t)
            if replayed is not None:
                original[replayed.id] = node.id
                replayed.label = node.label
        leaves = [mapped[s] for s in sources]
    with outer:
        grads = inner.gradient(mapped[target], leaves)
    leaf_ids = [outer.node_of(t).id for t in leaves]  # type: ignore[union-attr]
    shapes = [np.shape(t.value) for t in leaves]
    n = len(sources)
    hessian: list[list[Any]] = []
    nonfinite: tuple[Node, int | None, int] | None = None

    def passes(g: Any, shape: tuple[int, ...], blocks: list[Any], magnitude: bool = False
               ) -> Iterator[Any]:
        """One backward pass of the outer tape per component of the gradient g, each row put
        into blocks (left as zeros where g has no node: a constant, whose derivatives are true
        zeros); yields each pass's result."""
        node = outer.node_of(g)
        for k in np.ndindex(shape) if node is not None else ():
            seed = seed_of(g.value) if not shape else _unit(shape, k)
            result = backward(outer.nodes, node.id, leaf_ids,  # type: ignore[union-attr]
                              np.abs(seed) if magnitude else seed,
                              magnitude=magnitude, exact_zeros=not magnitude)
            for block, i in zip(blocks, leaf_ids, strict=True):
                if result.adjoints[i] is not None:
                    block[k] = _plain(result.adjoints[i])
            yield result

    for g, shape in zip(grads, shapes, strict=True):
        if g is None:
            hessian.append([None] * n)
            continue
        blocks = [np.zeros(shape + other) for other in shapes]
        for result in passes(g, shape, blocks):
            if nonfinite is None and result.nonfinite is not None:
                j, arg = result.nonfinite
                nonfinite = (outer.nodes[j], original.get(j), arg)
        hessian.append([_plain(b) for b in blocks])
    gradient = [None if g is None else _plain(g) for g in grads]
    _mixed_from_either_order(hessian)
    for i in range(n):
        for j in range(n):
            if gradient[i] is None or gradient[j] is None:
                hessian[i][j] = None

    def magnitudes() -> list[list[Any]]:
        rows = []
        for g, shape in zip(grads, shapes, strict=True):
            blocks = [np.zeros(shape + other) for other in shapes]
            if g is not None:
                for _ in passes(g, shape, blocks, magnitude=True):
                    pass
            rows.append([np.abs(_plain(b)) for b in blocks])
        return rows

    return SecondOrder(gradient, hessian, nonfinite, magnitudes)


def _mixed_from_either_order(hessian: list[list[Any]]) -> None:
    """Where a mixed partial came out non-finite in one order of differentiation and finite in
    the other, the finite one for both: the two agree wherever the function is twice
    continuously differentiable, and one order can pass through an intermediate that
    overflows where the other does not (sqrt(x*y) at x = 1e-300, y = 1e-10: d/dy of d/dx
    meets -2.5e454 on its way to 2.5e154, d/dx of d/dy does not). The check judges both."""
    n = len(hessian)
    for i in range(n):
        for j in range(n):
            a, b = hessian[i][j], hessian[j][i]
            if i != j and a is not None and b is not None and np.ndim(a) == 0 \
                    and not np.isfinite(a) and np.isfinite(b):
                hessian[i][j] = b


def _plain(x: Any) -> Any:
    v = x.value if isinstance(x, Tensor) else x
    return np.float64(v) if np.ndim(v) == 0 else np.asarray(v)


def _unit(shape: tuple[int, ...], k: tuple[int, ...]) -> Any:
    """The seed that picks component k of a gradient of this shape."""
    seed = np.zeros(shape)
    seed[k] = 1.0
    return seed


@dataclass
class Hessian:
    """The Hessian of a run's output: matrix[i][j] per pair of differentiated components
    (names: the labels x, w[0], A[0,1] of every component of every differentiated name, in
    order; vectors.Component)."""

    names: list[str]
    matrix: dict[str, dict[str, Any]]
    nonfinite: list[str] = field(default_factory=list)  # messages, empty if all finite
    # per entry, the magnitude its rounding is relative to (SecondOrder.magnitudes), on demand
    magnitudes: Callable[[], dict[str, dict[str, Any]]] | None = None


# the most components --hessian takes: n of them make n*n entries, n backward passes and
# n*(n+1)/2 symbolic second derivatives
HESSIAN_COMPONENTS = 100


def hessian(run: Run) -> Hessian:
    """The Hessian of the run's (scalar) output with respect to every component of its
    differentiated names.

    Raises InputError for a vector output, or more than HESSIAN_COMPONENTS components.
    """
    if np.ndim(run.value):
        raise InputError((Setting("hessian"), " needs a scalar output, but "
                          f"{run.output_name or 'the output'} is a vector of length "
                          f"{np.size(run.value)}"))
    per_name = {n: vectors.labels(n, run.bindings[n]) for n in run.wrt}
    names = [label for labels in per_name.values() for label in labels]
    if len(names) > HESSIAN_COMPONENTS:
        sizes = ", ".join(f"{n} has {len(v):,}" for n, v in per_name.items() if len(v) > 1)
        raise InputError((Setting("hessian"), f" over {len(names):,} components ({sizes}) is "
                          f"more than it takes ({HESSIAN_COMPONENTS}): choose fewer names with ",
                          Setting("wrt"), ", or use the Python API (gradcalc.hessian)"))
    matrix: dict[str, dict[str, Any]] = {i: {j: None for j in names} for i in names}
    target = run.target_id()
    if target is None:
        return Hessian(names, matrix)
    ids = [run.tape.node_of(run.sources[n]) for n in run.wrt]
    present = [k for k, node in enumerate(ids) if node is not None]
    so = second_order(run.nodes, target, [ids[k].id for k in present])  # type: ignore[union-attr]

    def by_label(blocks: list[list[Any]], into: dict[str, dict[str, Any]]
                 ) -> dict[str, dict[str, Any]]:
        """The blocks of pairs of names, entry by entry under the components' labels."""
        for a, ka in enumerate(present):
            rows = per_name[run.wrt[ka]]
            for b, kb in enumerate(present):
                block = blocks[a][b]
                if block is None:
                    continue
                cols = per_name[run.wrt[kb]]
                flat = np.reshape(block, (len(rows), len(cols)))
                for p, i in enumerate(rows):
                    for q, j in enumerate(cols):
                        into[i][j] = np.float64(flat[p, q])
        return into

    by_label(so.hessian, matrix)

    def magnitudes() -> dict[str, dict[str, Any]]:
        zero = {i: dict.fromkeys(names, 0.0) for i in names}
        return by_label(so.magnitudes(), zero) if so.magnitudes is not None else zero

    return Hessian(names, matrix, _hessian_nonfinite(run, names, matrix, so), magnitudes)


def _hessian_nonfinite(run: Run, names: list[str], matrix: dict[str, dict[str, Any]],
                       so: SecondOrder) -> list[str]:
    bad = [f"d2/d{i}d{j}" for i in names for j in names
           if matrix[i][j] is not None and not np.all(np.isfinite(matrix[i][j]))]
    if not bad:
        return []
    what = "hessian entr" + ("y " if len(bad) == 1 else "ies ") + ", ".join(bad[:6]) + \
        (", ..." if len(bad) > 6 else "")
    culprit = _first_nonfinite_second_order(run, target_of(run))
    if culprit is not None:
        return [f"{what} not finite; it first appears at {where(run, culprit)}, whose second "
                "derivative is not finite at its inputs"]
    if so.nonfinite is not None:
        node, original, arg = so.nonfinite
        if original is not None:
            return [f"{what} not finite; it first appears in the second backward pass at "
                    f"{where(run, run.nodes[original])}, in the derivative with respect to its "
                    f"argument {arg + 1}"]
        return [f"{what} not finite; it first appears in the second backward pass, at a "
                f"{node.op} computed by a derivative rule"]
    return [f"{what} not finite"]


def target_of(run: Run) -> int:
    """The run's output node id (the caller knows the output is on the tape)."""
    target = run.target_id()
    assert target is not None
    return target


def _first_nonfinite_second_order(run: Run, target: int) -> Node | None:
    """The first node on the output's path whose own second derivatives (the Hessian of its
    primitive at its input values) are not finite although its inputs are: where a non-finite
    Hessian entry comes from, as first_nonfinite finds where a non-finite value comes from."""
    adjoints = run.backward.adjoints if run.backward else []
    nodes = run.nodes
    for node in nodes[: target + 1]:
        prim = node.prim
        if prim is None or adjoints[node.id] is None:
            continue
        values = input_values(nodes, node)
        if not all(np.all(np.isfinite(v)) for v in values):
            continue
        tracked = [k for k, r in enumerate(node.inputs)
                   if isinstance(r, int) and prim.vjp(k) is not None]
        leaves = [Tensor(v) for v in values]
        with Tape(persistent=True, watch_accessed_variables=False) as local:
            local.watch(*leaves)
            out = apply(prim, *leaves)
        out_node = local.node_of(out)
        if out_node is None:
            continue
        so = second_order(local.nodes, out_node.id,
                          [local.node_of(leaves[k]).id for k in tracked])  # type: ignore[union-attr]
        if any(h is not None and not np.all(np.isfinite(h)) for row in so.hessian for h in row):
            return node
    return None


def jacobian(run: Run, outputs: Sequence[str]) -> list[Run]:
    """One run per output, sharing the forward tape of `run`: one backward pass each.

    Raises InputError for an output name the program never assigns, or a repeated one.
    """
    seen: set[str] = set()
    rows: list[Run] = []
    for name in outputs:
        if name in seen:
            raise InputError((Setting("of"), f" names '{name}' twice"))
        seen.add(name)
        if name not in run.env:
            raise unknown_output(name, run)
        rows.append(run.retarget(name))
    return rows


def unknown_output(name: str, run: Run) -> InputError:
    """The error for --of naming something the program never assigns."""
    assigned = [n for n in run.env if n not in run.bindings]
    close = difflib.get_close_matches(name, list(run.env), n=1)
    return unassigned_output(name, hint=f"did you mean {close[0]}?" if close else
                      "assigned names: " + (", ".join(assigned) or "none"))


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
