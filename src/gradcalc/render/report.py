"""Renderings of a run and its check: text for people, JSON and CSV for scripts, the tape."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..budget import TIME_LIMIT, stopped
from ..engine import vectors
from ..engine.evaluate import Run
from ..engine.sweep import Const
from ..engine.tape import Node, Tensor, ref
from ..errors import worded
from ..judge.check import Check, Partial
from .words import option_words

WIDTH = 100  # verdict lines fit here: a long verdict moves under its table, wrapped
ROUNDED_NOTE = "note: numbers rounded to 15 significant digits; --format json has every digit"
CUT_NOTE = "note: formulas longer than their column are cut ('...'); --format json has them whole"
# Notes a text rendering owes its reader, collected while it renders (fmt rounds a number);
# the command clears them before rendering and prints them after.
NOTES: set[str] = set()

_STYLES = {"ok": {"fg": "green"}, "proved": {"fg": "green"}, "equal": {"fg": "green"},
           "cut": {"fg": "cyan"}, "null": {"fg": "cyan"},
           "mismatch": {"fg": "red", "bold": True}, "differs": {"fg": "red", "bold": True},
           "MISMATCH": {"fg": "red", "bold": True},
           "undefined": {"fg": "yellow"}, "undecided": {"fg": "yellow"},
           "skipped": {"fg": "yellow"}}


def verdict_text(status: str, reason: str) -> str:
    """A verdict as people read it, `status: reason`; `skipped (time limit): ...` where the
    call's deadline stopped it."""
    if status == "skipped" and stopped(reason):
        return f"skipped ({TIME_LIMIT}): " + reason[len(TIME_LIMIT):].lstrip(": ")
    return status + (f": {reason}" if reason else "")


def fmt(x: Any) -> str:
    """A number for people: 15 significant digits (noting in NOTES when that rounds it),
    'null' for None."""
    if x is None:
        return "null"
    if isinstance(x, complex):
        NOTES.add(ROUNDED_NOTE)
        return f"{x.real:.6g}{x.imag:+.6g}i"
    nd = np.ndim(x)
    if nd == 2:
        return _matrix_summary(np.asarray(x))
    if nd:
        return "[" + ", ".join(fmt(v) for v in np.ravel(x)) + "]"
    x = float(x)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    text = f"{x:.15g}"
    if float(text) != x:
        NOTES.add(ROUNDED_NOTE)
    return text


def _matrix_summary(m: Any) -> str:
    """A matrix for people: its shape, then its rows if it has at most 9 components, else the
    range of its values (not thousands of numbers)."""
    shape = f"{m.shape[0]}x{m.shape[1]}"
    if m.size <= 9:
        return f"{shape} [" + ", ".join("[" + ", ".join(fmt(v) for v in row) + "]"
                                        for row in m) + "]"
    finite = m[np.isfinite(m)]
    if finite.size == 0:
        return f"{shape} (no finite values)"
    text = f"{shape} min {float(finite.min()):.6g} max {float(finite.max()):.6g}"
    return text + ("" if finite.size == m.size else f" ({m.size - finite.size} not finite)")


def fit(line: str, indent: int = 4, width: int = WIDTH) -> list[str]:
    """A line of prose wrapped to width columns; continuation lines indented by indent more
    than the line's own indentation."""
    if len(line) <= width:
        return [line]
    import textwrap

    lead = line[: len(line) - len(line.lstrip())]
    return textwrap.wrap(line, width, subsequent_indent=lead + " " * indent,
                         break_long_words=False, break_on_hyphens=False)


def paint(line: str, start: int, word: str, colour: bool) -> str:
    """The line with `word` at column `start` coloured by its verdict (only when colour)."""
    style = _STYLES.get(word)
    if not colour or style is None or line[start:start + len(word)] != word:
        return line
    import click  # the CLI's own dependency; imported here so report stays light

    return line[:start] + click.style(word, **style) + line[start + len(word):]


