"""The `--graph FILE.html` page in a real browser: headless Chromium (Debian's `chromium`),
driven over the DevTools protocol (tests/chromium.py), skipped where no Chromium is installed.

What the page must do is checked against the graph read from the page's own SVG with an XML
parser (the boxes, their names and lines, the edges): the first screen shows the output at a
readable size, a search lights up exactly the boxes of that name, a click lights up exactly
the box's inputs, its consumers and the paths from it to the output, a program line collapses
into one box and expands again, and nothing is fetched from the network. A screenshot of the
page after the search and the click is kept in tests/artifacts/ (ignored by git).
"""

from __future__ import annotations

import random
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import chromium

NS = "{http://www.w3.org/2000/svg}"
EXE = chromium.find()
pytestmark = pytest.mark.skipif(EXE is None, reason="no Chromium installed (apt-get install "
                                                    "chromium)")
ARTIFACTS = Path(__file__).parent / "artifacts"


def program(statements: int) -> str:
    """Statements that mix a recent and an earlier intermediate, then a function call."""
    r = random.Random(1)
    lines = ["f(t, u) = t*t + sin(u)*t", "y0 = x*w"]
    for i in range(1, statements):
        recent, early = r.randrange(max(0, i - 4), i), r.randrange(0, i)
        lines.append(f"y{i} = sin(y{recent})*y{early} + {r.randint(1, 9)}")
    lines.append(f"out = f(y{statements - 1} - w, y3) + y3")
    return "\n".join(lines)


def read_graph(page: Path) -> dict:
    """The boxes and edges of the page's SVG, read with an XML parser."""
    root = ET.fromstring(page.read_text().split("\n", 1)[1])
    svg = next(root.iter(NS + "svg"))
    boxes, ins, outs = {}, {}, {}
    for g in svg.iter(NS + "g"):
        classes = g.get("class", "").split()
        if "node" in classes:
            boxes[g.get("id")] = {"name": g.get("data-name"), "op": g.get("data-op"),
                                  "line": g.get("data-line"), "classes": classes}
            ins.setdefault(g.get("id"), set())
            outs.setdefault(g.get("id"), set())
        elif "edge" in classes:
            ins.setdefault(g.get("data-head"), set()).add(g.get("data-tail"))
            outs.setdefault(g.get("data-tail"), set()).add(g.get("data-head"))
    output = next(i for i, b in boxes.items() if "output" in b["classes"])
    return {"boxes": boxes, "ins": ins, "outs": outs, "output": output}


def reach(start: str, way: dict[str, set[str]]) -> set[str]:
    seen, stack = {start}, [start]
    while stack:
        for j in way.get(stack.pop(), ()):
            if j not in seen:
                seen.add(j)
                stack.append(j)
    return seen


CLASSES = """(function (cls) {
  return Array.prototype.map.call(document.querySelectorAll("svg g.node." + cls),
                                  function (g) { return g.id; }).sort();
})"""

# the box's rectangle on the screen, and the view's: [left, top, right, bottom] each
ON_SCREEN = """(function (id) {
  var g = document.getElementById(id), v = document.getElementById("view");
  var r = (g.querySelector("rect") || g).getBoundingClientRect(), w = v.getBoundingClientRect();
  var svgWidth = +(g.querySelector("rect") || {getAttribute: function () { return 0; }})
    .getAttribute("width");
  return {box: [r.left, r.top, r.right, r.bottom], view: [w.left, w.top, w.right, w.bottom],
          pixelsPerUnit: svgWidth ? r.width / svgWidth : null,
          shown: getComputedStyle(g).display !== "none"};
})"""


def _inside(inner: list[float], outer: list[float]) -> bool:
    return inner[0] >= outer[0] and inner[1] >= outer[1] and inner[2] <= outer[2] and \
        inner[3] <= outer[3]


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    with chromium.Browser(EXE, tmp_path_factory.mktemp("chromium-profile")) as b:
        yield b


@pytest.fixture
def page(gradcalc, tmp_path) -> Path:
    path = tmp_path / "graph.html"
    r = gradcalc(program(24), "--at", "x=0.5,w=2", "--no-check", "--graph", str(path))
    assert r.status == 0, r.err
    return path


def _open(browser, page: Path, fragment: str = "") -> None:
    browser.errors.clear()
    browser.call("Network.enable")
    browser.open(page.as_uri() + fragment)
    fetched = [e["params"]["request"]["url"] for e in browser._events
               if e.get("method") == "Network.requestWillBeSent"
               and e["params"]["request"]["url"] != "about:blank"]
    browser.call("Network.disable")
    assert all(url.startswith("file:") for url in fetched), fetched   # works offline
    assert browser.errors == []


def test_first_screen_shows_the_output_readably(browser, page) -> None:
    graph = read_graph(page)
    _open(browser, page)
    seen = browser.run(f"{ON_SCREEN}({graph['output']!r})")
    assert _inside(seen["box"], seen["view"]), seen
    assert seen["pixelsPerUnit"] >= 0.85             # boxes at a readable size, not specks
    view, whole = browser.run("gradcalcGraph.view()"), browser.run("gradcalcGraph.whole()")
    assert view[2] < whole[2] / 3                    # a part of the graph, not all of it
    visible = [i for i in graph["boxes"] if i != graph["output"] and _inside(
        browser.run(f"{ON_SCREEN}({i!r})")["box"], seen["view"])]
    assert len(visible) >= 3                         # with boxes around it,
    assert set(visible) & graph["ins"][graph["output"]]   # one of those that feed it among them


