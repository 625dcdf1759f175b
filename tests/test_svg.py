"""--graph x.svg / x.html drawn without Graphviz: the SVG read back with a real XML parser
(xml.etree), the HTML with html.parser, and their content (values, adjoints, marks, edges)
checked against numbers computed here, independently of the tape."""

from __future__ import annotations

import json
import math
import os
import re
import stat
import subprocess
import sys
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NS = "{http://www.w3.org/2000/svg}"
SEED = ("tax*(a*an+o*on)", "a=100,an=2,o=150,on=3,tax=1.1")
SEED_EDGES = {("t0", "t5"), ("t1", "t5"), ("t2", "t6"), ("t3", "t6"), ("t5", "t7"),
              ("t6", "t7"), ("t4", "t8"), ("t7", "t8")}
ARROW = 8   # px: an edge stops this short of the box it enters (svg.ARROW)


@pytest.fixture(autouse=True)
def _builtin_layout(monkeypatch) -> None:
    """The built-in layout unless a test asks for Graphviz's (dot may be installed here)."""
    monkeypatch.setenv("GRADCALC_LAYOUT", "builtin")


def draw(gradcalc, tmp_path: Path, expr: str, at: str, *extra: str, name: str = "g.svg"):
    path = tmp_path / name
    r = gradcalc(expr, "--at", at, "--no-check", "--graph", str(path), *extra)
    return r, path


def parse_svg(text: str) -> dict:
    """Boxes (id -> classes, marks, lines, data, rect), edges and title lines of our SVG."""
    root = ET.fromstring(text)
    assert root.tag == NS + "svg"
    boxes, edges = {}, []
    for g in root.iter(NS + "g"):
        classes = g.get("class", "").split()
        if "node" in classes:
            texts = g.findall(NS + "text")
            rect = g.find(NS + "rect")
            boxes[g.get("id")] = {
                "classes": classes,
                "marks": [t.text for t in texts if t.get("class") == "mark"],
                "lines": [t.text for t in texts if t.get("class") != "mark"],
                "value": g.get("data-value"), "adjoint": g.get("data-adjoint"),
                "tooltip": g.find(NS + "title").text,
                "rect": None if rect is None else tuple(float(rect.get(k)) for k in
                                                        ("x", "y", "width", "height")),
            }
        elif "edge" in classes:
            path = g.find(NS + "path")
            label = g.find(NS + "text")
            edges.append({"tail": g.get("data-tail"), "head": g.get("data-head"),
                          "classes": classes, "d": path.get("d"),
                          "dash": path.get("stroke-dasharray"),
                          "label": None if label is None else label.text})
    title = [t.text for t in root.find(NS + "g[@class='title']").findall(NS + "text")]
    listing = root.find(NS + "g[@class='listing']")
    return {"root": root, "boxes": boxes, "edges": edges, "title": title,
            "listing": [] if listing is None else [t.text for t in listing.findall(NS + "text")],
            "layout": root.get("data-layout")}


def _points(d: str) -> list[tuple[float, float]]:
    return [(float(x), float(y)) for x, y in re.findall(r"(-?[\d.]+),(-?[\d.]+)", d)]


def _dist_to_rect(p: tuple[float, float], rect: tuple[float, float, float, float]) -> float:
    """Distance from a point to a rectangle's border (0 on it)."""
    x, y, w, h = rect
    dx = max(x - p[0], 0, p[0] - (x + w))
    dy = max(y - p[1], 0, p[1] - (y + h))
    if dx or dy:
        return math.hypot(dx, dy)
    return min(p[0] - x, x + w - p[0], p[1] - y, y + h - p[1])


def assert_drawn_sanely(svg: dict) -> None:
    """No two boxes overlap, and every edge starts on its tail's border and ends an
    arrowhead short of its head's."""
    rects = {k: b["rect"] for k, b in svg["boxes"].items() if b["rect"]}
    items = sorted(rects.items())
    for i, (a, (ax, ay, aw, ah)) in enumerate(items):
        for b, (bx, by, bw, bh) in items[i + 1:]:
            overlap = ax < bx + bw and bx < ax + aw and ay < by + bh and by < ay + ah
            assert not overlap, f"boxes {a} and {b} overlap"
    for e in svg["edges"]:
        pts = _points(e["d"])
        if e["tail"] in rects:
            assert _dist_to_rect(pts[0], rects[e["tail"]]) < 1.5, e
        if e["head"] in rects:
            assert _dist_to_rect(pts[-1], rects[e["head"]]) < ARROW + 1.5, e