def verdict_table(rows: Sequence[Sequence[str]], statuses: Sequence[str | None],
                  colour: bool = False, indent: str = "  ") -> list[str]:
    """A table whose last column is a verdict (statuses: one per row after the header), with
    every line within WIDTH: a verdict too long for its row is replaced by its status and a
    mark `[n]`, and is printed in full under the table, wrapped. The status word is coloured
    when colour is set."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    start = len(indent) + sum(widths) + 2 * len(widths)
    shown: list[list[str]] = [list(rows[0])]
    details: list[str] = []
    for row, status in zip(rows[1:], statuses, strict=True):
        verdict = row[-1]
        if start + len(verdict) > WIDTH:
            details.append(f"{indent}[{len(details) + 1}] {row[0]}: {verdict}")
            verdict = f"{status} [{len(details)}]"
        shown.append([*row[:-1], verdict])
    lines = table(shown, indent)
    out = [lines[0]] + [paint(line, start, status or "", colour)
                        for line, status in zip(lines[1:], statuses, strict=True)]
    if details:
        out.append("")
        for line in details:
            out += fit(line, 4)
    return out


def notes() -> list[str]:
    """The notes collected since NOTES was last cleared."""
    return [n for n in (ROUNDED_NOTE, CUT_NOTE) if n in NOTES]


def unchecked_json() -> dict[str, Any]:
    """The JSON "check" of a call that skipped it (--no-check)."""
    return {"status": "skipped", "reason": "--no-check", "symbolic": {}}


def jnum(x: Any) -> Any:
    """A number for strict JSON: full precision, 'nan'/'inf'/'-inf' as strings, None as null."""
    if x is None:
        return None
    if isinstance(x, complex):
        return {"re": jnum(x.real), "im": jnum(x.imag)}
    if np.ndim(x):
        return [jnum(v) for v in np.asarray(x)]  # nested lists for a matrix
    x = float(x)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return x


def table(rows: Sequence[Sequence[str]], indent: str = "  ") -> list[str]:
    """Rows as left-aligned columns two spaces apart, each line indented."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return [indent + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
            for r in rows]


def shorten(text: str, limit: int = 60) -> str:
    """The text, or its first limit-3 characters and '...' (noting in NOTES that it cut)."""
    if len(text) <= limit:
        return text
    NOTES.add(CUT_NOTE)
    return text[: limit - 3] + "..."


def node_name(node: Node) -> str:
    """How a node is called on the tape: its user label or t<id>."""
    return node.title


def _input_name(nodes: Sequence[Node], ref: int | Const) -> str:
    if isinstance(ref, int):
        return node_name(nodes[ref])
    return ref.name or fmt(ref.value)


# ---------------------------------------------------------------- text


def text(run: Run, chk: Check | None, show_tape: bool = False, collapse: bool = False,
         colour: bool = False) -> str:
    """The human report: value, one row per partial, the verdict, and the tape on request.
    Verdict lines fit WIDTH columns; colour: verdict words in colour (for a terminal)."""
    out = [f"value  {fmt(run.value)}"]
    grad = dict(vectors.components(run.wrt, run.bindings, run.gradient()))
    if grad:
        out.append("")
        header = ["partial", "tape"] + (["symbolic", "check"] if chk else [])
        rows = [header]
        statuses: list[str | None] = []
        for name, g in grad.items():
            row = [f"d/d{name}", fmt(g)]
            if chk:
                p = chk.partials[name]
                verdict = verdict_text(p.status, p.reason)
                if p.status == "null":
                    verdict = "null"
                elif p.status == "cut":
                    verdict = p.reason
                row += [shorten(p.symbolic or "-"), verdict]
                statuses.append(p.status)
            elif g is None:
                row[1] = "null"
            rows.append(row)
        out += verdict_table(rows, statuses, colour) if chk else table(rows)
    out += [part for line in why_lines(run) for part in fit(line, 4)]
    out.append("")
    out += summary_lines(chk, colour)
    if show_tape:
        out.append("")
        out.append(tape_text(run, collapse))
    return "\n".join(out) + "\n"


def why_lines(run: Run) -> list[str]:
    """One line per partial that is null or exactly 0 saying why, and one for the names that
    --wrt leaves out."""
    grad = run.gradient()
    lines, unwatched = [], []
    for name, reason in run.reasons().items():
        if reason.kind == "unwatched" and name not in grad:
            unwatched.append(name)
        else:
            lines.append(f"  why d/d{name} = {fmt(grad.get(name))}: "
                         f"{worded(reason.said, option_words)}")
    if unwatched:
        lines.append(f"  not differentiated (not in --wrt, held constant): {', '.join(unwatched)}")
    return ([""] if lines else []) + lines


