"""Higher order: Hessians by reverse-over-reverse on nested tapes, Jacobians by one backward pass
per output. Their check against SymPy is judge/higher.py's.

Hessian: the run's tape (a Wengert list) is replayed under two nested tapes; the inner tape's
gradient is taken in graph mode, so the outer tape records the backward pass itself; then one
backward pass of the outer tape per differentiated name gives one row of the matrix. Cost: one
replay, one recorded gradient and n backward passes over a tape a few times the forward's length
(no symbolic expansion anywhere).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..engine import vectors
from ..engine.evaluate import Run, where
from ..engine.sweep import seed_of
from ..engine.tangents import Unsupported, block_second_order
from ..engine.tape import (
    Node,
    Tape,
    Tensor,
    apply,
    backward,
    input_values,
)
from ..errors import InputError, Setting, unassigned_output


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
    # how it was computed: "block" (forward over reverse, engine/tangents.py) or "reverse"
    # (reverse over reverse, second_order)
    method: str = "reverse"


# the most components --hessian takes: n of them make n*n entries, n backward passes and
# n*(n+1)/2 symbolic second derivatives
HESSIAN_COMPONENTS = 100


def hessian(run: Run, block: bool = True) -> Hessian:
    """The Hessian of the run's (scalar) output with respect to every component of its
    differentiated names: for a program of scalars whose primitives are elementwise, by
    forward over reverse with all tangents as one block (engine/tangents.py); otherwise, or
    where an entry is not finite (whose diagnosis and exact zeros are reverse over reverse's),
    or with block=False, by reverse over reverse (second_order).

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
    if block and run.ex.scalar:
        found = _block_hessian(run, names, matrix, per_name)
        if found is not None:
            return found
    return _reverse_hessian(run, names, matrix, per_name)


def _block_hessian(run: Run, names: list[str], matrix: dict[str, dict[str, Any]],
                   per_name: dict[str, list[str]]) -> Hessian | None:
    """The Hessian of a run on scalars by forward over reverse (into matrix), or None where
    the block method does not carry the program or an entry is not finite."""
    target = run.target_slot()
    if target is None:
        return Hessian(names, matrix, method="block")
    slots = [run.source_slot(n) for n in run.wrt]
    present = [k for k, s in enumerate(slots) if s is not None]
    ex = run.ex
    try:
        gradient, h = block_second_order(ex.prims, ex.args, ex.values, target,
                                         [slots[k] for k in present])  # type: ignore[misc]
    except Unsupported:
        return None
    if not np.isfinite(h).all():
        return None
    live = [p for p, g in enumerate(gradient) if g is not None]
    labels = [names[present[p]] for p in live]
    for p, label in zip(live, labels, strict=True):
        matrix[label].update(zip(labels, h[p, live], strict=True))

    def magnitudes() -> dict[str, dict[str, Any]]:
        fresh: dict[str, dict[str, Any]] = {i: dict.fromkeys(names) for i in names}
        mags = _reverse_hessian(run, names, fresh, per_name).magnitudes
        return mags() if mags is not None else {i: dict.fromkeys(names, 0.0) for i in names}

    return Hessian(names, matrix, [], magnitudes, method="block")


def _reverse_hessian(run: Run, names: list[str], matrix: dict[str, dict[str, Any]],
                     per_name: dict[str, list[str]]) -> Hessian:
    """The Hessian by reverse over reverse (second_order), into matrix."""
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