# ---------------------------------------------------------------- the seed example


def _seed_truth() -> tuple[float, dict[str, float]]:
    a, an, o, on, tax = 100, 2, 150, 3, 1.1
    return tax * (a * an + o * on), {"a": an * tax, "an": a * tax, "o": on * tax,
                                     "on": o * tax, "tax": a * an + o * on}


def test_seed_svg_without_graphviz(gradcalc, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "nothing-here"))
    monkeypatch.setenv("GRADCALC_LAYOUT", "auto")
    r, path = draw(gradcalc, tmp_path, *SEED, name="seed.svg")
    assert r.status == 0 and r.err == "", r.err
    plain = gradcalc(SEED[0], "--at", SEED[1], "--no-check")
    assert r.out == plain.out
    svg = parse_svg(path.read_text())
    assert svg["layout"] == "builtin"
    value, partials = _seed_truth()
    boxes = svg["boxes"]
    assert set(boxes) == {f"t{i}" for i in range(9)}
    names = ["a", "an", "o", "on", "tax"]
    for i, name in enumerate(names):
        box = boxes[f"t{i}"]
        assert box["lines"] == [f"t{i} {name}", "input", f"value {[100, 2, 150, 3, 1.1][i]}",
                                f"adjoint {partials[name]:.15g}"]
        assert json.loads(box["adjoint"]) == pytest.approx(partials[name], rel=1e-15)
        assert box["marks"] == ["source"] and "source" in box["classes"]
    out = boxes["t8"]
    assert out["marks"] == ["output"] and "output" in out["classes"]
    assert out["lines"] == ["t8", "mul", f"value {value:.15g}", "adjoint 1"]
    assert json.loads(out["value"]) == value      # full precision: 715.0000000000001
    assert [boxes[f"t{i}"]["lines"][1] for i in range(5, 9)] == ["mul", "mul", "add", "mul"]
    assert {(e["tail"], e["head"]) for e in svg["edges"]} == SEED_EDGES
    assert svg["title"][:2] == ["tax*(a*an+o*on)",
                                "at a=100, an=2, o=150, on=3, tax=1.1  =  715"]
    assert_drawn_sanely(svg)
    # left to right: every edge goes forward
    for e in svg["edges"]:
        assert boxes[e["tail"]]["rect"][0] < boxes[e["head"]]["rect"][0]


def test_values_and_adjoints_match_closed_forms(gradcalc, tmp_path) -> None:
    x, y = 0.7, 1.3
    r, path = draw(gradcalc, tmp_path, "u = x*sin(y)\nv = exp(x/y)\nf = u + v", "x=0.7,y=1.3")
    assert r.status == 0, r.err
    boxes = parse_svg(path.read_text())["boxes"]
    want = {"x": (x, math.sin(y) + math.exp(x / y) / y),
            "y": (y, x * math.cos(y) - x * math.exp(x / y) / y**2),
            "u": (x * math.sin(y), 1.0), "v": (math.exp(x / y), 1.0),
            "f": (x * math.sin(y) + math.exp(x / y), 1.0)}
    named = {b["lines"][0].split()[1]: b for b in boxes.values()
             if "const" not in b["classes"] and len(b["lines"][0].split()) == 2}
    assert set(named) == set(want)
    for name, (value, adjoint) in want.items():
        assert json.loads(named[name]["value"]) == pytest.approx(value, rel=1e-14), name
        assert json.loads(named[name]["adjoint"]) == pytest.approx(adjoint, rel=1e-14), name


def test_the_svg_is_the_same_on_every_run(gradcalc, tmp_path) -> None:
    _, one = draw(gradcalc, tmp_path, *SEED, name="one.svg")
    _, two = draw(gradcalc, tmp_path, *SEED, name="two.svg")
    assert one.read_text() == two.read_text()


