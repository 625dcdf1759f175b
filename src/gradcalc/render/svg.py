"""The computation graph as SVG, and as one self-contained HTML page, drawn without Graphviz.

The boxes are placed by a layered (Sugiyama) layout: grandalf's, in pure Python, or Graphviz's
own when its `dot` program is installed (`dot -Tplain` gives positions and edge splines only);
either way the picture itself is written here, so the same boxes, text, colours and data
attributes come out on every machine. Text is sized for a monospace font.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import InputError
from ..render.report import jnum

if TYPE_CHECKING:
    from ..render.graph import GEdge, GNode, Graph

FONT = 12                 # px, monospace
CHAR_W = 7.25             # advance of one monospace character at FONT px (0.6 em, rounded up)
LINE_H = 15
PAD_X, PAD_Y = 8, 6       # inside a box
MARGIN = 16
ARROW = 8                 # arrowhead length: edges stop this short of the box they enter
MAX_CHARS = 44            # a longer line in a box ends in "..." (the tooltip has it whole)
TITLE_CHARS = 120
GAP = 24                  # between separate components of the built-in layout

_FILL = {"source": ("#dbeafe", "#1d4ed8", 2), "output": ("#fde68a", "#b45309", 3),
         "op": ("#ffffff", "#374151", 1), "call": ("#ede9fe", "#6d28d9", 2),
         "const": ("none", "none", 0), "elided": ("#ffffff", "#9ca3af", 1)}
_ALERT = ("#fee2e2", "#dc2626", 4)
_EDGE = {"plain": "#555555", "cut": "#9ca3af", "alert": "#dc2626"}
_LEGEND = {"source": "blue: watched source", "output": "gold: output",
           "call": "purple: a function call (--collapse)", "elided": "dashed box: not drawn",
           "cut": "dashed 'stop': stop_gradient passes no gradient",
           "alert": "red: where a nan/inf first appears"}
# XML 1.0 allows no other control characters, even escaped
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


class LayoutError(Exception):
    """Graphviz's layout could not be had (dot failed or printed something unexpected)."""


@dataclass
class Box:
    """A placed box: centre (x, y), width and height, in px."""

    x: float
    y: float
    w: float
    h: float


@dataclass
class Route:
    """An edge's path from tail to head: a polyline, or with curved the control points of
    cubic Bezier pieces (p0, then three points per piece), as Graphviz gives them."""

    points: list[tuple[float, float]]
    curved: bool = False


@dataclass
class Layout:
    """Where everything goes: boxes by node id, one route per graph edge (in order)."""

    width: float
    height: float
    engine: str
    boxes: dict[str, Box] = field(default_factory=dict)
    routes: list[Route] = field(default_factory=list)


# ---------------------------------------------------------------- box contents


def marks(node: GNode) -> list[str]:
    """The small italic lines on top of a box saying what is special about it: its role
    (source, output, call) and why it is highlighted."""
    role = {"source": "source", "output": "output", "call": "call"}.get(node.role)
    return ([role] if role else []) + node.alerts


def clip(text: str, n: int) -> str:
    """The text, or its first n-3 characters and '...'."""
    return text if len(text) <= n else text[: n - 3] + "..."


def box_lines(node: GNode) -> list[str]:
    """The lines drawn in a box (each at most MAX_CHARS characters), marks first."""
    return [clip(s, MAX_CHARS) for s in marks(node) + node.lines]


def box_size(node: GNode) -> tuple[float, float]:
    """Width and height of a node's box in px."""
    lines = box_lines(node)
    return (max(len(s) for s in lines) * CHAR_W + 2 * PAD_X, len(lines) * LINE_H + 2 * PAD_Y)


# ---------------------------------------------------------------- layouts


def lay_out(graph: Graph, choice: str, path: str) -> Layout:
    """Place the graph: Graphviz's dot when choice is dot, or auto and dot is installed (if dot
    fails under auto, a note on stderr and the built-in layout); else the built-in one."""
    exe = shutil.which("dot") if choice in ("auto", "dot") else None
    if exe is not None:
        try:
            return dot_layout(graph, exe)
        except LayoutError as exc:
            if choice == "dot":
                raise InputError(f"--graph {path}: Graphviz's layout failed: {exc}",
                                 hint="unset GRADCALC_LAYOUT to fall back to the built-in "
                                      "layout") from None
            sys.stderr.write(f"note: --graph {path}: Graphviz's layout failed ({exc}); "
                             "using the built-in layout\n")
    elif choice == "dot":
        raise InputError(f"--graph {path}: GRADCALC_LAYOUT=dot but Graphviz's 'dot' program "
                         "is not installed")
    return builtin_layout(graph)