def test_search_click_and_paths(browser, page) -> None:
    graph = read_graph(page)
    _open(browser, page)
    browser.click_on("#search")
    browser.type("y12")
    (target,) = [i for i, b in graph["boxes"].items() if b["name"] == "y12"]
    assert browser.run(f"{CLASSES}('match')") == [target]
    assert browser.run("document.getElementById('found').textContent") == "1 box"
    seen = browser.run(f"{ON_SCREEN}({target!r})")
    assert seen["shown"] and _inside(seen["box"], seen["view"])     # the view went to it
    # a click on the box lights up its inputs, consumers and paths to the output
    x0, y0, x1, y1 = seen["box"]
    browser.click((x0 + x1) / 2, (y0 + y1) / 2)
    assert browser.run(f"{CLASSES}('sel')") == [target]
    assert browser.run(f"{CLASSES}('in')") == sorted(graph["ins"][target])
    assert browser.run(f"{CLASSES}('out')") == sorted(graph["outs"][target])
    path = (reach(target, graph["outs"]) & reach(graph["output"], graph["ins"])) - {target}
    assert browser.run(f"{CLASSES}('path')") == sorted(path) and graph["output"] in path
    assert "consumer" in browser.run("document.getElementById('info').textContent")
    ARTIFACTS.mkdir(exist_ok=True)
    shot = browser.screenshot(ARTIFACTS / "graph-page-search-and-click.png")
    print(f"screenshot: {shot}")
    assert shot.stat().st_size > 10_000
    # Enter goes to the next match; Escape clears the search
    browser.click_on("#search")
    browser.press("Escape")
    assert browser.run(f"{CLASSES}('match')") == []
    assert browser.errors == []


def test_a_program_line_collapses_and_expands(browser, page) -> None:
    graph = read_graph(page)
    _open(browser, page)
    line = graph["boxes"][next(i for i, b in graph["boxes"].items() if b["name"] == "y7")]["line"]
    members = [i for i, b in graph["boxes"].items() if b["line"] == line]
    assert len(members) >= 3                        # sin, mul, add and a constant
    browser.click_on(f"li[data-group='line:{line}'] button")
    assert not any(browser.run(f"{ON_SCREEN}({m!r})")["shown"] for m in members)
    folded = browser.run("Array.prototype.map.call(document.querySelectorAll('g.fold'), "
                         "function (g) { return g.getAttribute('data-fold'); })")
    assert folded == [f"line:{line}"]
    text = browser.run("document.querySelector('g.fold').textContent")
    assert f"line {line}: y7 = " in text and f"{len(members)} boxes" in text
    # the edges of the line's boxes now meet the one box
    assert browser.run("document.querySelectorAll('line.proxy').length") >= 2
    browser.click_on("g.fold rect")                 # a click on it expands the line again
    assert all(browser.run(f"{ON_SCREEN}({m!r})")["shown"] for m in members)
    assert browser.run("document.querySelectorAll('g.fold, line.proxy').length") == 0
    # the function call collapses too, and "collapse every line" folds each line of 2+ boxes
    browser.click_on("li[data-group^='call:'] button")
    assert browser.run("document.querySelectorAll('g.fold').length") == 1
    browser.click_on("#fold-lines")
    lines = {b["line"] for b in graph["boxes"].values() if b["line"]}
    several = [n for n in lines if sum(b["line"] == n for b in graph["boxes"].values()) > 1]
    assert browser.run("document.querySelectorAll('g.fold').length") == len(several)
    browser.click_on("#unfold")
    assert browser.run("document.querySelectorAll('g.fold').length") == 0
    assert browser.errors == []


def test_the_address_drives_the_page(browser, page) -> None:
    graph = read_graph(page)
    _open(browser, page, "#search=sin")
    sines = sorted(i for i, b in graph["boxes"].items() if b["op"] == "sin")
    assert len(sines) > 10 and browser.run(f"{CLASSES}('match')") == sines
    _open(browser, page, f"#select={graph['output']}")
    assert browser.run(f"{CLASSES}('in')") == sorted(graph["ins"][graph["output"]])


def test_a_capped_graph_still_opens_on_its_output(browser, gradcalc, tmp_path) -> None:
    path = tmp_path / "big.html"
    r = gradcalc(program(200), "--at", "x=0.5,w=2", "--no-check", "--graph", str(path))
    assert r.status == 0 and "boxes drawn" in r.err
    graph = read_graph(path)
    assert len(graph["boxes"]) <= 301
    _open(browser, path)
    seen = browser.run(f"{ON_SCREEN}({graph['output']!r})")
    assert _inside(seen["box"], seen["view"]) and seen["pixelsPerUnit"] >= 0.85
    browser.click_on("#search")
    browser.type("y199")
    assert browser.run(f"{CLASSES}('match')") == [
        i for i, b in graph["boxes"].items() if b["name"] == "y199"]