def test_a_big_layout_is_the_same_in_every_process(tmp_path) -> None:
    # grandalf keeps a component's edges in a set of objects hashed by address: the layout
    # must not depend on where a process allocated them
    program = "\n".join(["y0 = x*w"] + [f"y{i} = sin(y{i - 1})*y{max(0, i - 3)} + {i}"
                                        for i in range(1, 30)])
    code = ("import sys; from gradcalc.cli.main import main; "
            f"main([{program!r}, '--at', 'x=0.5,w=2', '--no-check', '--graph', sys.argv[1]])")
    drawn = []
    for k in range(3):
        path = tmp_path / f"g{k}.svg"
        subprocess.run([sys.executable, "-c", code, str(path)], check=True,
                       env={**os.environ, "GRADCALC_LAYOUT": "builtin"}, capture_output=True)
        drawn.append(path.read_bytes())
    assert drawn[0] == drawn[1] == drawn[2]


def test_docs_seed_svg_is_the_tools_output(gradcalc, tmp_path) -> None:
    _, path = draw(gradcalc, tmp_path, *SEED, name="seed.svg")
    assert (ROOT / "docs" / "seed.svg").read_text() == path.read_text()
    readme = (ROOT / "README.md").read_text()
    assert "](docs/seed.svg)" in readme


# ---------------------------------------------------------------- text, marks and edges


def test_program_title_keeps_line_breaks_and_is_escaped(gradcalc, tmp_path) -> None:
    program = ('# totals <before> & "after" tax\x01\n'
               "  y = x * 2   # y < 3 && y > 1\n"
               "z = y + 1")
    r, path = draw(gradcalc, tmp_path, program, "x=1")
    assert r.status == 0, r.err
    text = path.read_text()
    svg = parse_svg(text)           # a real XML parser accepts it
    # on top, the first line and the value, so that the first screen shows the graph; the
    # program is listed below the graph
    assert svg["title"][:2] == ['# totals <before> & "after" tax\ufffd   (1 of 3 lines; the '
                                "program is listed below the graph)", "at x=1  =  3"]
    assert svg["listing"] == ["program:", '# totals <before> & "after" tax\ufffd',
                              "  y = x * 2   # y < 3 && y > 1", "z = y + 1"]
    top = float(svg["root"].find(NS + "g[@class='graph']").get("transform").split()[1][:-1])
    listing_y = min(float(t.get("y")) for t in svg["root"].find(
        NS + "g[@class='listing']").findall(NS + "text"))
    assert listing_y > top + max(b["rect"][1] + b["rect"][3] for b in svg["boxes"].values()
                                 if b["rect"])
    assert "<before>" not in text and "&&" not in text
    assert svg["boxes"]["t2"]["lines"][0] == "t2 z"


def test_a_long_program_title_shows_its_first_lines(gradcalc, tmp_path) -> None:
    from gradcalc.render.graph import TITLE_LINES

    program = "\n".join(f"y{k} = x + {k}" for k in range(TITLE_LINES + 20))
    r, path = draw(gradcalc, tmp_path, program, "x=1")
    assert r.status == 0, r.err
    svg = parse_svg(path.read_text())
    assert svg["title"][:2] == [f"y0 = x + 0   (1 of {TITLE_LINES + 20} lines; the program is "
                                "listed below the graph)", f"at x=1  =  {1 + TITLE_LINES + 19}"]
    assert svg["listing"][1:TITLE_LINES + 1] == program.splitlines()[:TITLE_LINES]
    assert svg["listing"][TITLE_LINES + 1:] == ["... (20 more lines)"]
    tooltip = ET.fromstring(path.read_text()).find(NS + "title").text
    assert tooltip.startswith("gradcalc: y0 = x + 0 y1 = x + 1") and len(tooltip) <= 120


