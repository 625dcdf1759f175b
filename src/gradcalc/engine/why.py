"""Why is a gradient what it is? One-line reasons for partials that are None (null) or exactly 0.

The single implementation behind `Tape.explain` (the Python API) and the CLI's `why` lines and
JSON `why` object. It reads the tape (what was recorded), the tensors' provenance (what was
computed, recorded or not) and the backward pass, and names the first cause it finds:

| kind            | meaning                                                                  |
|-----------------|--------------------------------------------------------------------------|
| unwatched       | the source was not watched (a constant without tape.watch; not in --wrt) |
| unconnected     | the target does not depend on the source at all                          |
| outside_tape    | it does, but through work the tape did not record (TensorFlow's None)    |
| dummy_use       | recorded uses contribute 0; the real dependence was not recorded (silent 0) |
| stop_gradient   | the source reaches the target only under stop_gradient                   |
| cancel          | contributions along several paths sum to exactly 0 (x - x)               |
| zero_derivative | a local derivative on the path is 0 at this point (relu(x) at x < 0)     |
| zero_seed       | the output gradient itself is 0                                          |
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..engine.sweep import seed_of
from ..engine.tape import (
    Node,
    Tape,
    Tensor,
    Variable,
    backward,
    input_values,
    plug,
    source_masks,
)
from ..errors import Setting, Text, as_parts, location, worded

KINDS = ("unwatched", "unconnected", "outside_tape", "dummy_use", "stop_gradient", "cancel",
         "zero_derivative", "zero_seed")

OUTSIDE = "outside this tape's recording (before or after the with block, or under stop_recording)"


@dataclass(frozen=True, slots=True)
class Reason:
    """Why one partial is None or 0: a kind from KINDS, the one line said (text, or parts
    naming a setting, errors.Setting), and the tape node where it happens (if any)."""

    kind: str
    said: Text
    node: int | None = None

    @property
    def text(self) -> str:
        """The line, worded for Python."""
        return worded(self.said)


@dataclass(frozen=True, slots=True)
class Wording:
    """How reasons name things: the program text (for line/column of nodes) and the advice for
    an unwatched source ({name} is replaced by its name)."""

    source_text: str | None = None
    unwatched: str = "{name} was not watched: a constant is watched only after tape.watch()"


def where(node: Node, source_text: str | None = None) -> str:
    """A node's place: `line L, column C` (programs), `column C` (one line), else `tN`."""
    if node.span is None or source_text is None:
        return node.ref
    return location(source_text, node.span.start)


def _num(x: Any) -> str:
    v = np.asarray(x.value if isinstance(x, Tensor) else x)
    if v.ndim:
        return "[" + ", ".join(f"{float(e):.6g}" for e in v.ravel()[:4]) + \
            (", ...]" if v.size > 4 else "]")
    return f"{float(v):.15g}"


def _signed(x: Any) -> str:
    text = _num(x)
    return text if text.startswith(("-", "[")) else "+" + text


def _zero(x: Any) -> bool:
    if x is None:  # a rule's symbolic zero
        return True
    return bool(np.all(np.asarray(x.value if isinstance(x, Tensor) else x) == 0))


def _place(node: Node, words: Wording) -> str:
    """`op name` plus its line/column when known, e.g. `relu t3 (column 1)`."""
    text = f"{node.op} {node.title}"
    if node.span is not None and words.source_text is not None:
        text += f" ({where(node, words.source_text)})"
    return text


# ---------------------------------------------------------------- provenance and reachability


def _ancestry(tape: Tape, target: Tensor) -> tuple[set[int], dict[int, Tensor]]:
    """Every tensor target was computed from, recorded or not (by uid), and for those reached
    along a path that leaves the recording (a value the tape took as a constant, or a watched
    value's own history), the first tensor where that path leaves it."""
    queue: deque[tuple[Tensor, Tensor | None]] = deque([(target, None)])
    seen = {(target.uid, False)}
    reached: set[int] = set()
    off_at: dict[int, Tensor] = {}
    while queue:
        t, off = queue.popleft()
        reached.add(t.uid)
        if off is not None:
            off_at.setdefault(t.uid, off)
        node = tape.node_of(t) if off is None else None
        for p in t.parents:
            if not isinstance(p, Tensor):
                continue  # a number: no history
            p_off = off
            if p_off is None:
                if node is None or node.prim is None:
                    p_off = t      # t itself was not computed on this tape
                elif tape.node_of(p) is None:
                    p_off = p      # t was, but it took p as a constant
            key = (p.uid, p_off is not None)
            if key not in seen:
                seen.add(key)
                queue.append((p, p_off))
    return reached, off_at


