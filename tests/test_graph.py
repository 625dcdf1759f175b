"""--graph: the tape as Graphviz DOT (checked by a small DOT parser written here), Mermaid, and
rendering through Graphviz's dot when it is installed (a stand-in dot on PATH in tests)."""

from __future__ import annotations

import os
import re
import stat
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import docpages

ROOT = Path(__file__).resolve().parent.parent
SEED = ("tax*(a*an+o*on)", "a=100,an=2,o=150,on=3,tax=1.1")
# the seed example: value 715; adjoints of a, an, o, on, tax
SEED_EDGES = {("t0", "t5"), ("t1", "t5"), ("t2", "t6"), ("t3", "t6"), ("t5", "t7"),
              ("t6", "t7"), ("t4", "t8"), ("t7", "t8")}

# ---------------------------------------------------------------- a small DOT parser

_DOT_TOKEN = re.compile(r'\s+|//[^\n]*|/\*.*?\*/|(?P<tok>"(?:\\.|[^"\\])*"|->|--|[\[\]{};,=]'
                        r'|-?(?:\.\d+|\d+(?:\.\d*)?)|[A-Za-z_][A-Za-z0-9_]*)', re.S)


def _dot_tokens(text: str) -> list[str]:
    tokens, pos = [], 0
    while pos < len(text):
        m = _DOT_TOKEN.match(text, pos)
        assert m is not None, f"DOT: bad character at {pos}: {text[pos:pos + 20]!r}"
        if m.group("tok"):
            tokens.append(m.group("tok"))
        pos = m.end()
    return tokens


def _unquote(tok: str) -> str:
    if not tok.startswith('"'):
        return tok
    out, i, body = [], 0, tok[1:-1]
    while i < len(body):
        if body[i] == "\\" and i + 1 < len(body):
            out.append("\n" if body[i + 1] == "n" else body[i + 1])
            i += 2
        else:
            out.append(body[i])
            i += 1
    return "".join(out)


def parse_dot(text: str) -> dict:
    """A digraph's graph attributes, nodes (id -> attrs) and edges [(tail, head, attrs)]."""
    toks = _dot_tokens(text)
    pos = 0

    def take(expected: str | None = None) -> str:
        nonlocal pos
        tok = toks[pos]
        assert expected is None or tok == expected, f"DOT: expected {expected}, got {tok}"
        pos += 1
        return tok

    def ident() -> str:
        tok = take()
        assert re.match(r'"|[A-Za-z_]|-?[.\d]', tok), f"DOT: expected an ID, got {tok}"
        return _unquote(tok)

    def attrs() -> dict[str, str]:
        out: dict[str, str] = {}
        while pos < len(toks) and toks[pos] == "[":
            take("[")
            while toks[pos] != "]":
                key = ident()
                take("=")
                out[key] = ident()
                if toks[pos] in (",", ";"):
                    take()
            take("]")
        return out

    take("digraph")
    if toks[pos] != "{":
        ident()
    take("{")
    graph: dict = {"graph": {}, "node": {}, "edge": {}, "nodes": {}, "edges": []}
    while toks[pos] != "}":
        first = ident()
        if first in ("graph", "node", "edge") and toks[pos] == "[":
            graph[first].update(attrs())
        elif toks[pos] == "=":
            take("=")
            graph["graph"][first] = ident()
        elif toks[pos] == "->":
            chain = [first]
            while toks[pos] == "->":
                take("->")
                chain.append(ident())
            a = attrs()
            for tail, head in zip(chain, chain[1:], strict=False):
                graph["edges"].append((tail, head, a))
        else:
            assert toks[pos] in ("[", ";", "}"), f"DOT: unexpected {toks[pos]} after {first}"
            graph["nodes"].setdefault(first, {}).update(attrs())
        if toks[pos] == ";":
            take(";")
    take("}")
    assert pos == len(toks), "DOT: text after the graph"
    return graph


