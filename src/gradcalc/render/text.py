"""The text renderer: reports for people, for every mode of the result model
(judge/result.py). Numbers are rounded to 15 digits for reading (report.fmt notes it)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..judge.result import Result, jacobian_check
from ..judge.verdict import combine
from . import report
from .report import (
    fit,
    fmt,
    paint,
    shorten,
    summary_lines,
    table,
    tape_text,
    verdict_table,
    verdict_text,
)

if TYPE_CHECKING:
    from ..engine.evaluate import Run
    from ..judge.check import Check
    from ..judge.claims import ClaimVerdict, Opinions, Verification
    from ..judge.higher import Hessian, HessianCheck

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
    # judge.claims (and what it imports) is loaded only for its modes: start-up time
    mode = result.mode
    if mode == "formulas":
        if result.formulas is None:
            return f"# no symbolic gradient: {result.formulas_reason}\n"
        return "".join(line + "\n" for line in result.formulas)
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
        assert result.verification is not None
        return verification(result.verification, colour=colour)
    if mode == "jacobian":
        assert result.jacobian is not None
        return jacobian_text(result.jacobian, result.checks, show_tape, colour=colour)
    assert result.run is not None
    if mode == "hessian":
        assert result.hessian is not None
        return hessian_text(result.run, result.check, result.hessian,
                                   result.hessian_check, show_tape, colour=colour)
    out = report.text(result.run, result.check, show_tape, collapse, colour=colour)
    if result.verification is not None:
        out += "\n" + verification(result.verification, colour=colour)
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
        lines = batch_summary_lines(b, chk)
        out += [f"{name}: {line}" if several and line.startswith("check:") else line
                for line in lines]
    return "\n".join(out) + "\n"


def batch_summary_lines(batch: Any, chk: Any) -> list[str]:
    """The check per partial (symbolic form, rows per verdict, worst point), then one line."""
    if chk is None:
        return [report.summary(None)]
    if chk.status == "skipped":
        return ["check: " + verdict_text(chk.status, chk.reason)]
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
    from ..batch.rows import CONFIRM_ROWS

    total = sum(chk.confirmed.values())
    why = ", ".join(f"{c:,} {k}" for k, c in chk.confirmed.items() if c)
    line = (f"check: {total:,} rows judged at full precision (proven enclosures: {why}); "
            "the float64 screen vouched for the rest")
    if chk.unconfirmed and chk.timed_out:
        line += (f"; {chk.unconfirmed:,} rows the screen could not vouch for are skipped "
                 "(time limit: --check-timeout passed first)")
    elif chk.unconfirmed:
        line += (f"; {chk.unconfirmed:,} rows the screen could not vouch for are skipped "
                 f"(work limit: at most {CONFIRM_ROWS:,} such rows are judged)")
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
            lines: list[str | None] = []  # each summary line, its wrapped continuation joined back
            for line in body(row).rstrip("\n").split("\n"):
                if line.startswith(("check:", "hessian check:", "verify:")):
                    lines.append(line)
                elif lines and line.startswith("    ") and lines[-1] is not None:
                    lines[-1] += " " + line.strip()
                else:
                    lines.append(None)
            out += [f"row {k + 1} (line {int(pts.lines[k])}): {line}" for line in lines
                    if line is not None]
    words = ", ".join(f"{c:,} {w}" for w, c in counts.items())
    status = combine(counts)
    out.append(f"check: {status}: rows by verdict: {words or 'none'} "
               "(each row judged as at one point)")
    return "\n".join(out) + "\n"


def _row_status(row: Result) -> str:
    return str(combine(row.statuses()))


# ---------------------------------------------------------------- verification


def tolerances(ver: Verification) -> str:
    """The tolerances every verdict was reached with."""
    return f"rtol {ver.rtol:g}, atol {ver.atol:g}"


def _point(at: dict[str, Any]) -> str:
    return ", ".join(f"{n}={fmt(v)}" for n, v in at.items())


def claim_verdict(v: ClaimVerdict) -> str:
    """One claim's verdict in words."""
    from ..judge import claims

    if v.status == "proved":
        text = "proved equal"
    elif v.status == "equal":
        miss = v.miss_probability
        chance = f"{miss:.2%}" if miss >= 1e-4 else f"{miss:.1e}"
        text = (f"equal at {v.points} random points (a difference on "
                f"{claims.MISS_FRACTION:.0%} of the sampled region would be missed with "
                f"probability {chance}); SymPy could not "
                "prove it")
        if v.reason:
            text += f": {v.reason}"
    elif v.status == "differs":
        c = v.counterexample or {}
        text = (f"differs: e.g. at {_point(c.get('at', {}))}, yours gives {fmt(c.get('yours'))}"
                f", true is {fmt(c.get('true'))}")
    else:
        text = verdict_text(v.status, v.reason)
    if v.at_point is not None and v.status != "differs":
        text += (f"; at the --at point yours {fmt(v.at_point['yours'])}, true "
                 f"{fmt(v.at_point['true'])}")
    return text


