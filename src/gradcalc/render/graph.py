"""The recorded computation as a picture, like the computation-graph figures of autodiff
tutorials: values flow forward (left to right), each node shows its op, value and adjoint.

Graphviz DOT and Mermaid (which GitHub renders inline in Markdown) are plain text written here;
SVG and a self-contained HTML page are drawn from this graph by svg.py (no Graphviz needed);
figure.py writes the file a --graph path asks for.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..engine import tape
from ..engine.evaluate import kind_of_nonfinite
from ..engine.tape import Tensor, first_nonfinite
from ..lang.inline import top_calls
from ..render.report import fmt as _fmt

if TYPE_CHECKING:
    from ..engine.evaluate import Run
    from ..lang.inline import CallRecord

# A picture shows at most this many boxes, those nearest the output (the .dot text has all):
# more is unreadable, and the built-in layout's crossing reduction grows faster than linearly.
MAX_BOXES = 300
TITLE_LINES = 40                   # a longer program's title shows its first lines only



@dataclass
class GNode:
    """One box of the picture: a tape node, a collapsed call or a constant input; role is
    source, output, op, call, const or elided. alerts say why the box is highlighted (where a
    nan or inf first appears), one line each."""

    id: str
    lines: list[str]
    role: str
    value: Any = None
    adjoint: Any = None
    alerts: list[str] = field(default_factory=list)
    name: str = ""               # the user's name for it (an assigned name), if any
    op: str = ""                 # the op (input, mul, sin, ...; a call's function)
    line: int | None = None      # the program line (1-based) whose statement recorded it
    call: str | None = None      # the group of the top-level function call it is part of
    step: list[str] = field(default_factory=list)   # --steps: its step of the backward pass


@dataclass
class GEdge:
    """A forward edge: tail feeds head as its argument `arg` (1-based); blocked edges pass no
    gradient (stop_gradient); alert marks the argument whose derivative first went non-finite."""

    tail: str
    head: str
    arg: int | None = None
    blocked: bool = False
    alert: bool = False


@dataclass
class Graph:
    """The picture's content, independent of the text format. source keeps the program's
    lines; title is the one-line form (source, point and value)."""

    title: str
    source: list[str] = field(default_factory=list)
    at: str = ""
    nodes: list[GNode] = field(default_factory=list)
    edges: list[GEdge] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    title_limit: int = TITLE_LINES    # program lines shown in a title
    calls: dict[str, str] = field(default_factory=dict)   # call group -> `sq(...) line 2`


def build(run: Run, collapse: bool = False, steps: Any = None) -> Graph:
    """The graph of a run's tape: one node per tape entry (labelled name, op, value, adjoint)
    and per constant input, forward edges, the watched sources and the output marked, the node
    where a nan/inf value or adjoint first appears highlighted. collapse: each top-level call of
    a program's own function is one box (as in --tape --collapse). steps (symbolic.steps.Steps):
    each box gets the lines of its step (render.text.step_lines)."""
    nodes = run.nodes
    adj = run.backward.adjoints if run.backward else [None] * len(nodes)
    target = run.target_id()
    sources = {n.id for name in run.wrt if (n := run.tape.node_of(run.sources[name]))}
    at = ", ".join(f"{n}={_fmt(v)}" for n, v in run.bindings.items())
    text = run.program.source
    title = " ".join(text.split()) + (f"  at {at}" if at else "") + f"  =  {_fmt(run.value)}"
    lines = text.strip("\n").splitlines() if text.strip() else [text]
    graph = Graph(title, [line.rstrip() for line in lines],
                  (f"at {at}  =  " if at else "=  ") + _fmt(run.value))
    alerts = _alerts(run)
    top = top_calls(run.calls, len(nodes))
    calls = top if collapse else {}
    box = _box_ids(calls, len(nodes))
    where = _program_lines(run, top)
    if not collapse:
        for call in {id(c): c for c in top.values()}.values():
            graph.calls[_call_group(call)] = f"{call.func}(...)" + (
                f" line {where[call.first]}" if where[call.first] else "")
    for node in nodes:
        call = calls.get(node.id)
        if call is not None:
            if node.id == call.first:
                at = len(graph.nodes)
                _add_call(graph, run, call, box, adj, target, alerts)
                graph.nodes[at].line = where[node.id]
                _add_step(graph.nodes[at], steps, call.end - 1)
            continue
        name = node.ref + (f" {node.label}" if node.label else "")
        role = "output" if node.id == target else "source" if node.id in sources else "op"
        lines = [name, node.op, f"value {_fmt(node.value)}",
                 f"adjoint {'-' if adj[node.id] is None else _fmt(adj[node.id])}"]
        why, bad_arg = alerts.get(node.id, ([], None))
        group = None if collapse or node.id not in top else _call_group(top[node.id])
        graph.nodes.append(GNode(node.ref, lines, role, node.value, adj[node.id], why,
                                 node.label or "", node.op, where[node.id], group))
        _add_step(graph.nodes[-1], steps, node.id)
        # interchangeable arguments (Primitive.commutative): edges carry no argument number
        symmetric = len(node.inputs) < 2 or node.prim is not None and node.prim.commutative
        for i, ref in enumerate(node.inputs):
            blocked = node.prim is not None and node.prim.vjp(i) is None
            arg = None if symmetric else i + 1
            red = bad_arg == i
            if isinstance(ref, int):
                graph.edges.append(GEdge(box[ref], node.ref, arg, blocked, red))
            else:
                cid = f"k{node.id}_{i}"
                label = _fmt(ref.value) if ref.name is None else \
                    f"{ref.name} = {_fmt(ref.value)}"
                graph.nodes.append(GNode(cid, [label], "const", ref.value, name=ref.name or "",
                                         op="const", line=where[node.id], call=group))
                graph.edges.append(GEdge(cid, node.ref, arg, blocked, red))
    return graph


def _add_step(box: GNode, steps: Any, node: int) -> None:
    """The box's step of the backward pass (--steps), when the sweep visits it."""
    if steps is None or node not in steps.steps:
        return
    from .text import step_lines

    box.step = step_lines(steps, node)