def _reach_masks(nodes: Sequence[Node], target: int) -> tuple[list[int], list[int]]:
    """Per node up to target, as bit masks over the watched leaves (bit = leaf node id): the
    leaves it is reached from along any recorded edge, and along edges that carry a gradient."""
    bits = {node.id: 1 << node.id for node in nodes[:target + 1] if node.prim is None}
    return (source_masks(nodes, bits, target, all_edges=True),
            source_masks(nodes, bits, target))


def _reach(nodes: Sequence[Node], source: int, target: int) -> tuple[list[bool], list[bool]]:
    """Per node up to target: reached from source along any recorded edge, and along edges
    that carry a gradient (the ones backward uses)."""
    bits = {source: 1}
    return ([m == 1 for m in source_masks(nodes, bits, target, all_edges=True)],
            [m == 1 for m in source_masks(nodes, bits, target)])


def stop_gradient_cuts(nodes: Sequence[Node], source: int, target: int) -> list[Node]:
    """The nodes that block a gradient from source to target: ops whose argument depends on
    the source but passes no gradient (stop_gradient), on a recorded path to the target."""
    if source > target:
        return []
    reach_all, _ = _reach(nodes, source, target)
    feeds = [False] * (target + 1)  # the node's value is used (recorded) by the target
    feeds[target] = True
    for j in range(target, -1, -1):
        if feeds[j]:
            for ref in nodes[j].inputs:
                if isinstance(ref, int):
                    feeds[ref] = True
    cuts = []
    for node in nodes[source + 1:target + 1]:
        if node.prim is None or not feeds[node.id]:
            continue
        if any(isinstance(ref, int) and reach_all[ref] and node.prim.vjp(i) is None
               for i, ref in enumerate(node.inputs)):
            cuts.append(node)
    return cuts


# ---------------------------------------------------------------- zero gradients


def _consumers(nodes: Sequence[Node], adj: Sequence[Any], target: int
               ) -> dict[int, list[tuple[int, int]]]:
    """node id -> (consumer id, argument index) for every gradient-carrying use up to target."""
    consumers: dict[int, list[tuple[int, int]]] = {}
    for node in nodes[:target + 1]:
        if node.prim is None or adj[node.id] is None:
            continue
        for i, ref in enumerate(node.inputs):
            if isinstance(ref, int) and node.prim.vjp(i) is not None:
                consumers.setdefault(ref, []).append((node.id, i))
    return consumers


def _zero_cause(nodes: Sequence[Node], adj: Sequence[Any],
                consumers: dict[int, list[tuple[int, int]]], source: int, target: int,
                sname: str, tname: str, words: Wording) -> Reason:
    """Why the adjoint reaching source is exactly 0: search from the source toward the target
    through the nodes whose adjoint is 0, for where contributions cancel and where a local
    derivative is 0. The reason names the cause nearest the source, and the others after it."""
    causes: list[Reason] = []
    short: list[str] = []
    reported: set[int] = set()
    frontier, seen = [source], {source}
    with np.errstate(all="ignore"):
        while frontier and len(causes) < 3:
            current = min(frontier)
            frontier.remove(current)
            contributions = []
            for j, i in consumers.get(current, []):
                node = nodes[j]
                rule = node.prim.vjp(i)  # type: ignore[union-attr]
                args = input_values(nodes, node)
                # a zero cotangent contributes exactly zero (the sweep never multiplies it)
                contributions.append((j, i, None if _zero(adj[j]) else
                                      rule(adj[j], node.value, *args)))  # type: ignore[misc]
            nonzero = [c for c in contributions if not _zero(c[2])]
            if nonzero:
                parts = ", ".join(f"{_signed(c)} via {nodes[j].op} {nodes[j].title}"
                                  f"{f' argument {i + 1}' if len(nodes[j].inputs) > 1 else ''}"
                                  for j, i, c in nonzero[:4])
                if len(nonzero) > 4:
                    parts += f", and {len(nonzero) - 4} more"
                if current == source:
                    text = (f"contributions cancel: {sname} reaches {tname} along "
                            f"{len(nonzero)} paths whose contributions ({parts}) sum to 0")
                else:
                    text = (f"contributions cancel at {_place(nodes[current], words)}: its "
                            f"{len(nonzero)} contributions ({parts}) sum to 0")
                causes.append(Reason("cancel", text, current))
                short.append(f"contributions cancel at {nodes[current].title}")
                continue
            for j, i, _ in contributions:
                if j in reported:
                    continue
                if not _zero(adj[j]):
                    node = nodes[j]
                    arg = node.inputs[i]
                    argname = nodes[arg].title if isinstance(arg, int) else "?"
                    causes.append(Reason(
                        "zero_derivative",
                        f"zero local derivative: {_place(node, words)} passes 0 back to its "
                        f"argument {i + 1} ({argname}) at this point", j))
                    short.append(f"zero local derivative at {node.title}")
                    reported.add(j)
                elif j not in seen:
                    seen.add(j)
                    frontier.append(j)
    if not causes:
        return Reason("zero_seed", "the output gradient (seed) is 0", target)
    first = causes[0]
    also = "".join(f"; also {s}" for s in short[1:])
    return Reason(first.kind, (*as_parts(first.said), also), first.node)