def _numeric(p: Opinions) -> str:
    if p.numeric is None:
        return "-"
    return f"{fmt(p.numeric.value)} ± {p.numeric.error:.2g}"


def verification(ver: Verification, colour: bool = False) -> str:
    """The verification section: a table of opinions per partial, the claims, a summary."""
    from ..judge import claims

    out: list[str] = []
    if ver.numeric or any(p.expected is not None for p in ver.partials.values()):
        note = (f"; numeric within {claims.NUMERIC_SAFETY:g}x its error estimate"
                if ver.numeric else "")
        out.append(f"verify ({tolerances(ver)}{note}):")
        rows = [["partial", "tape", "symbolic"] + (["numeric"] if ver.numeric else [])
                + ["expected", "verdict"]]
        for p in ver.partials.values():
            verdict = verdict_text(p.status, p.reason)
            rows.append([f"d/d{p.name}", fmt(p.tape), "-" if p.symbolic is None else
                         fmt(p.symbolic)] + ([_numeric(p)] if ver.numeric else [])
                        + ["-" if p.expected is None else fmt(p.expected), verdict])
        out += verdict_table(rows, [p.status for p in ver.partials.values()], colour)
        if ver.numeric:
            methods: dict[str, list[str]] = {}
            for p in ver.partials.values():
                if p.numeric is not None:
                    methods.setdefault(p.numeric.method, []).append(p.name)
            if methods:  # none when every estimate was over the budget (said per partial)
                out.append("  numeric: " + "; ".join(f"{m} for {', '.join(n)}"
                                                     for m, n in methods.items()))
        out.append("")
    if ver.claims:
        out += fit(f"claims (counterexample search at random points where the derivative "
                   f"exists, then SymPy simplification; {tolerances(ver)}):", 4)
        rows = [["partial", "yours", "true", "verdict"]]
        for v in ver.claims:
            rows.append([f"d/d{v.claim.name}", shorten(v.claim.formula, 40),
                         shorten(v.true_form or "-", 40), claim_verdict(v)])
        out += verdict_table(rows, [_claim_word(v) for v in ver.claims], colour)
        out.append("")
    lines = fit(verify_summary(ver), 4)
    lines[0] = paint(lines[0], len("verify: "), "ok" if ver.status == "ok" else "MISMATCH",
                     colour)
    out += lines
    return "\n".join(out) + "\n"


def _claim_word(v: ClaimVerdict) -> str:
    """The first word of a claim's verdict: proved, equal, differs, or the status."""
    return {"proved": "proved", "equal": "equal", "differs": "differs"}.get(v.status, v.status)