def test_stop_gradient_edges_are_drawn_cut(gradcalc, tmp_path) -> None:
    r, path = draw(gradcalc, tmp_path, "stop_gradient(x) * y - 2 / x", "x=3,y=4,z=1",
                   "--wrt", "x")
    assert r.status == 0, r.err
    svg = parse_svg(path.read_text())
    cut = [e for e in svg["edges"] if "cut" in e["classes"]]
    assert [(e["tail"], e["head"]) for e in cut] == [("t0", "t1")]
    assert cut[0]["label"] == "stop" and cut[0]["dash"]
    assert svg["boxes"][cut[0]["head"]]["lines"][1] == "stop_gradient"
    assert all(e["dash"] is None for e in svg["edges"] if e not in cut)
    consts = {b["lines"][0] for b in svg["boxes"].values() if "const" in b["classes"]}
    assert consts == {"y = 4", "2"}
    div = next(e for e in svg["edges"] if e["tail"] == "t0" and e["label"] == "2")
    assert svg["boxes"][div["head"]]["lines"][1] == "div"
    # d/dx of -2/x at 3 is 2/9: the adjoint of x shown is that (the stop_gradient path adds 0)
    assert json.loads(svg["boxes"]["t0"]["adjoint"]) == pytest.approx(2 / 9, rel=1e-15)


def test_a_box_used_twice_by_one_op_gets_two_lines(gradcalc, tmp_path) -> None:
    r, path = draw(gradcalc, tmp_path, "pow(x, x)", "x=1.5")
    assert r.status == 0, r.err
    svg = parse_svg(path.read_text())
    twice = [e for e in svg["edges"] if (e["tail"], e["head"]) == ("t0", "t1")]
    assert sorted(e["label"] for e in twice) == ["1", "2"]
    assert twice[0]["d"] != twice[1]["d"]
    # d/dx x^x = x^x (log x + 1)
    want = 1.5**1.5 * (math.log(1.5) + 1)
    assert json.loads(svg["boxes"]["t0"]["adjoint"]) == pytest.approx(want, rel=1e-14)
    assert_drawn_sanely(svg)


def test_the_first_nan_value_is_highlighted(gradcalc, tmp_path) -> None:
    r, path = draw(gradcalc, tmp_path, "u = x*y\nv = sqrt(u - 10)\nw = v + x", "x=2,y=3")
    assert r.status == 3
    svg = parse_svg(path.read_text())
    alerts = {k: b for k, b in svg["boxes"].items() if "alert" in b["classes"]}
    assert len(alerts) == 1
    (box,) = alerts.values()
    assert box["lines"][:2] == ["t4 v", "sqrt"]        # 2*3 - 10 < 0: sqrt is where nan starts
    # and sqrt's derivative at a negative number is where the adjoints turn nan
    assert box["marks"] == ["first nan value here", "first nan/inf adjoint here (argument 1)"]
    assert json.loads(box["value"]) == "nan"
    # later nodes are nan too, but are not highlighted
    assert json.loads(svg["boxes"]["t5"]["value"]) == "nan"


def test_the_first_nonfinite_adjoint_is_highlighted(gradcalc, tmp_path) -> None:
    # value sqrt(0)*2 = 0 is finite; d/dx = y/(2 sqrt(x)) is inf: it starts at sqrt's rule
    r, path = draw(gradcalc, tmp_path, "sqrt(x)*y", "x=0,y=2")
    assert r.status == 3
    svg = parse_svg(path.read_text())
    alerts = [k for k, b in svg["boxes"].items() if "alert" in b["classes"]]
    assert len(alerts) == 1
    box = svg["boxes"][alerts[0]]
    assert box["lines"][1] == "sqrt" and box["marks"] == ["first nan/inf adjoint here (argument 1)"]
    red = [(e["tail"], e["head"]) for e in svg["edges"] if "alert" in e["classes"]]
    assert red == [("t0", alerts[0])]
    assert json.loads(svg["boxes"]["t0"]["adjoint"]) == "inf"


CALC = ("calc(apple, n, orange, m, tax) = tax*(apple*n + orange*m)\n"
        "payment = calc(a, an, o, on, tax)\n"
        "total = payment + 2*a")