# ---------------------------------------------------------------- the one entry point


class Explainer:
    """Explains d target / d source for any number of sources of one tape and target, sharing
    the work that does not depend on the source (provenance, reachability, adjoints)."""

    def __init__(self, tape: Tape, target: Any, output_gradients: Any = None,
                 words: Wording | None = None, target_name: str | None = None,
                 adjoints: Sequence[Any] | None = None):
        """adjoints: the backward pass of target with the seed output_gradients (default
        ones) over all watched leaves, if already computed."""
        self.tape, self.target, self.words = tape, target, words or Wording()
        self.tnode = tape.node_of(target) if isinstance(target, Tensor) else None
        self.tname = target_name or (target.name if isinstance(target, Tensor) else None) or \
            (self.tnode.label if self.tnode and self.tnode.label else None) or "the target"
        self.seed = output_gradients
        if self.tnode is not None and self.seed is None:
            self.seed = seed_of(self.tnode.value)
        self._adjoints = adjoints
        self._ancestry: tuple[set[int], dict[int, Tensor]] | None = None
        self._masks: tuple[list[int], list[int]] | None = None
        self._consumers: dict[int, list[tuple[int, int]]] | None = None

    def ancestry(self) -> tuple[set[int], dict[int, Tensor]]:
        """What the target was computed from, and where such paths leave the recording."""
        if self._ancestry is None:
            self._ancestry = _ancestry(self.tape, self.target) \
                if isinstance(self.target, Tensor) else (set(), {})
        return self._ancestry

    def masks(self) -> tuple[list[int], list[int]]:
        """Per node, the watched leaves reaching it along any edge and along gradient edges."""
        if self._masks is None:
            assert self.tnode is not None
            self._masks = _reach_masks(self.tape.nodes, self.tnode.id)
        return self._masks

    def adjoints(self) -> Sequence[Any]:
        """The target's adjoints per node, over every watched leaf."""
        if self._adjoints is None:
            assert self.tnode is not None
            leaves = [n.id for n in self.tape.nodes[:self.tnode.id + 1] if n.prim is None]
            self._adjoints = backward(self.tape.nodes, self.tnode.id, leaves,
                                      self.seed).adjoints
        return self._adjoints

    def explain(self, source: Tensor, source_name: str | None = None) -> Reason | None:
        """Why d target / d source is None or exactly 0; None if it is neither."""
        if not isinstance(source, Tensor):
            raise TypeError(f"the source must be a tensor, not {type(source).__name__}")
        tape, words, tnode, tname = self.tape, self.words, self.tnode, self.tname
        snode = tape.node_of(source)
        sname = source_name or source.name or (snode.label if snode and snode.label else None) \
            or "the source"
        reached, off_at = self.ancestry()
        depends, off = source.uid in reached, off_at.get(source.uid)

        if snode is None:
            accessed = isinstance(source, Variable) and tape.watch_accessed_variables
            if depends and accessed:
                return Reason("outside_tape", f"{tname} was computed from {sname} {OUTSIDE}, "
                              "so the tape has no record of it: compute it inside the with "
                              "block")
            if not accessed:
                text = words.unwatched.format(name=sname)
                if not depends:
                    text += f" (and {tname} does not depend on it)"
                return Reason("unwatched", text)
            return Reason("unconnected", f"not connected: {tname} does not depend on {sname}")
        if tnode is None:
            if depends:
                return Reason("outside_tape", f"{tname} was computed {OUTSIDE}, so the tape "
                              f"has no record of how it depends on {sname}: compute it inside "
                              "the with block")
            return Reason("unconnected", f"not connected: {tname} does not depend on {sname}")

        bit = 1 << snode.id
        reach_all, reach_diff = self.masks()
        if not reach_diff[tnode.id] & bit:
            if reach_all[tnode.id] & bit:
                cuts = stop_gradient_cuts(tape.nodes, snode.id, tnode.id)
                places = ", ".join(where(c, words.source_text) for c in cuts)
                return Reason("stop_gradient", f"{sname} occurs in {tname} only under "
                              f"stop_gradient (at {places})", cuts[0].id if cuts else None)
            if off is not None:
                return Reason("outside_tape", f"{tname} depends on {sname} only through a "
                              f"value ({_num(off)}) computed {OUTSIDE}, which the tape treats "
                              "as a constant")
            return Reason("unconnected", f"not connected: {sname} does not occur in the "
                          f"history of {tname}")

        adj = self.adjoints()
        g = adj[snode.id]
        if g is None or not _zero(g):
            return None
        if off is not None:
            return Reason("dummy_use", f"silent 0: the tape recorded only uses of {sname} "
                          f"that contribute nothing; {tname} depends on {sname} through a "
                          f"value ({_num(off)}) computed {OUTSIDE}, which the tape treats as "
                          "a constant")
        if _zero(self.seed):
            return Reason("zero_seed", "the output gradient (seed) is 0", tnode.id)
        if self._consumers is None:
            self._consumers = _consumers(tape.nodes, adj, tnode.id)
        reason = _zero_cause(tape.nodes, adj, self._consumers, snode.id, tnode.id, sname,
                             tname, words)
        if reach_all[tnode.id] & bit and any(
                n.op == "stop_gradient" for n in tape.nodes[snode.id:tnode.id + 1]):
            cuts = stop_gradient_cuts(tape.nodes, snode.id, tnode.id)
            if cuts:
                places = ", ".join(where(c, words.source_text) for c in cuts)
                reason = Reason(reason.kind, (*as_parts(reason.said), "; also under "
                                             f"stop_gradient (at {places})"), reason.node)
        return reason