def _call_group(call: CallRecord) -> str:
    """The id of a top-level call's group of boxes (for the page's collapse and expand)."""
    return f"c{call.first}_{call.end - 1}"


def _program_lines(run: Run, top: dict[int, CallRecord]) -> list[int | None]:
    """Per tape node, the program line (1-based) of the statement that recorded it: the line
    its source span is on, or for a node of a function's body, the line of the top-level call
    that recorded it; None for a watched source."""
    source = run.program.source
    starts = sorted(s.span.start for s in run.program.statements)
    ends = {s.span.start: s.span.end for s in run.program.statements}

    def line(offset: int) -> int:
        return source.count("\n", 0, offset) + 1

    def in_statement(span: Any) -> bool:
        import bisect

        k = bisect.bisect_right(starts, span.start) - 1
        return k >= 0 and span.end <= ends[starts[k]]

    out: list[int | None] = []
    for node in run.nodes:
        call = top.get(node.id)
        if call is not None and call.span is not None:
            out.append(line(call.span.start))
        elif node.span is not None and in_statement(node.span):
            out.append(line(node.span.start))
        else:
            out.append(None)
    return out


_Alerts = dict[int, tuple[list[str], int | None]]


def _alerts(run: Run) -> _Alerts:
    """Tape node id -> (why it is highlighted, the argument index whose derivative went
    non-finite or None): the first node whose value is nan/inf although its inputs are finite,
    and the node whose derivative rule first produced a non-finite adjoint."""
    out: _Alerts = {}
    node = first_nonfinite(run.nodes)
    if node is not None:
        out[node.id] = ([f"first {kind_of_nonfinite(node.value)} value here"], None)
    origin = run.backward.nonfinite if run.backward else None
    if origin is not None:
        j, i = origin
        why = out.get(j, ([], None))[0] + [f"first nan/inf adjoint here (argument {i + 1})"]
        out[j] = (why, i)
    return out


def _box_ids(calls: dict[int, CallRecord], n: int) -> list[str]:
    """Per tape node, the id of the box that shows it."""
    return [f"{tape.ref(calls[i].first)}_{calls[i].end - 1}" if i in calls else tape.ref(i)
            for i in range(n)]