def test_collapse_draws_each_call_as_one_box(gradcalc, tmp_path) -> None:
    r, path = draw(gradcalc, tmp_path, CALC, "a=100,an=2,o=150,on=3,tax=1.1", "--collapse")
    assert r.status == 0 and "note" not in r.err, r.err
    svg = parse_svg(path.read_text())
    calls = {k: b for k, b in svg["boxes"].items() if "call" in b["classes"]}
    assert list(calls) == ["t5_8"]
    box = calls["t5_8"]
    value, partials = _seed_truth()
    assert box["lines"] == ["t5..t8 payment", "calc(...)", f"value {value:.15g}", "adjoint 1"]
    assert box["marks"] == ["call"]
    assert not {"t5", "t6", "t7", "t8"} & set(svg["boxes"])
    assert {e["tail"] for e in svg["edges"] if e["head"] == "t5_8"} == {f"t{i}" for i in range(5)}
    # the sources' adjoints are those of total = payment + 2a
    assert json.loads(svg["boxes"]["t0"]["adjoint"]) == pytest.approx(partials["a"] + 2)
    assert_drawn_sanely(svg)
    r, path = draw(gradcalc, tmp_path, CALC, "a=100,an=2,o=150,on=3,tax=1.1", name="all.svg")
    full = parse_svg(path.read_text())
    assert {"t5", "t6", "t7", "t8"} <= set(full["boxes"])
    assert full["boxes"]["t6"]["lines"][0] == "t6 calc/t6"


def test_collapse_keeps_a_nan_inside_a_call_visible(gradcalc, tmp_path) -> None:
    program = "f(u) = sqrt(u - 5) * u\ny = f(x) + x"
    r, path = draw(gradcalc, tmp_path, program, "x=1", "--collapse")
    assert r.status == 3
    svg = parse_svg(path.read_text())
    (call,) = [b for b in svg["boxes"].values() if "call" in b["classes"]]
    assert "alert" in call["classes"]
    assert any(m.startswith("first nan value here (inside: t") for m in call["marks"])


def test_large_graphs_are_capped_with_a_note(gradcalc, tmp_path) -> None:
    from gradcalc.render.graph import MAX_BOXES

    n = MAX_BOXES  # n sine terms: over 2n boxes
    expr = "sqrt(x - 5) + " + " + ".join(f"sin({k}*x)" for k in range(1, n + 1))
    r, path = draw(gradcalc, tmp_path, expr, "x=1")
    assert r.status == 3
    notes = [line for line in r.err.splitlines() if line.startswith("note: --graph")]
    drawn, total = (int(n.replace(",", "")) for n in
                    re.search(r"([\d,]+) of ([\d,]+) boxes drawn", notes[0]).groups())
    assert len(notes) == 1 and MAX_BOXES - 3 <= drawn < MAX_BOXES
    assert total == 4 * n + 4   # x, n times (k, mul, sin, add), and 5, sub, sqrt
    svg = parse_svg(path.read_text())
    assert len(svg["boxes"]) == drawn + 1
    elided = svg["boxes"]["elided"]
    assert elided["lines"] == [f"{total - drawn:,} more boxes", "not drawn"]
    # a constant is drawn with the box it feeds
    for e in svg["edges"]:
        if e["tail"] == "elided":
            assert "const" not in svg["boxes"].get(e["head"], {}).get("classes", [])
    consts = {b for b, box in svg["boxes"].items() if "const" in box["classes"]}
    muls = [b for b, box in svg["boxes"].items() if box["lines"][1:2] == ["mul"]]
    assert muls and all(any(e["head"] == m and e["tail"] in consts for e in svg["edges"])
                        for m in muls)
    assert any("output" in b["classes"] for b in svg["boxes"].values())
    # the nan starts at the very first op, the farthest from the output: still drawn
    alerts = [b for b in svg["boxes"].values() if "alert" in b["classes"]]
    assert len(alerts) == 1 and alerts[0]["lines"][1] == "sqrt"
    assert [t for t in svg["title"] if t.startswith("note: ")] == \
        [notes[0].replace(f"--graph {path}: ", "")]
    assert_drawn_sanely(svg)


def test_vectors_show_shortened_values_and_keep_them_whole_in_data(gradcalc, tmp_path) -> None:
    w = [k / 7 for k in range(30)]
    at = "w=[" + ",".join(f"{k}/7" for k in range(30)) + "]"
    r, path = draw(gradcalc, tmp_path, "sum(w*w)", at)
    assert r.status == 0, r.err
    box = parse_svg(path.read_text())["boxes"]["t0"]
    assert json.loads(box["value"]) == pytest.approx(w, rel=1e-15)
    assert json.loads(box["adjoint"]) == pytest.approx([2 * v for v in w], rel=1e-15)
    assert all(len(line) <= 44 for line in box["lines"]) and box["lines"][2].endswith("...")