def summary_lines(chk: Check | None, colour: bool = False, prefix: str = "") -> list[str]:
    """The summary, each line fit to WIDTH, the verdict word coloured when colour is set."""
    lines = [part for line in summary(chk).split("\n") for part in fit(prefix + line, 4)]
    word = "skipped" if chk is None else chk.status
    lines[0] = paint(lines[0], len(prefix) + len("check: "), word, colour)
    return lines


def partial_json(p: Partial) -> dict[str, Any]:
    """One verdict as JSON, the same for a partial, a Hessian entry and a Jacobian entry."""
    return {"status": p.status, "symbolic_value": jnum(p.expected), "error": jnum(p.error),
            "reason": p.reason or None, "true_symbolic": p.true_symbolic,
            "true_value": jnum(p.true_value), "floor": jnum(p.floor),
            "certified": p.certified}


def why_records(run: Run) -> dict[str, Any]:
    """The reasons as JSON: name -> {kind, reason}."""
    return {name: {"kind": r.kind, "reason": worded(r.said, option_words)}
            for name, r in run.reasons().items()}


def summary(chk: Check | None) -> str:
    """One line: the overall verdict with the largest error and the tolerances."""
    if chk is None:
        return "check: skipped (--no-check)"
    if chk.status == "skipped":
        return "check: " + verdict_text(chk.status, chk.reason)
    counts: dict[str, int] = {}
    for p in chk.partials.values():
        counts[p.status] = counts.get(p.status, 0) + 1
    parts = [f"{counts[s]} {s}" for s in ("ok", "cut", "mismatch", "undefined", "null")
             if s in counts]
    unsampled = sum(1 for p in chk.partials.values() if not p.sampled)
    left = sum(1 for p in chk.partials.values() if p.status == "skipped" and p.sampled)
    if left:
        parts.append(f"{left:,} skipped")
    if unsampled:
        parts.append(f"{unsampled:,} not sampled")
    uncertified = sum(1 for p in chk.partials.values() if p.certified is False)
    if uncertified:
        parts.append(f"{uncertified:,} not certified")
    err = chk.largest_error
    tol = f"rtol {chk.rtol:g}, atol {chk.atol:g}"
    largest = f"largest error {err:.3g}; " if err is not None else ""
    value = "" if chk.value_status in ("ok", "skipped") else f"; value {chk.value_status}"
    ref = chk.reference
    verdict = {"ok": f"tape and {ref} agree", "mismatch": f"tape and {ref} DISAGREE"}.get(
        chk.status, "not every partial is defined here")
    line = f"check: {chk.status}: {verdict} ({', '.join(parts) or 'no partials'}{value}; " \
           f"{largest}{tol})"
    if ref != "SymPy":
        line += f"\ncheck: {chk.reason}"
    for name, picked in chk.sampled.items():
        line += (f"\ncheck: sampled {len(picked)} of the {_vector_length(chk, name):,} "
                 f"components of {name} (the rest are not checked): "
                 + ", ".join(str(k) for k in picked))
    for name, form in chk.matrix.items():
        line += f"\ncheck: in matrix notation, d/d{name} = {form}"
    if chk.matrix:
        line += ("\ncheck: (SymPy's matrix calculus; the formulas give the tape's numbers "
                 "here)")
    if chk.matrix_note:
        line += f"\ncheck: matrix notation: {chk.matrix_note}"
    return line


def _vector_length(chk: Check, name: str) -> int:
    return sum(1 for label in chk.partials if label.startswith(name + "["))


def tape_text(run: Run, collapse: bool = False) -> str:
    """The tape as a table: id, name, op, inputs, value, adjoint; like a jaxpr listing.

    collapse: show each top-level call of a program's function as one row (op = the function,
    inputs = its arguments) instead of the nodes its body recorded.
    """
    nodes = run.nodes
    adj = run.backward.adjoints if run.backward else [None] * len(nodes)
    target = run.target_id()
    title = f"tape: {len(nodes)} node{'s' if len(nodes) != 1 else ''}"
    if target is not None:
        title += f", output {ref(target)}" + (f" ({run.output_name})" if run.output_name else "")
    calls = {c.first: c for c in run.calls if len(c.path) == 1 and c.end > c.first} \
        if collapse else {}
    rows = [["id", "name", "op", "inputs", "value", "adjoint"]]
    skip_to = 0
    for node in nodes:
        if node.id < skip_to:
            continue
        call = calls.get(node.id)
        if call is not None:
            skip_to = call.end
            last = nodes[call.end - 1]
            rows.append([f"{ref(call.first)}..{last.ref}" if call.end - call.first > 1
                         else last.ref, last.label or "-", call.func,
                         ", ".join(_value_name(run, a) for a in call.args), fmt(last.value),
                         "-" if adj[last.id] is None else fmt(adj[last.id])])
            continue
        rows.append([node.ref, node.label or "-", node.op,
                     ", ".join(_input_name(nodes, r) for r in node.inputs),
                     fmt(node.value), "-" if adj[node.id] is None else fmt(adj[node.id])])
    return "\n".join([title] + table(rows))