def _add_call(graph: Graph, run: Run, call: CallRecord, box: list[str], adj: list[Any],
              target: int | None, alerts: _Alerts) -> None:
    """One box for a collapsed call: its result's name, value and adjoint; edges from the boxes
    its body read (cut when every use is under stop_gradient) and from constant arguments."""
    nodes = run.nodes
    last = nodes[call.end - 1]
    bid = box[last.id]
    span = f"{tape.ref(call.first)}..{last.ref}" if call.end - call.first > 1 else last.ref
    lines = [span + (f" {last.label}" if last.label else ""), f"{call.func}(...)",
             f"value {_fmt(last.value)}",
             f"adjoint {'-' if adj[last.id] is None else _fmt(adj[last.id])}"]
    why = [f"{line} (inside: t{i})" for i in range(call.first, call.end) if i in alerts
           for line in alerts[i][0]]
    role = "output" if last.id == target else "call"
    graph.nodes.append(GNode(bid, lines, role, last.value, adj[last.id], why,
                             last.label or "", call.func))
    uses: dict[str, bool] = {}      # tail box -> every use is blocked
    for node in nodes[call.first:call.end]:
        for i, ref in enumerate(node.inputs):
            if isinstance(ref, int) and not call.first <= ref < call.end:
                blocked = node.prim is not None and node.prim.vjp(i) is None
                uses[box[ref]] = uses.get(box[ref], True) and blocked
    for tail, blocked in uses.items():
        graph.edges.append(GEdge(tail, bid, None, blocked))
    for k, value in enumerate(call.args):
        if isinstance(value, Tensor) and run.tape.node_of(value) is not None:
            continue
        raw = value.value if isinstance(value, Tensor) else value
        name = value.name if isinstance(value, Tensor) else None
        cid = f"k{bid}_{k}"
        graph.nodes.append(GNode(cid, [_fmt(raw) if name is None else f"{name} = {_fmt(raw)}"],
                                 "const", raw, name=name or "", op="const"))
        graph.edges.append(GEdge(cid, bid, k + 1))


def cap(graph: Graph, limit: int = MAX_BOXES, calls: bool = False) -> Graph:
    """The graph with at most limit boxes: those nearest the output (breadth first against the
    edges), then the latest others, always the highlighted ones, each with its constant
    inputs; the rest become one box that says how many are not drawn. calls: the note
    suggests --collapse."""
    if len(graph.nodes) <= limit:
        return graph
    ids = [n.id for n in graph.nodes]
    into: dict[str, list[str]] = {i: [] for i in ids}
    for e in graph.edges:
        into[e.head].append(e.tail)
    start = next((n.id for n in graph.nodes if n.role == "output"), ids[-1])
    const = {n.id for n in graph.nodes if n.role == "const"}   # drawn with their consumer
    keep = {c for n in graph.nodes if n.alerts for c in [n.id, *into[n.id]]
            if c == n.id or c in const}
    order, seen, queue = [], {start}, deque([start])
    while queue:
        i = queue.popleft()
        order.append(i)
        for t in into[i]:
            if t not in seen:
                seen.add(t)
                queue.append(t)
    order += [i for i in reversed(ids) if i not in seen]
    for i in order:
        if i in const or i in keep:
            continue
        group = [i] + [t for t in into[i] if t in const]
        if len(keep) + len(group) > limit - 1:
            break
        keep.update(group)
    hidden = len(ids) - len(keep)
    out = Graph(graph.title, graph.source, graph.at, notes=list(graph.notes))
    out.nodes = [n for n in graph.nodes if n.id in keep]
    out.nodes.append(GNode("elided", [f"{hidden:,} more boxes", "not drawn"], "elided"))
    heads: set[str] = set()
    for e in graph.edges:
        if e.head not in keep:
            continue
        if e.tail in keep:
            out.edges.append(e)
        elif e.head not in heads:
            heads.add(e.head)
            out.edges.append(GEdge("elided", e.head))
    out.notes.append(f"{len(keep):,} of {len(ids):,} boxes drawn (those nearest the output); "
                     + ("--collapse draws each function call as one box; " if calls else "")
                     + "a .dot file has them all")
    return out


# ---------------------------------------------------------------- DOT


def _dot_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