class _View:
    """grandalf's view of a vertex: its size and, after drawing, its centre."""

    def __init__(self, w: float, h: float):
        self.w, self.h = w, h
        self.xy = (0.0, 0.0)


class _EdgeView:
    def __init__(self) -> None:
        self.points: list[tuple[float, float]] = []

    def setpath(self, points: list[tuple[float, float]]) -> None:
        self.points = list(points)


def _components(core: Any, vertices: dict[str, Any], pairs: dict[tuple[str, str], Any]
                ) -> list[Any]:
    """The connected pieces of the graph as grandalf graphs, each with its vertices and edges
    in the graph's own order (grandalf's Graph collects a piece's edges in a set of objects
    hashed by address, which made the layout differ from one process to the next)."""
    parent = {name: name for name in vertices}
    order = {name: k for k, name in enumerate(vertices)}

    def find(name: str) -> str:
        while parent[name] != name:
            parent[name] = parent[parent[name]]
            name = parent[name]
        return name

    for tail, head in pairs:
        a, b = find(tail), find(head)
        if a != b:
            parent[max(a, b, key=order.__getitem__)] = min(a, b, key=order.__getitem__)
    groups: dict[str, list[str]] = {}
    for name in vertices:
        groups.setdefault(find(name), []).append(name)
    edges: dict[str, list[Any]] = {}
    for (tail, _), edge in pairs.items():
        edges.setdefault(find(tail), []).append(edge)
    return [core([vertices[n] for n in names], edges.get(root, []))
            for root, names in groups.items()]


def builtin_layout(graph: Graph) -> Layout:
    """grandalf's Sugiyama layout, turned to run left to right: ranks from the tape's order
    (no cycles, so no edges are reversed), crossings reduced by median sweeps, coordinates by
    Brandes and Koepf; separate pieces of the graph are stacked top to bottom."""
    from grandalf.graphs import Edge, Vertex, graph_core
    from grandalf.layouts import SugiyamaLayout

    vertices: dict[str, Any] = {}
    for node in graph.nodes:
        w, h = box_size(node)
        v = Vertex(node.id)
        v.view = _View(h, w)            # grandalf draws layers top-down: swap the axes
        vertices[node.id] = v
    pairs: dict[tuple[str, str], Any] = {}
    for e in graph.edges:
        if (e.tail, e.head) not in pairs:
            edge = Edge(vertices[e.tail], vertices[e.head])
            edge.view = _EdgeView()
            pairs[(e.tail, e.head)] = edge
    layout = Layout(0.0, 0.0, "builtin")
    top = 0.0
    for comp in _components(graph_core, vertices, pairs):
        roots = [v for v in comp.sV if not v.e_in()]
        sug = SugiyamaLayout(comp)
        sug.xspace, sug.yspace = 14, 40
        sug.init_all(roots=roots, inverted_edges=[], optimize=True)
        sug.draw(3)
        placed = {v.data: (v.view.xy[1], v.view.xy[0], v.view.h, v.view.w) for v in comp.sV}
        routes = [edge.view for (tail, _), edge in pairs.items() if tail in placed]
        bends = [(p[1], p[0]) for r in routes for p in r.points]
        x0 = min([x - w / 2 for x, _, w, _ in placed.values()] + [x for x, _ in bends])
        y0 = min([y - h / 2 for _, y, _, h in placed.values()] + [y for _, y in bends])
        x1 = max([x + w / 2 for x, _, w, _ in placed.values()] + [x for x, _ in bends])
        y1 = max([y + h / 2 for _, y, _, h in placed.values()] + [y for _, y in bends])
        for name, (x, y, w, h) in placed.items():
            layout.boxes[name] = Box(x - x0, y - y0 + top, w, h)
        for r in routes:
            r.points = [(p[1] - x0, p[0] - y0 + top) for p in r.points]
        layout.width = max(layout.width, x1 - x0)
        top += y1 - y0 + GAP
    layout.height = max(top - GAP, 0.0)
    seen: dict[tuple[str, str], int] = {}
    for e in graph.edges:
        pts = pairs[(e.tail, e.head)].view.points
        route = _trim(pts, layout.boxes[e.tail], layout.boxes[e.head])
        k = seen[(e.tail, e.head)] = seen.get((e.tail, e.head), -1) + 1
        if k:   # the same two boxes again (pow(x, x)): a parallel line, its label apart
            route.points = [(x, y + 10 * k) for x, y in route.points]
        layout.routes.append(route)
    return layout


