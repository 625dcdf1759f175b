"""The sweep over a list of tape nodes (the Node objects a Tape or a flat run makes when something
reads them: listings, graphs, --steps, explanations, the judge's questions), and the Python API's
old import path: the API lives in api.py, and its names are re-exported here, so `from
gradcalc.engine.tape import Tape` keeps working.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..engine import sweep
from ..engine.api import (  # noqa: F401  (the Python API's old import path)
    GradientTape,
    Node,
    Tape,
    Tensor,
    UnconnectedGradients,
    ValueRead,
    Variable,
    apply,
    constant,
    flatten,
    graph_unbroadcast,
    paused,
    plug,
    raw,
    real_value,
    recording,
    ref,
    sealed,
)
from ..engine.sweep import Backward, Const, seed_of  # noqa: F401  (imported from here)
from ..engine.sweep import finite as _finite


def unbroadcast(c: Any, shape: tuple[int, ...]) -> Any:
    """A contribution to an input of this shape, summed over the axes broadcasting added, as
    the backward sweep sums it (for what replays the sweep: symbolic.steps)."""
    return graph_unbroadcast(c, shape)


def forward(nodes: Sequence[Node], leaves: Mapping[int, Any], target: int) -> list[Any]:
    """The values of nodes[0..target] recomputed from new values of the watched sources (node
    id -> value: e.g. whole columns, one row per element): the tape's forward replay
    (sweep.forward over the nodes)."""
    top = nodes[: target + 1]
    return sweep.forward([n.prim for n in top], [n.inputs for n in top], dict(leaves), target)


def backward(nodes: Sequence[Node], target: int, sources: Sequence[int], seed: Any = 1.0,
             graph: bool = False, more: Sequence[tuple[int, Any]] = (),
             magnitude: bool = False, *, values: Sequence[Any] | None = None,
             free: bool = False, origins: bool = True, exact_zeros: bool = False) -> Backward:
    """sweep.backward over a tape's nodes: their recorded values (their tensors with
    graph=True, so that an enclosing tape records the backward pass: higher-order
    derivatives), or values (from forward(): a batch over columns, with seed UNIT)."""
    if values is None:
        values = [n.tensor for n in nodes] if graph else [n.value for n in nodes]
    return sweep.backward([n.prim for n in nodes], [n.inputs for n in nodes], values, target,
                          sources, seed, graph, more, magnitude, free=free, origins=origins,
                          exact_zeros=exact_zeros, graph_unbroadcast=graph_unbroadcast)


def depth(nodes: Sequence[Node], target: int) -> int:
    """The number of operations on the longest path into target."""
    d = [0] * (target + 1)
    for node in nodes[: target + 1]:
        if node.prim is not None:
            d[node.id] = 1 + max((d[r] for r in node.inputs if isinstance(r, int)), default=0)
    return d[target]


def source_masks(nodes: Sequence[Node], bits: dict[int, int], target: int,
                 all_edges: bool = False) -> list[int]:
    """Per node up to target, the union of the bits (keyed by source node id) of the sources it
    depends on: through arguments a gradient flows through, or through any recorded argument
    with all_edges."""
    masks = [0] * (target + 1)
    for node in nodes[: target + 1]:
        m = bits.get(node.id, 0)
        if node.prim is not None:
            for i, ref in enumerate(node.inputs):
                if isinstance(ref, int) and (all_edges or node.prim.vjp(i) is not None):
                    m |= masks[ref]
        masks[node.id] = m
    return masks


def input_values(nodes: Sequence[Node], node: Node) -> list[Any]:
    """The values a node's primitive was applied to (recorded inputs and constants)."""
    return [nodes[r].value if isinstance(r, int) else r.value for r in node.inputs]


def first_nonfinite(nodes: Sequence[Node]) -> Node | None:
    """The first node whose value is not finite although all its inputs are."""
    for node in nodes:
        if node.prim is not None and not _finite(node.value):
            inputs = input_values(nodes, node)
            if all(_finite(v) for v in inputs):
                return node
    return None
