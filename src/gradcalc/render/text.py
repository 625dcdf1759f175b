"""The text renderer: reports for people, for every mode of the result model
(judge/result.py). Numbers are rounded to 15 digits for reading (report.fmt notes it)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..engine import datafile
from ..errors import worded
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
from .words import option_words

if TYPE_CHECKING:
    from ..engine.evaluate import Run
    from ..engine.higher import Hessian
    from ..judge.check import Check
    from ..judge.claims import ClaimVerdict, Opinions, Verification
    from ..judge.code import Counterexample, GradCheck
    from ..judge.higher import HessianCheck

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
    if mode == "code":
        assert result.code is not None
        return code_text(result.code, colour)
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
        lines = [f"points  {d['points']['rows']:,} rows from {files} file{s} on Dask "
                 f"({d['dask']})", f"wrote   {files} part file{s} to {d['output']}", ""]
        lines += check_lines(d["points"]["rows"], result.batch_check)
        return "\n".join(piece for line in lines for piece in fit(line)) + "\n"
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
    if result.steps is not None:
        out += "\n" + steps_text(result.steps, result.run, result.check)
    return out


# ---------------------------------------------------------------- --steps


def steps_text(steps: Any, run: Run, chk: Check | None = None) -> str:
    """The backward pass written out (symbolic.steps.Steps), one table per differentiated
    name: each node the sweep visits on the way to it, its operation, its local derivatives
    and the adjoint it receives (formula, then the tape's numbers)."""
    nodes = run.nodes
    if steps.output is None:
        return "steps: none (no gradient reaches a differentiated name from the output)\n"
    out_node = nodes[steps.output]
    where = f"{out_node.ref}" + (f" ({out_node.label})" if out_node.label else "")
    out = fit("steps: the backward pass, node by node in the order the sweep visits them. "
              f"A node's adjoint is the derivative of the output {where} with respect to it: the"
              " sum, over the nodes that use it, of their adjoint times their local derivative.",
              0)
    ids = {j for js in steps.partials.values() for j in js}
    for k, (name, path) in enumerate(steps.partials.items()):
        out.append("")
        if not path:
            out.append(f"d/d{name}: no steps (no gradient reaches {name} from the output)")
            continue
        out.append(f"d/d{name}:")
        rows = [["node", "operation", "local derivative", "adjoint received"]]
        for j in path:
            step = steps.steps[j]
            local = [_local_text(loc, step, steps) for loc in step.locals
                     if loc.input in ids and steps.steps[loc.input].mask >> k & 1]
            received = _received_lines(step, steps)
            for n in range(max(1, len(local), len(received))):
                rows.append([step.name if n == 0 else "", step.operation if n == 0 else "",
                             local[n] if n < len(local) else "",
                             received[n] if n < len(received) else ""])
        out += table(rows)
        form = chk.matrix.get(name) if chk is not None else None
        if form:
            out += fit(f"  in matrix notation (SymPy's matrix calculus, as the check found it):"
                       f" d/d{name} = {form}", 4)
    if steps.note:
        out += ["", *fit(f"steps: {worded(steps.note, option_words)}", 4)]
    elif steps.formulas and any(s.formula is None for j, s in steps.steps.items() if j in ids):
        from ..symbolic.steps import FORMULA

        out += ["", *fit(f"steps: a formula longer than {FORMULA} SymPy nodes is shown as its "
                         "number only (formula too long)", 4)]
    return "\n".join(out) + "\n"


def step_lines(steps: Any, node: int) -> list[str]:
    """One step of the backward pass as lines (for a graph's box): its operation, its local
    derivatives and the adjoint it receives."""
    step = steps.steps[node]
    return [f"{step.name} = {step.operation}" if step.operation != "input" else
            f"{step.name} (input)", *(_local_text(loc, step, steps) for loc in step.locals),
            *(f"adjoint {line}" for line in _received_lines(step, steps))]


def _local_text(loc: Any, step: Any, steps: Any) -> str:
    """One local derivative: `d/dt7 = tax`, or its number where there is no formula."""
    repeated = sum(other.input == loc.input for other in step.locals) > 1
    arg = f" (argument {loc.arg + 1})" if repeated and loc.arg >= 0 else ""
    if loc.formula is not None:
        return f"d/d{loc.name} = {loc.formula}{arg}"
    value = "Jacobian" if loc.value is None else fmt(loc.value)
    return f"d/d{loc.name}: {value}{arg}" + (" (formula too long)"
                                             if steps.formulas and loc.value is not None else "")


def _received_lines(step: Any, steps: Any) -> list[str]:
    """The adjoint a step receives: the seed, or one line per contribution (adjoint times
    local derivative, as formulas and as the tape's numbers), then their sum."""
    if not step.received:
        return [f"{fmt(step.adjoint)} (the seed)"]
    lines = []
    sources = [r.source for r in step.received]
    for r in step.received:
        origin = steps.steps[r.source].name.split()[-1] if r.source in steps.steps \
            else f"t{r.source}"   # a collapsed call by its result's name
        if sources.count(r.source) > 1 and r.arg >= 0:
            origin += f" (argument {r.arg + 1})"
        numbers = _numbers(r)
        formula = r.product
        if formula is not None and len(step.received) == 1 and step.formula is not None \
                and not _restated(formula, step.formula) and not (
                    step.formula.startswith("[") and not formula.startswith("[")):
            formula += f" = {step.formula}"
        lines.append(f"from {origin}: {formula} = {numbers}" if formula is not None else
                     f"from {origin}: {numbers}" + (" (formula too long)" if steps.formulas
                                                    else ""))
    if len(step.received) > 1:
        parts = fmt(step.received[0].value)
        for r in step.received[1:]:
            text = fmt(r.value)
            parts += f" - {text[1:]}" if text.startswith("-") else f" + {text}"
        head = f"{step.formula} = " if step.formula is not None else ""
        lines.append(f"sum: {head}{parts} = {fmt(step.adjoint)}")
    return lines


def _numbers(r: Any) -> str:
    """A contribution's numbers: adjoint * local = the tape's contribution."""
    if r.local is None:
        return fmt(r.value)
    local = fmt(r.local)
    product = f"{fmt(r.adjoint)} * {f'({local})' if local.startswith('-') else local}"
    if max(np.ndim(r.adjoint), np.ndim(r.local)) > np.ndim(r.value):   # summed, broadcast
        product = f"sum({product})"
    return f"{product} = {fmt(r.value)}"


def _restated(product: str, formula: str) -> bool:
    """Whether the simplified formula says no more than the product: the same names,
    numbers and operators, only reordered (`tax * an` and `an*tax`)."""
    import re

    def tokens(text: str) -> list[str]:
        found = [t for t in re.findall(r"[A-Za-z_][A-Za-z0-9_#\[\],]*|\d+\.?\d*(?:e[-+]?\d+)?"
                                       r"|\S", text) if t not in "()"]
        out: list[str] = []
        for t in found:   # a factor 1 says nothing: `1 * tax`, `tax * 1`
            if t == "*" and out and out[-1] == "1" and (len(out) == 1 or out[-2] in "+-*/("):
                out.pop()
            elif t == "1" and out and out[-1] == "*":
                out.pop()
            else:
                out.append(t)
        return sorted(out)

    return tokens(product) == tokens(formula)


# ---------------------------------------------------------------- --points


def _shown(n: int) -> list[int]:
    """The rows a table shows: all, or the first and last TEXT_ROWS with -1 for the gap."""
    return list(range(n)) if n <= 2 * TEXT_ROWS else \
        list(range(TEXT_ROWS)) + [-1] + list(range(n - TEXT_ROWS, n))


def _head(points: Any, at: dict[str, float]) -> list[str]:
    n = points.n
    files = "" if points.files is None else f" ({len(points.files):,} files)"
    sep = "" if points.separator == "," else \
        f", columns separated by {datafile.SEPARATORS[points.separator]}s"
    out = [f"points  {n:,} row{'s' if n != 1 else ''} from {points.where}{files}{sep}"]
    if at:
        out.append("at      " + ", ".join(f"{k}={fmt(v)}" for k, v in at.items()))
    return out


def _grid(points: Any, header: list[str], cells: Any) -> list[str]:
    """The table of rows: `row`, the kept columns, then header, with cells(k) the cells of
    row k after the kept ones; the first and last rows of a long table, and only the
    columns that fit the width (the rest named, and where to find them)."""
    shown = _shown(points.n)
    picked = [k for k in shown if k >= 0]
    kept = {name: points.kept_text(name, picked) for name in points.kept}
    grid = [["row", *points.kept, *header]]
    for k in shown:
        if k < 0:
            grid.append(["..."] + [""] * (len(grid[0]) - 1))
            continue
        at = picked.index(k)
        grid.append([str(k + 1)] + [shorten(kept[name][at], 20) for name in points.kept]
                    + cells(k))
    fits, hidden = fit_columns(grid)
    out = table(fits)
    if hidden:
        out += [""] + fit(f"({len(hidden)} more column{'s' if len(hidden) != 1 else ''} "
                          f"beyond {report.WIDTH} characters: {', '.join(hidden)}; "
                          "--format csv or json has every column)")
    return out


def fit_columns(grid: Sequence[Sequence[str]], width: int = report.WIDTH
                ) -> tuple[list[list[str]], list[str]]:
    """The leading columns of a table that fit width (the first always), and the headers of
    those left out."""
    widths = [max(len(r[i]) for r in grid) for i in range(len(grid[0]))]
    used, keep = 2 + widths[0], 1
    while keep < len(widths) and used + 2 + widths[keep] <= width:
        used += 2 + widths[keep]
        keep += 1
    return [list(r[:keep]) for r in grid], list(grid[0][keep:])


def _batch(result: Result) -> str:
    """--points computed column-wise: the first and last rows, then the check per partial
    with its worst point, and a summary line (per output with several --of outputs)."""
    parts = result.batches or [(result.batch.output_name, result.batch, result.batch_check)]
    batch = parts[0][1]
    several = result.batches is not None
    out = _head(batch.points, batch.at)
    header = list(batch.points.names)
    for name, b, _ in parts:
        header += ([name or "value"] if several else ["value"]) + \
            [f"d{name}/d{w}" if several else f"d/d{w}" for w in b.wrt]

    def cells(k: int) -> list[str]:
        row = [fmt(batch.points.columns[c][k]) for c in batch.points.names]
        for _, b, _ in parts:
            row += [fmt(b.value[k])] + [fmt(None if g is None else g[k])
                                        for g in b.gradient.values()]
        return row

    out.append("")
    out += _grid(batch.points, header, cells)
    for name, b, chk in parts:
        out.append("")
        lines = check_lines(b.n, chk)
        out += [f"{name}: {line}" if several and line.startswith("check:") else line
                for line in lines]
    out = [piece for line in out for piece in fit(line)]
    return "\n".join(out) + "\n"


def _row_at(worst: Mapping[str, Any]) -> str:
    """Where a worst row is, for the text: `row 3 (line 4)`, `row 3 (b.csv line 2)`."""
    file = f"{worst['file']} " if "file" in worst else ""
    return f"row {worst['row']} ({file}line {worst['line']})"


def check_lines(n: int, chk: Any) -> list[str]:
    """The check of a batch of n rows (batch.rows.BatchCheck, None for --no-check): per
    partial its symbolic form, rows per verdict and worst point (under the table when too long
    for its row), then the summary lines."""
    if chk is None:
        return [report.summary(None)]
    if chk.status == "skipped":
        return ["check: " + verdict_text(chk.status, chk.reason)]
    rows = [["partial", "symbolic", "check", "worst point"]]
    marks: list[str | None] = []
    for w, v in chk.partials.items():
        counts = ", ".join(f"{c} {s}" for s, c in v.counts.items() if c)
        verdict = v.reason if v.status == "null" else f"{v.status} ({counts})"
        worst = "-" if v.worst is None else (
            f"{_row_at(v.worst)}: tape {fmt(v.worst['tape'])}, "
            f"symbolic {fmt(v.worst['symbolic'])}, error {v.worst['error']:.3g}")
        form = v.symbolic or "-"
        rows.append([f"d/d{w}", shorten(form, 40), verdict, worst])
        marks.append(None if v.worst is None else
                     f"row {v.worst['row']}, error {v.worst['error']:.3g}")
    lines = verdict_table(rows, marks)
    errors = [v.worst["error"] for v in chk.partials.values() if v.worst is not None]
    largest = f"largest error {max(errors):.3g}; " if errors else ""
    value = ""
    if chk.value is not None and chk.value.status == "mismatch":
        value = f"; value mismatch at {chk.value.counts['mismatch']} rows"
    verdict = {"ok": "tape and SymPy agree", "mismatch": "tape and SymPy DISAGREE"}.get(
        chk.status, "not every partial is defined at every point")
    lines += ["", f"check: {chk.status}: {verdict} at {n:,} points{value} ({largest}"
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
    header = pts.names + ["d/d" + n[2:] if n.startswith("d_") else n for n in names]
    out += [""] + _grid(pts, header, lambda k: [fmt(pts.columns[c][k]) for c in pts.names]
                        + [fmt(v) for v in csvr.row_values(rows[k])]) + [""]
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
            out += [f"{pts.at_row(k)}: {line}" for line in lines if line is not None]
    words = ", ".join(f"{c:,} {w}" for w, c in counts.items())
    status = combine(counts)
    out.append(f"check: {status}: rows by verdict: {words or 'none'} "
               "(each row judged as at one point)")
    return "".join(piece + "\n" for line in out for piece in fit(line))


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
        what = f"{v.difference}; " if v.difference else ""
        text = (f"differs: {what}e.g. at {_point(c.get('at', {}))}, yours gives "
                f"{fmt(c.get('yours'))}, true is {fmt(c.get('true'))}")
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


# ---------------------------------------------------------------- check_grad


def point_text(names: Sequence[str], at: Sequence[Any]) -> str:
    """The arguments of a point for people: name=value each (a long array by its shape; the
    JSON has every number)."""
    parts = []
    for name, value in zip(names, at, strict=True):
        size = int(np.size(value))
        shown = fmt(value) if size <= 9 else \
            f"<array of shape {np.shape(value)}: {fmt(np.ravel(value)[:3])[:-1]}, ...]>"
        parts.append(f"{name}={shown}")
    return ", ".join(parts)


def counterexample_text(chk: GradCheck, c: Counterexample) -> str:
    """Where and how your gradient differs, in one line."""
    where = "at the given point" if c.given else f"at {point_text(chk.names, c.at)}"
    if c.label is None:
        return f"counterexample {where}: {c.reason}"
    return (f"counterexample {where}: d/d{c.label} yours {fmt(c.yours)}, true {fmt(c.true)}"
            + (f" (error {c.error:.3g})" if c.error is not None else ""))


def code_summary(chk: GradCheck) -> list[str]:
    """The summary lines of check_grad: the verdict with counts and tolerances, the search,
    the counterexample."""
    counts: dict[str, int] = {}
    for v in chk.components:
        counts[v.status] = counts.get(v.status, 0) + 1
    parts = [f"{counts[s]:,} {s}" for s in ("ok", "mismatch", "undefined", "skipped")
             if s in counts]
    screened = sum(1 for v in chk.components if not v.certified)
    if screened:
        parts.append(f"{screened:,} vouched for by the float64 screen")
    errors = [v.error for v in chk.components if v.error is not None]
    largest = f"largest error {max(errors):.3g}; " if errors else ""
    c = chk.counterexample
    verdict = {"ok": "yours and the true gradient agree at the given point",
               "mismatch": "yours and the true gradient DISAGREE " + (
                   "at the given point" if c is None or c.given else
                   "at a point of the search; at the given point"),
               "undefined": "the true gradient is not defined everywhere at the given point",
               "skipped": "not every component could be judged at the given point"}.get(
                   chk.status, chk.status)
    lines = [f"check: {chk.status}: {verdict} ({', '.join(parts) or 'no components'}; "
             f"{largest}rtol {chk.rtol:g}, atol {chk.atol:g})"]
    if chk.search:
        found = "" if c is None or c.given else ": found a counterexample"
        lines.append(f"search: {chk.searched} of {chk.points} random points judged "
                     f"({chk.tried} drawn, {chk.outside} outside the domain or at a kink; "
                     f"seeded from the input){found or ': no counterexample'}"
                     if not (c is not None and c.given) else
                     "search: not needed (the given point is a counterexample)")
    else:
        lines.append("search: off (only the given point is judged)")
    if c is not None:
        lines.append(counterexample_text(chk, c))
    return lines + [f"note: {n}" for n in chk.notes]


def code_text(chk: GradCheck, colour: bool = False) -> str:
    """The report of check_grad: the function, the value, the worst components (yours, true,
    error, verdict), then the summary, the search and the counterexample."""
    out = [f"check_grad  {chk.gradient} as the gradient of {chk.function}, at "
           f"{point_text(chk.names, chk.point)}", f"value  {fmt(chk.value)}"]
    shown = chk.worst()
    if shown:
        rows = [["partial", "yours", "true", "error", "check"]]
        for v in shown:
            rows.append([f"d/d{v.label}", fmt(v.yours), fmt(v.true),
                         "-" if v.error is None else f"{v.error:.3g}",
                         v.status + (f": {v.reason}" if v.reason and v.status != "ok" else "")])
        out += [""] + verdict_table(rows, [v.status for v in shown], colour)
        rest = len(chk.components) - len(shown)
        if rest:
            statuses = {v.status for v in chk.components} - {v.status for v in shown
                                                           if v.status != "ok"}
            out.append(f"  ({rest:,} more component{'s' if rest != 1 else ''}, "
                       + ("all ok" if statuses <= {"ok"} else "not shown")
                       + "; --format json has every one)")
    out.append("")
    for line in code_summary(chk):
        out += fit(line, 4)
    first = next(i for i, line in enumerate(out) if line.startswith("check: "))
    out[first] = paint(out[first], len("check: "), chk.status, colour)
    return "\n".join(out) + "\n"