def _border(box: Box, toward: tuple[float, float]) -> tuple[float, float]:
    """Where the segment from the box's centre toward a point leaves the box."""
    dx, dy = toward[0] - box.x, toward[1] - box.y
    inf = float("inf")
    t = min(box.w / 2 / abs(dx) if dx else inf, box.h / 2 / abs(dy) if dy else inf, 1.0)
    return box.x + dx * t, box.y + dy * t


def _trim(points: list[tuple[float, float]], tail: Box, head: Box) -> Route:
    """A centre-to-centre polyline cut at the two boxes' borders, short of the head by the
    arrowhead."""
    if len(points) < 2:
        points = [(tail.x, tail.y), (head.x, head.y)]
    start = _border(tail, points[1])
    end = _border(head, points[-2])
    px, py = points[-2] if len(points) > 2 else start
    dx, dy = end[0] - px, end[1] - py
    n = (dx * dx + dy * dy) ** 0.5
    if n > ARROW:
        end = (end[0] - dx / n * ARROW, end[1] - dy / n * ARROW)
    return Route([start, *points[1:-1], end])


def dot_layout(graph: Graph, exe: str) -> Layout:
    """Graphviz's layout of the same boxes (fixed sizes, no labels), read from `dot -Tplain`:
    node centres and each edge's spline, in inches with y up."""
    # nslimit: network simplex stops after 2 x nodes iterations; the same layout for small
    # graphs, and seconds instead of tens of seconds for a capped 300-box one
    lines = ["digraph layout {",
             "  graph [rankdir=LR, nodesep=0.2, ranksep=0.5, nslimit=2, nslimit1=2];",
             '  node [shape=box, fixedsize=true, label=""];',
             f"  edge [arrowsize={ARROW / 10}];"]     # dot's arrowhead is 10 pt at size 1
    for node in graph.nodes:
        w, h = box_size(node)
        lines.append(f"  {node.id} [width={w / 72:.4f}, height={h / 72:.4f}];")
    lines += [f"  {e.tail} -> {e.head};" for e in graph.edges] + ["}"]
    try:
        proc = subprocess.run([exe, "-Tplain"], input="\n".join(lines) + "\n", text=True,
                              capture_output=True, timeout=120, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise LayoutError(str(exc)) from None
    if proc.returncode != 0:
        raise LayoutError((proc.stderr.strip().splitlines()
                           or [f"exit status {proc.returncode}"])[0])
    return parse_plain(proc.stdout, graph)


def parse_plain(text: str, graph: Graph) -> Layout:
    """A Layout from Graphviz's plain output for this graph (every node and edge must be
    there)."""
    height = None
    centres: dict[str, tuple[float, float]] = {}
    splines: dict[tuple[str, str], list[list[tuple[float, float]]]] = {}
    try:
        for line in text.splitlines():
            f = line.split()
            if not f:
                continue
            if f[0] == "graph":
                width, height = float(f[2]) * 72, float(f[3]) * 72
            elif f[0] == "node":
                centres[f[1].strip('"')] = (float(f[2]) * 72, float(f[3]) * 72)
            elif f[0] == "edge":
                n = int(f[3])
                pts = [(float(f[4 + 2 * k]) * 72, float(f[5 + 2 * k]) * 72) for k in range(n)]
                splines.setdefault((f[1].strip('"'), f[2].strip('"')), []).append(pts)
    except (ValueError, IndexError):
        raise LayoutError(f"unexpected line in dot's output: {line[:60]!r}") from None
    if height is None:
        raise LayoutError("no graph line in dot's output")
    layout = Layout(width, height, "dot")
    for node in graph.nodes:
        if node.id not in centres:
            raise LayoutError(f"dot's output has no node {node.id}")
        x, y = centres[node.id]
        layout.boxes[node.id] = Box(x, height - y, *box_size(node))
    for e in graph.edges:
        found = splines.get((e.tail, e.head))
        if not found:
            raise LayoutError(f"dot's output has no edge {e.tail} -> {e.head}")
        pts = [(x, height - y) for x, y in found.pop(0)]
        curved = len(pts) >= 4 and len(pts) % 3 == 1
        layout.routes.append(Route(pts, curved) if curved else
                             _trim(pts, layout.boxes[e.tail], layout.boxes[e.head]))
    return layout


# ---------------------------------------------------------------- SVG


def escape(text: str) -> str:
    """Text for an XML text node or a double-quoted attribute."""
    return html.escape(_NOT_XML.sub("\ufffd", text), quote=True)


def _num(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".")


def _data(value: Any) -> str:
    """A value for a data- attribute: JSON with full precision (shortest round-trip floats),
    'null' for no value, non-finite numbers as "nan", "inf", "-inf"."""
    return json.dumps(jnum(value), separators=(",", ":"))


def title_lines(graph: Graph) -> list[str]:
    """The title block on top: the program (its first line, when it has several: they are
    listed below the graph, so that the first screen shows the graph), then the point and
    value."""
    first = graph.source[0] if graph.source else ""
    if len(graph.source) <= 1:
        return [clip(first, TITLE_CHARS), graph.at]
    more = f"   (1 of {len(graph.source)} lines; the program is listed below the graph)"
    return [clip(first, TITLE_CHARS - len(more)) + more, graph.at]


def listing_lines(graph: Graph) -> list[str]:
    """The program listed below the graph (at most graph.title_limit lines), when it has more
    than one line; else nothing."""
    if len(graph.source) <= 1:
        return []
    limit = graph.title_limit
    src = graph.source[:limit]
    if len(graph.source) > limit:
        src.append(f"... ({len(graph.source) - limit} more lines)")
    return ["program:"] + [clip(s, TITLE_CHARS) for s in src]


def to_svg(graph: Graph, layout: Layout) -> str:
    """The picture as a standalone SVG document: the program (line breaks kept) and its value on
    top, a legend, then the boxes and edges. Each box is a <g class="node ROLE"> with the tape
    id as id and data-value/data-adjoint in full precision; each edge a <g class="edge">."""
    head = title_lines(graph)
    present = {n.role for n in graph.nodes} | {"alert" for n in graph.nodes if n.alerts} | \
        {"cut" for e in graph.edges if e.blocked}
    legend = "   ".join(text for key, text in _LEGEND.items() if key in present)
    notes = [clip(n, TITLE_CHARS + 40) for n in graph.notes]
    listing = listing_lines(graph)
    top = MARGIN + (len(head) + len(notes) + 1) * LINE_H + 10
    text_w = max(len(s) for s in head + notes + [legend] + listing) * CHAR_W
    width = max(layout.width, text_w) + 2 * MARGIN
    bottom = top + layout.height + MARGIN
    height = bottom + (len(listing) * LINE_H + 10 if listing else 0) + MARGIN
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{_num(width)}" '
           f'height="{_num(height)}" viewBox="0 0 {_num(width)} {_num(height)}" '
           f'font-family="DejaVu Sans Mono, Menlo, Consolas, monospace" font-size="{FONT}" '
           f'data-layout="{layout.engine}">',
           f"<title>{escape(clip('gradcalc: ' + graph.title, TITLE_CHARS))}</title>",
           "<defs>"]
    for name, colour in _EDGE.items():
        out.append(f'<marker id="arrow-{name}" viewBox="0 0 10 10" refX="0" refY="5" '
                   f'markerUnits="userSpaceOnUse" markerWidth="{ARROW}" markerHeight="{ARROW}" '
                   f'orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="{colour}"/></marker>')
    out.append("</defs>")
    out.append('<rect width="100%" height="100%" fill="#ffffff"/>')
    out.append('<g class="title">')
    y = MARGIN + LINE_H - 3
    for k, line in enumerate(head):
        weight = ' font-weight="bold"' if k == len(head) - 1 else ""
        out.append(f'<text x="{MARGIN}" y="{_num(y)}" xml:space="preserve"{weight}>'
                   f"{escape(line)}</text>")
        y += LINE_H
    for note in notes:
        out.append(f'<text class="note" x="{MARGIN}" y="{_num(y)}" fill="#b45309">'
                   f"note: {escape(note)}</text>")
        y += LINE_H
    out.append(f'<text class="legend" x="{MARGIN}" y="{_num(y)}" fill="#6b7280" '
               f'xml:space="preserve">{escape(legend)}</text>')
    out.append("</g>")
    out.append(f'<g class="graph" transform="translate({MARGIN} {_num(top)})">')
    for edge, route in zip(graph.edges, layout.routes, strict=True):
        out += _edge_svg(edge, route)
    for node in graph.nodes:
        out += _node_svg(node, layout.boxes[node.id])
    out.append("</g>")
    if listing:
        out.append('<g class="listing">')
        y = bottom + LINE_H
        for k, line in enumerate(listing):
            attrs = ' font-weight="bold"' if k == 0 else \
                f' data-line="{k}"' if k <= min(graph.title_limit, len(graph.source)) else ""
            out.append(f'<text x="{MARGIN}" y="{_num(y)}" xml:space="preserve"{attrs}>'
                       f"{escape(line)}</text>")
            y += LINE_H
        out.append("</g>")
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _node_svg(node: GNode, box: Box) -> list[str]:
    fill, stroke, width = _ALERT if node.alerts else _FILL[node.role]
    classes = f"node {node.role}" + (" alert" if node.alerts else "")
    data = "" if node.role == "elided" else \
        f' data-value="{escape(_data(node.value))}"' + \
        ("" if node.role == "const" else f' data-adjoint="{escape(_data(node.adjoint))}"')
    for key, value in (("name", node.name), ("op", node.op), ("line", node.line),
                       ("call", node.call)):
        if value not in (None, ""):
            data += f' data-{key}="{escape(str(value))}"'
    if node.step:   # --steps: the box's step of the backward pass, on hover and as data
        data += f' data-step="{escape(json.dumps(node.step))}"'
    tip = "\n".join(node.lines + node.alerts + ([""] + node.step if node.step else []))
    out = [f'<g class="{classes}" id="{escape(node.id)}"{data}>',
           f"<title>{escape(clip(tip, 2000))}</title>"]
    x, y = box.x - box.w / 2, box.y - box.h / 2
    if node.role != "const":
        dash = ' stroke-dasharray="5 4"' if node.role == "elided" else ""
        out.append(f'<rect x="{_num(x)}" y="{_num(y)}" width="{_num(box.w)}" '
                   f'height="{_num(box.h)}" rx="6" fill="{fill}" stroke="{stroke}" '
                   f'stroke-width="{width}"{dash}/>')
    lines = box_lines(node)
    n_marks = len(marks(node))
    ty = y + PAD_Y + LINE_H - 4
    for k, line in enumerate(lines):
        if k < n_marks:
            colour = stroke if k == 0 and node.role in ("source", "output", "call") else "#991b1b"
            out.append(f'<text class="mark" x="{_num(x + PAD_X)}" y="{_num(ty)}" '
                       f'fill="{colour}" font-style="italic">{escape(line)}</text>')
        else:
            colour = "#4b5563" if node.role in ("const", "elided") else "#111827"
            out.append(f'<text x="{_num(x + PAD_X)}" y="{_num(ty)}" fill="{colour}" '
                       f'xml:space="preserve">{escape(line)}</text>')
        ty += LINE_H
    out.append("</g>")
    return out