def test_the_parser_rejects_broken_dot() -> None:
    with pytest.raises(AssertionError):
        parse_dot('digraph g { a -> [label="x"]; }')
    with pytest.raises(AssertionError):
        parse_dot('digraph g { a [label="x"; }')
    assert parse_dot('digraph { a -> b -> c [style=dashed]; }')["edges"][1][:2] == ("b", "c")


# ---------------------------------------------------------------- the seed example


@pytest.fixture
def seed_dot(gradcalc, tmp_path) -> tuple[dict, str]:
    path = tmp_path / "seed.dot"
    r = gradcalc(SEED[0], "--at", SEED[1], "--graph", str(path))
    assert r.status == 0, r.err
    plain = gradcalc(SEED[0], "--at", SEED[1])
    assert r.out == plain.out            # stdout carries the same results
    return parse_dot(path.read_text()), path.read_text()


def test_seed_dot_nodes_carry_op_value_adjoint(seed_dot) -> None:
    graph, _ = seed_dot
    labels = {n: a["label"].split("\n") for n, a in graph["nodes"].items()}
    assert set(labels) == {f"t{i}" for i in range(9)}
    assert labels["t0"] == ["t0 a", "input", "value 100", "adjoint 2.2"]
    adjoints = {labels[f"t{i}"][0].split()[1]: labels[f"t{i}"][3] for i in range(5)}
    assert adjoints == {"a": "adjoint 2.2", "an": "adjoint 110", "o": "adjoint 3.3",
                        "on": "adjoint 165", "tax": "adjoint 650"}
    assert labels["t8"] == ["t8", "mul", "value 715", "adjoint 1"]
    assert [labels[f"t{i}"][1] for i in range(5, 9)] == ["mul", "mul", "add", "mul"]


def test_seed_dot_edges_are_forward(seed_dot) -> None:
    graph, _ = seed_dot
    edges = {(t, h) for t, h, _ in graph["edges"]}
    assert edges == SEED_EDGES
    assert all(int(t[1:]) < int(h[1:]) for t, h in edges)
    assert graph["graph"]["rankdir"] == "LR"
    assert "715" in graph["graph"]["label"] and "tax*(a*an+o*on)" in graph["graph"]["label"]


def test_seed_dot_marks_sources_and_output(seed_dot) -> None:
    graph, _ = seed_dot
    marks = {n: a.get("xlabel") for n, a in graph["nodes"].items()}
    assert {n for n, m in marks.items() if m == "source"} == {f"t{i}" for i in range(5)}
    assert {n for n, m in marks.items() if m == "output"} == {"t8"}
    assert graph["nodes"]["t8"]["peripheries"] == "2"


def test_docs_seed_files_are_the_tools_output(seed_dot, gradcalc, tmp_path) -> None:
    _, text = seed_dot
    assert (ROOT / "docs" / "seed.dot").read_text() == text
    mmd = tmp_path / "seed.mmd"
    assert gradcalc(SEED[0], "--at", SEED[1], "--graph", str(mmd)).status == 0
    blocks = [body for _, _, info, body in docpages.code_blocks() if info == "mermaid"]
    assert mmd.read_text() in blocks     # the docs' picture is generated, not hand-drawn


def test_docs_seed_svg_shows_the_dot_labels(seed_dot) -> None:
    """The picture (svg.py) and the DOT text show the same lines in the same boxes."""
    graph, _ = seed_dot
    ns = "{http://www.w3.org/2000/svg}"
    root = ET.fromstring((ROOT / "docs" / "seed.svg").read_text())
    shown = {g.get("id"): [t.text for t in g.findall(ns + "text") if t.get("class") != "mark"]
             for g in root.iter(ns + "g") if "node" in g.get("class", "").split()}
    assert shown == {n: a["label"].split("\n") for n, a in graph["nodes"].items()}
    marks = {g.get("id"): [t.text for t in g.findall(ns + "text") if t.get("class") == "mark"]
             for g in root.iter(ns + "g") if "node" in g.get("class", "").split()}
    assert marks == {n: [a["xlabel"]] if "xlabel" in a else [] for n, a in graph["nodes"].items()}