def verify_summary(ver: Verification) -> str:
    """One line: the overall verdict, what disagreed, and the tolerances."""
    parts = []
    if ver.numeric or any(p.expected is not None or p.status == "mismatch"
                          for p in ver.partials.values()):
        bad = sum(p.status == "mismatch" for p in ver.partials.values())
        parts.append(f"partials in disagreement: {bad} of {len(ver.partials)}")
    if ver.claims:
        bad = sum(v.status == "differs" for v in ver.claims)
        parts.append(f"claims that differ: {bad} of {len(ver.claims)}")
        open_ = sum(v.status == "undecided" for v in ver.claims)
        if open_:
            parts.append(f"undecided: {open_} (not a success)")
        left = sum(v.status == "skipped" for v in ver.claims)
        if left:
            parts.append(f"skipped: {left} (not a success)")
    word = {"mismatch": "MISMATCH", "undecided": "UNDECIDED"}.get(ver.status, str(ver.status))
    return f"verify: {word}: {', '.join(parts)} ({tolerances(ver)})"


# ---------------------------------------------------------------- Hessian and Jacobian


def hessian_text(run: Run, chk: Check | None, hess: Hessian, hchk: HessianCheck | None,
                 show_tape: bool = False, colour: bool = False) -> str:
    """The first-order report, then the Hessian as an aligned matrix, the entries whose
    verdict is not ok, and the Hessian check's summary line."""
    out = [report.text(run, chk, False, colour=colour).rstrip("\n"), ""]
    names = hess.names
    if names:
        rows = [["hessian"] + names]
        rows += [[name] + [fmt(hess.matrix[name][j]) for j in names] for name in names]
        out += table(rows, indent="")
    if hchk is not None:
        # the upper triangle, and a lower entry only where it differs from its mirror
        notable = [(i, j, p) for i, row in hchk.entries.items() for j, p in row.items()
                   if p.status not in ("ok", "skipped") and (
                       names.index(i) <= names.index(j)
                       or (p.status, fmt(p.tape)) != (hchk.entries[j][i].status,
                                                      fmt(hchk.entries[j][i].tape)))]
        if notable:
            out.append("")
            rows = [["entry", "tape", "symbolic", "check"]]
            for i, j, p in notable:
                rows.append([f"d2/d{i}d{j}", fmt(p.tape), shorten(p.symbolic or "-"),
                             verdict_text(p.status, p.reason)])
            out += verdict_table(rows, [p.status for _, _, p in notable], colour)
    out.append("")
    out += summary_lines(None if hchk is None else hchk.as_check(), colour, "hessian ")
    if show_tape:
        out += ["", tape_text(run)]
    return "\n".join(out) + "\n"


def jacobian_text(rows: Sequence[Run], checks: Sequence[Check] | None,
                  show_tape: bool = False, colour: bool = False) -> str:
    """The Jacobian as an aligned matrix (one row per output, with its value), then one line
    per entry with its symbolic form and verdict, and the summary."""
    names = rows[0].wrt if rows else []
    matrix = [["jacobian", "value"] + [f"d/d{n}" for n in names]]
    for r in rows:
        grad = r.gradient()
        matrix.append([r.output_name or "-", fmt(r.value)] + [fmt(grad[n]) for n in names])
    out = table(matrix, indent="")
    if checks is not None:
        out.append("")
        entries = [["entry", "symbolic", "check"]]
        statuses = []
        for r, c in zip(rows, checks, strict=True):
            for n, p in c.partials.items():
                verdict = p.reason if p.status == "null" else \
                    verdict_text(p.status, p.reason)
                entries.append([f"d{r.output_name}/d{n}", shorten(p.symbolic or "-"), verdict])
                statuses.append(p.status)
        out += verdict_table(entries, statuses, colour)
    out.append("")
    out += summary_lines(None if checks is None else jacobian_check(rows, checks), colour)
    if show_tape and rows:
        out += ["", tape_text(rows[-1])]
    return "\n".join(out) + "\n"