# ---------------------------------------------------------------- HTML


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.decl: list[str] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_decl(self, decl: str) -> None:
        self.decl.append(decl)

    def handle_starttag(self, tag, attrs) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_startendtag(self, tag, attrs) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag) -> None:
        self._in_script = False

    def handle_data(self, data) -> None:
        if self._in_script:
            self.scripts.append(data)


def test_html_page_is_self_contained(gradcalc, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "nothing-here"))
    r, path = draw(gradcalc, tmp_path, "# a < b & c\ny = stop_gradient(x) * x", "x=3",
                   name="page.html")
    assert r.status == 0, r.err
    text = path.read_text()
    page = _Page()
    page.feed(text)
    page.close()
    assert page.decl == ["DOCTYPE html"]
    tags = [t for t, _ in page.tags]
    assert tags.count("svg") == 1 and tags.count("script") == 1 and "link" not in tags
    for tag, attrs in page.tags:     # nothing is fetched: no src, no external href
        assert "src" not in attrs, tag
        assert not str(attrs.get("href", "")).startswith(("http", "//")), tag
    assert "addEventListener" in "".join(page.scripts)
    # the page is also well-formed XML, and its inline SVG has the same content as the .svg
    root = ET.fromstring(text.split("\n", 1)[1])
    (inline,) = root.iter(NS + "svg")
    svg_path = tmp_path / "page.svg"
    assert gradcalc("# a < b & c\ny = stop_gradient(x) * x", "--at", "x=3", "--no-check",
                    "--graph", str(svg_path)).status == 0
    inline.tail = None
    assert ET.tostring(inline) == ET.tostring(ET.fromstring(svg_path.read_text()))
    svg = parse_svg(ET.tostring(inline, encoding="unicode"))
    assert svg["title"][0].startswith("# a < b & c   (1 of 2 lines")
    assert [e["label"] for e in svg["edges"] if "cut" in e["classes"]] == ["stop"]


# ---------------------------------------------------------------- Graphviz's layout


def _fake_dot(folder: Path, body: str) -> None:
    folder.mkdir()
    exe = folder / "dot"
    exe.write_text(f"#!{sys.executable}\n{body}")
    exe.chmod(exe.stat().st_mode | stat.S_IEXEC)


# A stand-in for `dot -Tplain`: boxes in one row, 2 inches apart, straight 4-point splines;
# it leaves a file behind to show it ran.
FAKE_PLAIN = """
import re, sys
assert sys.argv[1:] == ["-Tplain"], sys.argv
text = sys.stdin.read()
open(__file__ + ".ran", "w").write(text)
nodes = re.findall(r"^  (\\w+) \\[width=([\\d.]+), height=([\\d.]+)\\];$", text, re.M)
edges = re.findall(r"^  (\\w+) -> (\\w+);$", text, re.M)
pos = {n: (1 + 2 * i, 3.0) for i, (n, _, _) in enumerate(nodes)}
print(f"graph 1 {2 * len(nodes) + 1} 6")
for n, w, h in nodes:
    print(f"node {n} {pos[n][0]} {pos[n][1]} {w} {h} \\"\\" solid box black lightgrey")
for a, b in edges:
    (x0, y0), (x1, y1) = pos[a], pos[b]
    pts = [(x0, y0 + 1), (x0 + 0.5, y0 + 1.5), (x1 - 0.5, y1 + 1.5), (x1, y1 + 1)]
    print(f"edge {a} {b} 4 " + " ".join(f"{x} {y}" for x, y in pts) + " solid black")
print("stop")
"""