def _value_name(run: Run, value: Any) -> str:
    """How an argument value is called on the tape: its node's name, or the number."""
    node = run.tape.node_of(value) if isinstance(value, Tensor) else None
    if node is not None:
        return node_name(node)
    if isinstance(value, Tensor):
        return value.name or fmt(value.value)
    return fmt(value)


# ---------------------------------------------------------------- JSON and CSV


def tape_records(run: Run) -> list[dict[str, Any]]:
    """The tape as JSON-ready records."""
    adj = run.backward.adjoints if run.backward else [None] * len(run.nodes)
    records = []
    for node in run.nodes:
        inputs: list[Any] = [r if isinstance(r, int) else {"const": jnum(r.value), "name": r.name}
                             for r in node.inputs]
        records.append({"id": node.id, "name": node.label, "op": node.op, "inputs": inputs,
                        "value": jnum(node.value), "adjoint": jnum(adj[node.id]),
                        "span": None if node.span is None else [node.span.start, node.span.end]})
        if np.ndim(node.value) == 2:
            records[-1]["shape"] = list(np.shape(node.value))
    return records


def json_object(run: Run, chk: Check | None, show_tape: bool = False) -> dict[str, Any]:
    """The contract's JSON object at one point, as a dict (render/json.py writes it)."""
    obj: dict[str, Any] = {
        "expression": run.program.source,
        "at": {n: jnum(v) for n, v in run.bindings.items()},
        "output": run.output_name,
        "value": jnum(run.value),
        "gradient": {n: jnum(g) for n, g in run.gradient().items()},
    }

    def per_name(fn: Any) -> dict[str, Any]:
        # one entry per scalar name, a list per vector name
        out: dict[str, Any] = {}
        for name in run.wrt:
            items = [fn(chk.partials[label]) for label in vectors.labels(name,
                                                                          run.bindings[name])]
            shape = np.shape(run.bindings[name])
            if len(shape) == 2:  # a matrix: rows of components
                items = [items[i * shape[1]:(i + 1) * shape[1]] for i in range(shape[0])]
            out[name] = items if vectors.length(run.bindings[name]) is not None else items[0]
        return out

    if chk is None:
        obj["check"] = unchecked_json()
    else:
        obj["check"] = {
            "status": chk.status,
            "symbolic": per_name(lambda p: p.symbolic),
            "reason": chk.reason or None,
            "value": {"status": chk.value_status, "symbolic": jnum(chk.value)},
            "partials": per_name(partial_json),
            "rtol": chk.rtol,
            "atol": chk.atol,
        }
        if chk.matrix or chk.matrix_note:
            obj["check"]["matrix"] = {n: chk.matrix.get(n) for n in run.wrt
                                      if np.ndim(run.bindings[n]) >= 1}
            obj["check"]["matrix_note"] = chk.matrix_note or None
        if chk.sampled:
            obj["check"]["sampled"] = {n: {"components": _vector_length(chk, n), "checked": k}
                                       for n, k in chk.sampled.items()}
        if chk.reference != "SymPy":
            obj["check"]["reference"] = chk.reference
    obj["why"] = why_records(run)
    if show_tape:
        obj["tape"] = tape_records(run)
        obj["calls"] = [{"function": c.func, "path": "/".join(c.path),
                         "nodes": [c.first, c.end - 1] if c.end > c.first else None,
                         "inputs": [_value_name(run, a) for a in c.args]} for c in run.calls]
    return obj


def csv_cell(x: Any) -> str:
    """One CSV field: repr-precision number, nan/inf/-inf, or empty for null."""
    v = jnum(x)
    return "" if v is None else str(v)