_DOT_STYLE = {
    "source": 'fillcolor="#dbeafe", color="#1d4ed8", penwidth=2, xlabel="source"',
    "output": 'fillcolor="#fde68a", color="#b45309", peripheries=2, xlabel="output"',
    "op": 'fillcolor="#ffffff"',
    "call": 'fillcolor="#ede9fe", color="#6d28d9", penwidth=2',
    "const": 'shape=plaintext, style="", fontcolor="#555555"',
    "elided": 'style="rounded,dashed", fontcolor="#555555"',
}
_DOT_ALERT = 'color="#dc2626", penwidth=3, fontcolor="#991b1b"'


def _dot_title(graph: Graph) -> str:
    """The graph label: one line for a one-line source, else the program's lines kept
    (left-justified) and the point and value below."""
    if len(graph.source) <= 1:
        return _dot_string(graph.title)
    lines = graph.source[:TITLE_LINES] + (
        [f"... ({len(graph.source) - TITLE_LINES} more lines)"]
        if len(graph.source) > TITLE_LINES else []) + [graph.at]
    return '"' + "".join(_dot_string(line)[1:-1] + "\\l" for line in lines) + '"'


def to_dot(graph: Graph) -> str:
    """Graphviz DOT text: left-to-right, sources blue with xlabel "source", the output gold with
    a double border and xlabel "output", edges into stop_gradient dashed and labelled "stop",
    the node where a nan/inf first appears red with the reason as its last line."""
    out = ["digraph gradcalc {",
           f"  graph [rankdir=LR, labelloc=t, fontname=Helvetica, "
           f"label={_dot_title(graph)}];",
           '  node [shape=box, style="rounded,filled", fontname=Helvetica];',
           '  edge [color="#555555", fontname=Helvetica, fontsize=10];']
    for node in graph.nodes:
        lines = node.lines + node.alerts
        style = _DOT_STYLE[node.role] + (", " + _DOT_ALERT if node.alerts else "")
        out.append(f"  {node.id} [label={_dot_string(chr(10).join(lines))}, {style}];")
    for edge in graph.edges:
        attrs = []
        if edge.blocked:
            attrs += ["style=dashed", 'label="stop"']
        elif edge.arg is not None:
            attrs.append(f'label="{edge.arg}"')
        if edge.alert:
            attrs += ['color="#dc2626"', "penwidth=2"]
        out.append(f"  {edge.tail} -> {edge.head}" + (f" [{', '.join(attrs)}]" if attrs else "")
                   + ";")
    out.append("}")
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------- Mermaid


def _mermaid_text(text: str) -> str:
    return (text.replace("&", "#amp;").replace('"', "#quot;").replace("<", "#lt;")
            .replace(">", "#gt;"))


def to_mermaid(graph: Graph) -> str:
    """Mermaid flowchart text (GitHub renders it in a ```mermaid block): the same nodes, marks
    and edges as the DOT output."""
    out = ["flowchart LR", f"  %% {_mermaid_text(graph.title)}"]
    for node in graph.nodes:
        label = "<br/>".join(_mermaid_text(line)
                             for line in node.lines + node.alerts)
        out.append(f'  {node.id}["{label}"]')
    for edge in graph.edges:
        if edge.blocked:
            out.append(f"  {edge.tail} -.->|stop| {edge.head}")
        elif edge.arg is not None:
            out.append(f"  {edge.tail} -->|{edge.arg}| {edge.head}")
        else:
            out.append(f"  {edge.tail} --> {edge.head}")
    out += ["  classDef source fill:#dbeafe,stroke:#1d4ed8,stroke-width:2px",
            "  classDef output fill:#fde68a,stroke:#b45309,stroke-width:3px",
            "  classDef const fill:#f3f4f6,stroke:#9ca3af,stroke-dasharray:3 3"]
    extra = {"call": "fill:#ede9fe,stroke:#6d28d9,stroke-width:2px",
             "elided": "fill:#ffffff,stroke:#9ca3af,stroke-dasharray:5 5"}
    out += [f"  classDef {role} {style}" for role, style in extra.items()
            if any(n.role == role for n in graph.nodes)]
    for role in ("source", "output", "const", *extra):
        ids = [n.id for n in graph.nodes if n.role == role]
        if ids:
            out.append(f"  class {','.join(ids)} {role}")
    alerts = [n.id for n in graph.nodes if n.alerts]
    if alerts:
        out += ["  classDef alert fill:#fee2e2,stroke:#dc2626,stroke-width:4px",
                f"  class {','.join(alerts)} alert"]
    return "\n".join(out) + "\n"
