"""The text renderer: reports for people, for every mode of the result model
(judge/result.py). Numbers are rounded to 15 digits for reading (report.fmt notes it)."""

from __future__ import annotations

from typing import Any

from ..judge.result import Result
from ..judge.verdict import status_of
from . import report
from .report import fmt, shorten, table

TEXT_ROWS = 10               # rows of a --points table shown at each end


def render(result: Result, show_tape: bool = False, collapse: bool = False,
           colour: bool = False) -> str:
    """The report of a result, then the notes it owes its reader (a rounded number)."""
    report.NOTES.clear()
    out = body(result, show_tape, collapse, colour)
    return out + "".join(note + "\n" for note in report.notes())


def body(result: Result, show_tape: bool = False, collapse: bool = False,
         colour: bool = False) -> str:
    """The report of a result, without the closing notes."""
    # claims and higher (and what they import) are loaded only for their modes: start-up time
    mode = result.mode
    if mode == "batch":
        return _batch(result)
    if mode == "rows":
        return _rows(result)
    if mode == "dask":
        d = result.dask or {}
        files = len(d["points"]["files"])
        s = "s" if files != 1 else ""
        return (f"points  {d['points']['rows']:,} rows from {files} file{s} on Dask "
                f"({d['dask']})\nwrote   {files} part file{s} to {d['output']}\n"
                "check: skipped (--dask)\n")
    if mode == "claims":
        from . import claims

        assert result.verification is not None
        return claims.text(result.verification, colour=colour)
    if mode == "jacobian":
        from . import higher

        assert result.jacobian is not None
        return higher.jacobian_text(result.jacobian, result.checks, show_tape, colour=colour)
    assert result.run is not None
    if mode == "hessian":
        from . import higher

        assert result.hessian is not None
        return higher.hessian_text(result.run, result.check, result.hessian,
                                   result.hessian_check, show_tape, colour=colour)
    out = report.text(result.run, result.check, show_tape, collapse, colour=colour)
    if result.verification is not None:
        from . import claims

        out += "\n" + claims.text(result.verification, colour=colour)
    return out


# ---------------------------------------------------------------- --points


def _shown(n: int) -> list[int]:
    """The rows a table shows: all, or the first and last TEXT_ROWS with -1 for the gap."""
    return list(range(n)) if n <= 2 * TEXT_ROWS else \
        list(range(TEXT_ROWS)) + [-1] + list(range(n - TEXT_ROWS, n))


def _head(points: Any, at: dict[str, float]) -> list[str]:
    n = points.n
    out = [f"points  {n:,} row{'s' if n != 1 else ''} from {points.where}"]
    if at:
        out.append("at      " + ", ".join(f"{k}={fmt(v)}" for k, v in at.items()))
    return out


def _batch(result: Result) -> str:
    """--points computed column-wise: the first and last rows, then the check per partial
    with its worst point, and a summary line (per output with several --of outputs)."""
    parts = result.batches or [(result.batch.output_name, result.batch, result.batch_check)]
    batch = parts[0][1]
    several = result.batches is not None
    out = _head(batch.points, batch.at)
    header = ["row"] + batch.points.names
    for name, b, _ in parts:
        header += ([name or "value"] if several else ["value"]) + \
            [f"d{name}/d{w}" if several else f"d/d{w}" for w in b.wrt]
    rows = [header]
    for k in _shown(batch.n):
        if k < 0:
            rows.append(["..."] + [""] * (len(header) - 1))
            continue
        row = [str(k + 1)] + [fmt(batch.points.columns[c][k]) for c in batch.points.names]
        for _, b, _ in parts:
            row += [fmt(b.value[k])] + [fmt(None if g is None else g[k])
                                        for g in b.gradient.values()]
        rows.append(row)
    out.append("")
    out += table(rows)
    for name, b, chk in parts:
        out.append("")
        lines = summary_lines(b, chk)
        out += [f"{name}: {line}" if several and line.startswith("check:") else line
                for line in lines]
    return "\n".join(out) + "\n"


