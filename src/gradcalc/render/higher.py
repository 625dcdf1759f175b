"""Renderings of Hessians and Jacobians: an aligned matrix for people, JSON and CSV for scripts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..engine.evaluate import Run
from ..judge.check import Check
from ..judge.higher import Hessian, HessianCheck
from ..render.report import (
    fmt,
    jnum,
    json_object,
    partial_json,
    shorten,
    summary_lines,
    table,
    tape_text,
    text,
    unchecked_json,
    verdict_table,
)

# ---------------------------------------------------------------- Hessian


def hessian_text(run: Run, chk: Check | None, hess: Hessian, hchk: HessianCheck | None,
                 show_tape: bool = False, colour: bool = False) -> str:
    """The first-order report, then the Hessian as an aligned matrix, the entries whose
    verdict is not ok, and the Hessian check's summary line."""
    out = [text(run, chk, False, colour=colour).rstrip("\n"), ""]
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
                             p.status + (f": {p.reason}" if p.reason else "")])
            out += verdict_table(rows, [p.status for _, _, p in notable], colour)
    out.append("")
    out += summary_lines(None if hchk is None else hchk.as_check(), colour, "hessian ")
    if show_tape:
        out += ["", tape_text(run)]
    return "\n".join(out) + "\n"


def hessian_json(run: Run, chk: Check | None, hess: Hessian, hchk: HessianCheck | None,
                 show_tape: bool = False) -> dict[str, Any]:
    """The contract's JSON object plus `hessian` (matrix by name) and `check.hessian`."""
    obj = json_object(run, chk, show_tape)
    obj["hessian"] = {i: {j: jnum(hess.matrix[i][j]) for j in hess.names} for i in hess.names}
    if hchk is None:
        verdicts: dict[str, Any] = unchecked_json()
    else:
        verdicts = {
            "status": hchk.status,
            "reason": hchk.reason or None,
            "symbolic": {i: {j: p.symbolic for j, p in row.items()}
                         for i, row in hchk.entries.items()},
            "entries": {i: {j: partial_json(p) for j, p in row.items()}
                        for i, row in hchk.entries.items()},
        }
    obj["check"]["hessian"] = verdicts
    if chk is not None and hchk is not None and hchk.status == "mismatch":
        obj["check"]["status"] = "mismatch"
    return obj


# ---------------------------------------------------------------- Jacobian


def combined(rows: Sequence[Run], checks: Sequence[Check]) -> Check:
    """The per-output checks as one Check, partials keyed d<output>/d<name>."""
    partials = {f"d{r.output_name}/d{n}": p for r, c in zip(rows, checks, strict=True)
                for n, p in c.partials.items()}
    statuses = [c.status for c in checks]
    status = "mismatch" if "mismatch" in statuses else \
        "skipped" if statuses and all(s == "skipped" for s in statuses) else "ok"
    values = [c.value_status for c in checks]
    value_status = "mismatch" if "mismatch" in values else \
        "undefined" if "undefined" in values else "ok"
    reason = next((c.reason for c in checks if c.reason), "")
    first = checks[0] if checks else Check("skipped")
    return Check(status, partials, value_status=value_status, reason=reason, rtol=first.rtol,
                 atol=first.atol)


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
                    p.status + (f": {p.reason}" if p.reason else "")
                entries.append([f"d{r.output_name}/d{n}", shorten(p.symbolic or "-"), verdict])
                statuses.append(p.status)
        out += verdict_table(entries, statuses, colour)
    out.append("")
    out += summary_lines(None if checks is None else combined(rows, checks), colour)
    if show_tape and rows:
        out += ["", tape_text(rows[-1])]
    return "\n".join(out) + "\n"


def jacobian_json(rows: Sequence[Run], checks: Sequence[Check] | None,
                  show_tape: bool = False) -> dict[str, Any]:
    """JSON for several outputs: `output` and `value` per output, `jacobian` (one gradient row
    per output) and `check` with per-output symbolic forms and verdicts."""
    first = rows[0]
    obj: dict[str, Any] = {
        "expression": first.program.source,
        "at": {n: jnum(v) for n, v in first.bindings.items()},
        "output": [r.output_name for r in rows],
        "value": {r.output_name: jnum(r.value) for r in rows},
        "jacobian": {r.output_name: {n: jnum(g) for n, g in r.gradient().items()}
                     for r in rows},
    }
    if checks is None:
        obj["check"] = unchecked_json()
    else:
        total = combined(rows, checks)
        obj["check"] = {
            "status": total.status,
            "reason": total.reason or None,
            "symbolic": {r.output_name: {n: p.symbolic for n, p in c.partials.items()}
                         for r, c in zip(rows, checks, strict=True)},
            "value": {r.output_name: {"status": c.value_status, "symbolic": jnum(c.value)}
                      for r, c in zip(rows, checks, strict=True)},
            "partials": {r.output_name: {
                n: partial_json(p)
                for n, p in c.partials.items()} for r, c in zip(rows, checks, strict=True)},
            "rtol": total.rtol,
            "atol": total.atol,
        }
    if show_tape:
        obj["tape"] = json_object(rows[-1], None, True)["tape"]
    return obj
