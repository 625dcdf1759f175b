"""The tape of a flat run, made when something reads it: nodes, names, labels and call records.

A run (evaluate.Run) computes on the flat program and keeps only its slots' values and
adjoints. The tape listing, the graph, --steps, the explanations of a null or 0 gradient and
the judge's kink and domain questions read Node objects with ids, labels and tensors: this
module makes them from the flat program, once, exactly as recording the run on a Tape would
have (the watched names first, in --wrt order, then every operation that depends on one; the
others are constants of the nodes that use them).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..engine.program import NAME, NUMBER, RAVEL, CallSlots, Code
from ..engine.sweep import Backward, Const, needs_of
from ..engine.tape import Node, Tape, Tensor, constant
from ..lang.inline import CallRecord

_F64 = np.float64


def _plain(v: Any) -> Any:
    return _F64(v) if type(v) is float else v


@dataclass
class View:
    """The tape of a run and the tensors of its slots (see the module docstring). node_of[k]:
    the node id of slot k, or -1 for a slot that is no node (a constant, or an argument passed
    through unchanged); tensors[k]: what the run computed at slot k (a Tensor, or a float64
    for a literal)."""

    tape: Tape
    tensors: list[Any]
    node_ids: list[int]
    sources: dict[str, Tensor]
    calls: list[CallRecord]

    @property
    def nodes(self) -> list[Node]:
        return self.tape.nodes


def build(code: Code, prims: Sequence[Any], args: Sequence[Sequence[int]], values: Sequence[Any],
          passes: Mapping[int, int], bindings: Mapping[str, Any], wrt: Sequence[str]) -> View:
    """The tape of a run of code (prims and args as the run executed them; passes: slot ->
    the slot it passes through unchanged) at these values."""
    n = len(values)
    tensors: list[Any] = [None] * n
    node_ids = [-1] * n
    nodes: list[Node] = []
    index: dict[int, int] = {}  # tensor uid -> node id
    sources: dict[str, Tensor] = {}
    named: dict[str, Tensor] = {}
    for name in bindings:
        t = constant(bindings[name], name)
        named[name] = t
        if name in wrt:
            sources[name] = t
    for name in wrt:  # watched first, in --wrt order, as run() watches them
        t = sources[name]
        index[t.uid] = len(nodes)
        nodes.append(Node(len(nodes), None, (), t.value, t, t.name, None))
    by_name = code.names
    kinds = code.kinds
    labels = _first_labels(code)
    spans = code.spans
    before = [len(nodes)] * (n + 1)  # per slot position: how many nodes exist before it runs
    for k in range(n):
        before[k] = len(nodes)
        kind = kinds[k]
        prim = prims[k]
        if kind == NUMBER:
            tensors[k] = _F64(values[k])
            continue
        if prim is None:
            if k in passes:  # an argument passed through (a reduction's non-matrix argument)
                tensors[k] = tensors[passes[k]]
                node_ids[k] = node_ids[passes[k]]
                continue
            if kind == NAME and by_name[k] in named:
                t = named[by_name[k]]
            else:  # a constant: pi, e or inf
                t = constant(_plain(values[k]), code.constant_names.get(k) or by_name.get(k))
            tensors[k] = t
            node_ids[k] = index.get(t.uid, -1)
            continue
        t = Tensor(_plain(values[k]), labels.get(k))
        t.parents = tuple(tensors[r] for r in args[k])
        tensors[k] = t
        refs: list[Any] = []
        tracked = False
        for r in args[k]:
            i = node_ids[r]
            if i >= 0:
                refs.append(i)
                tracked = True
            else:
                a = tensors[r]
                refs.append(_const(a))
        if tracked:
            i = node_ids[k] = len(nodes)
            index[t.uid] = i
            nodes.append(Node(i, prim, tuple(refs), t.value, t, None,
                              spans[k] if kinds[k] != RAVEL else None))
    before[n] = len(nodes)
    tape = Tape.of_nodes(nodes)
    calls = _label(code, tape, tensors, node_ids, before)
    return View(tape, tensors, node_ids, sources, calls)


def _const(a: Any) -> Any:
    if isinstance(a, Tensor):
        return Const(a.value, a.name)
    return Const(a, None)


def _first_labels(code: Code) -> dict[int, str]:
    """The name each computed slot's tensor takes: the label of its first assignment (as a
    Tensor keeps the first name it is given; later uses read it, as the constants of the
    nodes that use it)."""
    counts: dict[str, int] = {}
    out: dict[int, str] = {}
    kinds = code.kinds
    for event in code.events:
        if isinstance(event, CallSlots):
            continue
        slot, target = event
        if kinds[slot] == NUMBER:
            continue
        count = counts[target] = counts.get(target, 0) + 1
        out.setdefault(slot, target if count == 1 else f"{target}#{count}")
    return out


def _label(code: Code, tape: Tape, tensors: list[Any], node_ids: list[int],
           before: list[int]) -> list[CallRecord]:
    """Name the nodes as recording would have: each call's nodes `f/t5` when it ends, each
    assigned value by its name (`name#2` when reassigned; a call's result takes the name);
    returns the call records (node ranges). before[p]: the number of nodes before slot p."""
    nodes = tape.nodes
    counts: dict[str, int] = {}
    calls: list[CallRecord] = []
    for event in code.events:
        if isinstance(event, CallSlots):
            first, end = before[event.first], before[event.end]
            prefix = "/".join(event.path) + "/"
            for node in nodes[first:end]:
                if node.label is None:
                    node.label = f"{prefix}t{node.id}"
            calls.append(CallRecord(event.func, event.path, first, end,
                                    [tensors[a] for a in event.args], tensors[event.result],
                                    event.span))
            continue
        slot, target = event
        value = tensors[slot]
        if not isinstance(value, Tensor):
            continue
        count = counts[target] = counts.get(target, 0) + 1
        i = node_ids[slot]
        node = nodes[i] if i >= 0 else None
        if node is not None and node.label and "/" in node.label:
            node.label = None
        tape.name(value, target if count == 1 else f"{target}#{count}")
    return calls


def adjoints(view: View, prims: Sequence[Any], args: Sequence[Sequence[int]],
             adjoint_slots: Sequence[Any], source_slots: Sequence[int], top: int,
             nonfinite: tuple[int, int] | None) -> Backward:
    """The backward pass of a run by node id: each node's adjoint (None where the tape's pass
    gives none: nodes that no gradient flows through to a watched name)."""
    needs = needs_of(prims, args, source_slots, top)
    out: list[Any] = [None] * len(view.nodes)
    for k, i in enumerate(view.node_ids):
        if i >= 0 and k <= top and needs[k] and adjoint_slots[k] is not None:
            out[i] = _plain(adjoint_slots[k])
    origin = None if nonfinite is None else (view.node_ids[nonfinite[0]], nonfinite[1])
    return Backward(out, origin)