def test_svg_uses_graphvizs_layout_when_dot_is_installed(gradcalc, tmp_path, monkeypatch):
    _fake_dot(tmp_path / "bin", FAKE_PLAIN)
    monkeypatch.setenv("PATH", str(tmp_path / "bin") + os.pathsep + os.environ["PATH"])
    monkeypatch.setenv("GRADCALC_LAYOUT", "auto")
    r, path = draw(gradcalc, tmp_path, *SEED)
    assert r.status == 0 and r.err == "", r.err
    svg = parse_svg(path.read_text())
    assert svg["layout"] == "dot"
    for i in range(9):              # centres at x = 1 + 2i inches, y = 6 - 3 inches (y down)
        x, y, w, h = svg["boxes"][f"t{i}"]["rect"]
        assert (x + w / 2, y + h / 2) == pytest.approx((72 * (1 + 2 * i), 72 * 3))
    e = next(e for e in svg["edges"] if (e["tail"], e["head"]) == ("t0", "t5"))
    assert e["d"] == "M72,144 C108,108 756,108 792,144"      # the spline as given, y flipped
    assert {(e["tail"], e["head"]) for e in svg["edges"]} == SEED_EDGES


def test_the_builtin_layout_can_be_forced(gradcalc, tmp_path, monkeypatch) -> None:
    _fake_dot(tmp_path / "bin", FAKE_PLAIN)
    monkeypatch.setenv("PATH", str(tmp_path / "bin") + os.pathsep + os.environ["PATH"])
    r, path = draw(gradcalc, tmp_path, *SEED)       # GRADCALC_LAYOUT=builtin (fixture)
    assert r.status == 0, r.err
    assert parse_svg(path.read_text())["layout"] == "builtin"
    assert not (tmp_path / "bin" / "dot.ran").exists()


def test_a_failing_dot_falls_back_to_the_builtin_layout(gradcalc, tmp_path, monkeypatch):
    _fake_dot(tmp_path / "bin", 'import sys\nsys.stderr.write("Error: boom\\n")\nsys.exit(1)\n')
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    monkeypatch.setenv("GRADCALC_LAYOUT", "auto")
    r, path = draw(gradcalc, tmp_path, *SEED)
    assert r.status == 0 and r.out.startswith("value  715")
    assert r.err == (f"note: --graph {path}: Graphviz's layout failed (Error: boom); using the "
                     "built-in layout\n")
    assert parse_svg(path.read_text())["layout"] == "builtin"
    monkeypatch.setenv("GRADCALC_LAYOUT", "dot")
    r, path = draw(gradcalc, tmp_path, *SEED, name="forced.svg")
    assert r.status == 2 and r.out == "" and len(r.err.splitlines()) == 1
    assert "Graphviz's layout failed: Error: boom" in r.err and not path.exists()


@pytest.mark.parametrize("value, message", [
    ("dot", "GRADCALC_LAYOUT=dot asks for Graphviz's 'dot' program"),
    ("neato", "GRADCALC_LAYOUT='neato' is not a layout"),
])
def test_layout_choice_errors(gradcalc, tmp_path, monkeypatch, value, message) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "nothing-here"))
    monkeypatch.setenv("GRADCALC_LAYOUT", value)
    r, path = draw(gradcalc, tmp_path, *SEED)
    assert r.status == 2 and r.out == "" and not path.exists()
    assert len(r.err.splitlines()) == 1 and message in r.err


@pytest.mark.skipif(subprocess.run(["which", "dot"], capture_output=True).returncode != 0,
                    reason="Graphviz is not installed")
def test_real_graphviz_layout(gradcalc, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("GRADCALC_LAYOUT", "dot")
    r, path = draw(gradcalc, tmp_path, CALC, "a=100,an=2,o=150,on=3,tax=1.1")
    assert r.status == 0, r.err
    svg = parse_svg(path.read_text())
    assert svg["layout"] == "dot" and len(svg["boxes"]) == 12
    assert_drawn_sanely(svg)


def test_the_layout_library_is_imported_only_for_pictures(tmp_path) -> None:
    target = str(tmp_path / "g.dot")
    code = ("import sys; from gradcalc.cli.main import main; "
            f"main(['x*y', '--at', 'x=1,y=2', '--no-check', '--graph', {target!r}]); "
            "sys.stdout.write(str(sorted(m for m in sys.modules if m.startswith('grandalf'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "GRADCALC_LAYOUT": "builtin"}).stdout
    assert out.endswith("[]")
    code = code.replace("g.dot", "g.svg")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "GRADCALC_LAYOUT": "builtin"}).stdout
    assert "'grandalf.layouts'" in out