def explain(tape: Tape, target: Any, source: Tensor, output_gradients: Any = None,
            words: Wording | None = None, target_name: str | None = None,
            source_name: str | None = None) -> Reason | None:
    """Why d target / d source on this tape is None or exactly 0; None if it is neither."""
    return Explainer(tape, target, output_gradients, words, target_name).explain(
        source, source_name)


def explain_run(run: Any) -> dict[str, Reason]:
    """Per bound name whose partial is null or exactly 0, or that --wrt leaves out: why.
    run: an evaluate.Run (not imported: evaluate uses this module)."""
    gradient = run.gradient()
    if all(name in gradient and gradient[name] is not None and not _zero(gradient[name])
           for name in run.bindings):
        return {}   # nothing to explain: no tape is read (a run makes it only when read)
    target_name = f"the output {run.output_name}" if run.output_name else "the output"
    adjoints = run.backward.adjoints if run.backward is not None else None
    explainer = Explainer(run.tape, run.output, None, Wording(run.program.source), target_name,
                          adjoints)
    reasons: dict[str, Reason] = {}
    for name in run.bindings:
        if name not in gradient:
            reasons[name] = Reason("unwatched", ("not watched: ", Setting("wrt"),
                                                 f" leaves {name} out, so it is held constant "
                                                 f"at {_num(run.bindings[name])}"))
            continue
        g = gradient[name]
        if g is not None and not _zero(g):
            continue
        reason = explainer.explain(run.sources[name], name)
        if reason is not None:
            reasons[name] = reason
    return reasons


plug("explain", explain)