def summary_lines(batch: Any, chk: Any) -> list[str]:
    """The check per partial (symbolic form, rows per verdict, worst point), then one line."""
    if chk is None:
        return [report.summary(None)]
    if chk.status == "skipped":
        return [f"check: skipped: {chk.reason}"]
    rows = [["partial", "symbolic", "check", "worst point"]]
    for w, v in chk.partials.items():
        counts = ", ".join(f"{c} {s}" for s, c in v.counts.items() if c)
        verdict = v.reason if v.status == "null" else f"{v.status} ({counts})"
        worst = "-" if v.worst is None else (
            f"row {v.worst['row']} (line {v.worst['line']}): tape {fmt(v.worst['tape'])}, "
            f"symbolic {fmt(v.worst['symbolic'])}, error {v.worst['error']:.3g}")
        form = v.symbolic or "-"
        rows.append([f"d/d{w}", shorten(form, 40), verdict, worst])
    lines = table(rows)
    errors = [v.worst["error"] for v in chk.partials.values() if v.worst is not None]
    largest = f"largest error {max(errors):.3g}; " if errors else ""
    value = ""
    if chk.value is not None and chk.value.status == "mismatch":
        value = f"; value mismatch at {chk.value.counts['mismatch']} rows"
    verdict = {"ok": "tape and SymPy agree", "mismatch": "tape and SymPy DISAGREE"}.get(
        chk.status, "not every partial is defined at every point")
    lines += ["", f"check: {chk.status}: {verdict} at {batch.n:,} points{value} ({largest}"
                  f"rtol {chk.rtol:g}, atol {chk.atol:g})", confirmed_line(chk)]
    return lines


def confirmed_line(chk: Any) -> str:
    """How many rows were judged at full precision, and why."""
    total = sum(chk.confirmed.values())
    why = ", ".join(f"{c:,} {k}" for k, c in chk.confirmed.items() if c)
    line = (f"check: {total:,} rows judged at full precision (proven enclosures: {why}); "
            "the float64 screen vouched for the rest")
    if chk.unconfirmed:
        line += f"; {chk.unconfirmed:,} rows could not be judged within the budget (skipped)"
    return line


def _rows(result: Result) -> str:
    """--points computed point by point (--hessian, --expect, --numeric): the table of every
    row's columns (as in the CSV), then each row's verdicts that are not ok, and a summary."""
    from . import csv as csvr

    pts = result.points
    rows = result.rows or []
    names = csvr.row_columns(rows[0]) if rows else []
    out = _head(pts, {})
    grid = [["row"] + pts.names + ["d/d" + n[2:] if n.startswith("d_") else n
                                    for n in names]]
    for k in _shown(len(rows)):
        if k < 0:
            grid.append(["..."] + [""] * (len(grid[0]) - 1))
            continue
        grid.append([str(k + 1)] + [fmt(pts.columns[c][k]) for c in pts.names]
                     + [fmt(v) for v in csvr.row_values(rows[k])])
    out += [""] + table(grid) + [""]
    counts: dict[str, int] = {}
    for k, row in enumerate(rows):
        word = _row_status(row)
        counts[word] = counts.get(word, 0) + 1
        if word not in ("ok", "skipped"):
            summary = body(row).rstrip("\n").split("\n")
            lines = [line for line in summary if line.startswith(("check:", "hessian check:",
                                                                  "verify:"))]
            out += [f"row {k + 1} (line {int(pts.lines[k])}): {line}" for line in lines]
    words = ", ".join(f"{c:,} {w}" for w, c in counts.items())
    status = status_of(counts)
    out.append(f"check: {status}: rows by verdict: {words or 'none'} "
               "(each row judged as at one point)")
    return "\n".join(out) + "\n"


def _row_status(row: Result) -> str:
    statuses = row.statuses()
    if not statuses:
        return "skipped"
    for word in ("mismatch", "undecided", "undefined", "skipped"):
        if word in statuses:
            return word
    return "ok"