def test_mermaid_has_the_same_graph(gradcalc, tmp_path) -> None:
    path = tmp_path / "seed.mmd"
    assert gradcalc(SEED[0], "--at", SEED[1], "--graph", str(path)).status == 0
    lines = path.read_text().splitlines()
    assert lines[0] == "flowchart LR"
    nodes = dict(re.findall(r'^  (\w+)\["(.*)"\]$', "\n".join(lines), re.M))
    edges = set(re.findall(r"^  (\w+) -->(?:\|\w+\|)? (\w+)$", "\n".join(lines), re.M))
    assert edges == SEED_EDGES
    assert nodes["t4"] == "t4 tax<br/>input<br/>value 1.1<br/>adjoint 650"
    assert "  class t0,t1,t2,t3,t4 source" in lines and "  class t8 output" in lines


def test_stop_gradient_edges_and_constants(gradcalc, tmp_path) -> None:
    path = tmp_path / "g.dot"
    r = gradcalc("stop_gradient(x) * y - 2 / x", "--at", "x=3,y=4,z=1", "--wrt", "x",
                 "--graph", str(path))
    assert r.status == 0, r.err
    graph = parse_dot(path.read_text())
    blocked = [(t, h) for t, h, a in graph["edges"] if a.get("style") == "dashed"]
    assert blocked == [("t0", "t1")]
    assert graph["nodes"]["t1"]["label"].split("\n")[:2] == ["t1", "stop_gradient"]
    consts = {a["label"] for n, a in graph["nodes"].items() if a.get("shape") == "plaintext"}
    assert consts == {"y = 4", "2"}
    div = next(h for t, h, a in graph["edges"] if a.get("label") == "2" and t == "t0")
    assert graph["nodes"][div]["label"].split("\n")[1] == "div"


# ---------------------------------------------------------------- rendering and errors


def _fake_dot(folder: Path, body: str) -> None:
    folder.mkdir()
    exe = folder / "dot"
    exe.write_text(f"#!{sys.executable}\n{body}")
    exe.chmod(exe.stat().st_mode | stat.S_IEXEC)


def test_png_without_graphviz_is_one_clear_error(gradcalc, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "nothing-here"))
    out = tmp_path / "seed.png"
    r = gradcalc(SEED[0], "--at", SEED[1], "--graph", str(out))
    assert r.status == 2 and r.out == "" and not out.exists()
    assert len(r.err.splitlines()) == 1 and r.err.startswith("error: --graph ")
    assert "Graphviz" in r.err and "seed.svg" in r.err and "seed.html" in r.err
    assert "without Graphviz" in r.err and "seed.dot" in r.err


@pytest.mark.parametrize("fmt", ["png", "pdf"])
def test_png_and_pdf_are_rendered_by_dot(gradcalc, tmp_path, monkeypatch, fmt) -> None:
    _fake_dot(tmp_path / "bin", """
import sys
args = sys.argv[1:]
text = sys.stdin.read()
assert args[0] in ("-Tpng", "-Tpdf") and args[1] == "-o", args
assert text.startswith("digraph gradcalc {"), text[:30]
open(args[2], "w").write(args[0] + " " + str(text.count("->")) + " edges")
""")
    monkeypatch.setenv("PATH", str(tmp_path / "bin") + os.pathsep + os.environ["PATH"])
    out = tmp_path / f"seed.{fmt}"
    r = gradcalc(SEED[0], "--at", SEED[1], "--graph", str(out))
    assert r.status == 0, r.err
    assert out.read_text() == f"-T{fmt} 8 edges"


def test_dot_failure_is_reported(gradcalc, tmp_path, monkeypatch) -> None:
    _fake_dot(tmp_path / "bin", 'import sys\nsys.stderr.write("Error: boom\\n")\nsys.exit(1)\n')
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    r = gradcalc(SEED[0], "--at", SEED[1], "--graph", str(tmp_path / "seed.png"))
    assert r.status == 2 and r.out == ""
    assert r.err == f"error: --graph: dot could not render {tmp_path / 'seed.png'}: Error: boom\n"


