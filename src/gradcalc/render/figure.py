"""--graph FILE: the computation graph written in the format its file name asks for. DOT and
Mermaid text come from graph.py, SVG and HTML pictures from svg.py, PNG and PDF from Graphviz's
dot."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from typing import TYPE_CHECKING, Any

from ..engine.evaluate import pausing_gc
from ..errors import InputError
from . import page, svg
from .graph import MAX_BOXES, build, cap, to_dot, to_mermaid

if TYPE_CHECKING:
    from ..engine.evaluate import Run

# file extension -> format; dot renders png and pdf, gradcalc draws svg and html itself
FORMATS = {".dot": "dot", ".gv": "dot", ".mmd": "mermaid", ".svg": "svg", ".html": "html",
           ".png": "png", ".pdf": "pdf"}
RENDERED = ("png", "pdf")          # need Graphviz's dot
DRAWN = ("svg", "html")            # drawn here; laid out by dot when installed (LAYOUT_ENV)
LAYOUT_ENV = "GRADCALC_LAYOUT"     # auto (dot when installed, else built in), builtin, dot
LAYOUTS = ("auto", "builtin", "dot")
GET_GRAPHVIZ = ("install Graphviz (https://graphviz.org/download/; e.g. apt-get install graphviz "
                "or brew install graphviz)")


# ---------------------------------------------------------------- files


def layout_choice() -> str:
    """The layout engine for .svg/.html, from the GRADCALC_LAYOUT environment variable: auto
    (Graphviz's dot when installed, else the built-in one), builtin or dot."""
    choice = os.environ.get(LAYOUT_ENV, "").strip().lower() or "auto"
    if choice not in LAYOUTS:
        raise InputError(f"{LAYOUT_ENV}={os.environ[LAYOUT_ENV]!r} is not a layout",
                         hint="use " + ", ".join(LAYOUTS) + " (or leave it unset: auto)")
    return choice


def plan(path: str) -> str:
    """The format a --graph path asks for, checked before any work: a known extension, a
    directory that exists, and Graphviz's dot where it is needed (.png, .pdf, and .svg/.html
    with GRADCALC_LAYOUT=dot)."""
    ext = os.path.splitext(path)[1].lower()
    if ext not in FORMATS:
        raise InputError(f"--graph: cannot tell the format of '{path}'",
                         hint="use a name ending in " + ", ".join(FORMATS))
    folder = os.path.dirname(path) or "."
    if not os.path.isdir(folder):
        raise InputError(f"--graph: directory '{folder}' does not exist")
    fmt = FORMATS[ext]
    if fmt in DRAWN and layout_choice() == "dot" and shutil.which("dot") is None:
        raise InputError(f"--graph {path}: {LAYOUT_ENV}=dot asks for Graphviz's 'dot' program, "
                         "which is not installed (not on PATH)",
                         hint=f"{GET_GRAPHVIZ}, or unset {LAYOUT_ENV} to use the built-in "
                              "layout")
    if fmt in RENDERED and shutil.which("dot") is None:
        stem = os.path.splitext(path)[0]
        raise InputError(f"--graph {path} needs Graphviz's 'dot' program, which is not "
                         f"installed (not on PATH)",
                         hint=f"{GET_GRAPHVIZ}, or write {stem}.svg or {stem}.html (drawn "
                              f"without Graphviz), or {stem}.dot and render it with "
                              f"'dot -T{fmt} {stem}.dot -o {path}' elsewhere")
    return fmt


@pausing_gc  # building a picture of a 100,000-node tape allocates as much as running it
def write(run: Run, path: str, collapse: bool = False, steps: Any = None) -> None:
    """Write the run's graph to path in the format its extension names (see plan); collapse
    draws each top-level call of a program's function as one box; steps (--steps) gives each
    box its step of the backward pass. Pictures show at most MAX_BOXES boxes, with a note on
    stderr when some are left out."""
    fmt = plan(path)
    graph = build(run, collapse, steps)
    if fmt == "mermaid":
        _write_text(path, to_mermaid(graph))
        return
    if fmt == "dot":
        _write_text(path, to_dot(graph))
        return
    graph = cap(graph, MAX_BOXES, bool(run.calls) and not collapse)
    for note in graph.notes:
        sys.stderr.write(f"note: --graph {path}: {note}\n")
    if fmt in DRAWN:
        layout = svg.lay_out(graph, layout_choice(), path)
        picture = svg.to_svg(graph, layout)
        _write_text(path, picture if fmt == "svg" else page.to_html(graph, picture))
        return
    exe = shutil.which("dot")
    if exe is None:  # plan() checked, but PATH can change
        raise InputError(f"--graph {path} needs Graphviz's 'dot' program", hint=GET_GRAPHVIZ)
    try:
        proc = subprocess.run([exe, f"-T{fmt}", "-o", path], input=to_dot(graph), text=True,
                              capture_output=True, timeout=120, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise InputError(f"--graph: running dot failed: {exc}") from None
    if proc.returncode != 0:
        detail = (proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}"])[0]
        raise InputError(f"--graph: dot could not render {path}: {detail}")


def _write_text(path: str, text: str) -> None:
    try:
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text)
    except OSError as exc:
        raise InputError(f"--graph: cannot write {path}: {exc.strerror}") from None