def _edge_svg(edge: GEdge, route: Route) -> list[str]:
    kind = "alert" if edge.alert else "cut" if edge.blocked else "plain"
    classes = "edge" + (" cut" if edge.blocked else "") + (" alert" if edge.alert else "")
    pts = route.points
    if route.curved:
        d = f"M{_num(pts[0][0])},{_num(pts[0][1])}" + "".join(
            f" C{_num(a[0])},{_num(a[1])} {_num(b[0])},{_num(b[1])} {_num(c[0])},{_num(c[1])}"
            for a, b, c in zip(pts[1::3], pts[2::3], pts[3::3], strict=True))
    else:
        d = "M" + " L".join(f"{_num(x)},{_num(y)}" for x, y in pts)
    dash = ' stroke-dasharray="6 4"' if edge.blocked else ""
    arg = "" if edge.arg is None else f' data-arg="{edge.arg}"'
    out = [f'<g class="{classes}" data-tail="{escape(edge.tail)}" data-head="{escape(edge.head)}"'
           f"{arg}>",
           f'<path d="{d}" fill="none" stroke="{_EDGE[kind]}" '
           f'stroke-width="{2 if edge.alert else 1.3}"{dash} marker-end="url(#arrow-{kind})"/>']
    label = "stop" if edge.blocked else None if edge.arg is None else str(edge.arg)
    if label is not None:
        (x0, y0), (x1, y1) = pts[-2], pts[-1]
        n = max(((x1 - x0) ** 2 + (y1 - y0) ** 2) ** 0.5, 1e-9)
        t = min(0.5, 14 / n)
        lx, ly = x1 + (x0 - x1) * t, y1 + (y0 - y1) * t - 4
        out.append(f'<text x="{_num(lx)}" y="{_num(ly)}" fill="{_EDGE[kind]}" '
                   f'font-size="{FONT - 2}" text-anchor="middle">{label}</text>')
    out.append("</g>")
    return out