@pytest.mark.parametrize("name, message", [
    ("seed.txt", "cannot tell the format of"),
    ("no/such/dir/seed.dot", "does not exist"),
])
def test_bad_graph_paths(gradcalc, tmp_path, name, message) -> None:
    r = gradcalc(SEED[0], "--at", SEED[1], "--graph", str(tmp_path / name))
    assert r.status == 2 and r.out == "" and message in r.err
    assert len(r.err.splitlines()) == 1


def test_titles_with_quotes_and_backslashes_are_escaped(gradcalc, tmp_path) -> None:
    program = 'y = x * 2  # a "quoted" \\ comment\nz = y + 1'
    dot, mmd = tmp_path / "p.dot", tmp_path / "p.mmd"
    assert gradcalc(program, "--at", "x=1", "--graph", str(dot)).status == 0
    assert gradcalc(program, "--at", "x=1", "--graph", str(mmd)).status == 0
    graph = parse_dot(dot.read_text())
    assert 'a "quoted" \\ comment' in graph["graph"]["label"]
    assert graph["nodes"]["t2"]["label"].split("\n")[0] == "t2 z"
    assert "#quot;quoted#quot;" in mmd.read_text().splitlines()[1]


def test_help_mentions_graph(gradcalc) -> None:
    out = gradcalc("--help").out
    assert "--graph FILE" in out and "Mermaid" in out and ".html" in out
    assert "without Graphviz" in " ".join(out.split())


def test_dot_title_keeps_a_programs_line_breaks(gradcalc, tmp_path) -> None:
    path = tmp_path / "p.dot"
    r = gradcalc("u = x*2  # first\nv = u + 1", "--at", "x=1", "--graph", str(path))
    assert r.status == 0, r.err
    label = re.search(r"label=(\"(?:\\.|[^\"\\])*\")\];", path.read_text()).group(1)
    # left-justified lines: each ends in \l
    assert label == '"u = x*2  # first\\lv = u + 1\\lat x=1  =  3\\l"'


def test_dot_and_mermaid_mark_the_first_nonfinite_node(gradcalc, tmp_path) -> None:
    dot, mmd = tmp_path / "g.dot", tmp_path / "g.mmd"
    for path in (dot, mmd):
        r = gradcalc("log(x - 1) + y", "--at", "x=1,y=2", "--graph", str(path))
        assert r.status == 3
    graph = parse_dot(dot.read_text())
    red = {n: a for n, a in graph["nodes"].items() if a.get("color") == "#dc2626"}
    # log(0) = -inf, from a finite input; its derivative 1/0 is where the adjoint turns inf
    assert list(red) == ["t3"]
    assert red["t3"]["label"].split("\n")[1:2] == ["log"]
    assert red["t3"]["label"].split("\n")[-2:] == ["first -inf value here",
                                                     "first nan/inf adjoint here (argument 1)"]
    assert "  class t3 alert" in mmd.read_text().splitlines()


def test_dot_collapse_draws_calls_as_boxes(gradcalc, tmp_path) -> None:
    path = tmp_path / "c.dot"
    program = "sq(u) = u*u + 1\ny = sq(x) + sq(2*x)"
    r = gradcalc(program, "--at", "x=3", "--graph", str(path), "--collapse")
    assert r.status == 0 and r.err == "", r.err
    graph = parse_dot(path.read_text())
    calls = {n: a["label"].split("\n") for n, a in graph["nodes"].items() if n.count("_") == 1
             and n.startswith("t")}
    # sq(3) = 10, sq(6) = 37; d/du (u*u + 1) is 2u: 6 and 12
    assert sorted(v[1:3] for v in calls.values()) == [["sq(...)", "value 10"],
                                                      ["sq(...)", "value 37"]]
    assert all(v[3] == "adjoint 1" for v in calls.values())
    # 2*x (t3) is computed before the second call and feeds it
    assert {h for t, h, _ in graph["edges"] if t == "t0"} == {"t1_2", "t3"}
    assert ("t3", "t4_5") in {(t, h) for t, h, _ in graph["edges"]}
