"""The JSON renderer: one strict JSON object per call (non-finite numbers as "nan", "inf",
"-inf"), for every mode of the result model (judge/result.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import worded
from ..judge.result import Result, jacobian_check
from ..judge.verdict import combine
from ..lang.syntax import Assign, Program
from . import report, text
from .report import jnum, json_object, partial_json, unchecked_json
from .words import option_words

if TYPE_CHECKING:
    from ..engine.evaluate import Run
    from ..engine.higher import Hessian
    from ..judge.check import Check
    from ..judge.claims import ClaimVerdict, Verification
    from ..judge.code import GradCheck, Verdict
    from ..judge.higher import HessianCheck


def render(result: Result, show_tape: bool = False, compact: bool = False) -> str:
    """The JSON text of a result, with a final newline; compact: on one line (--format jsonl).
    A --points batch is written on one line in either case (its arrays can be long)."""
    mode = result.mode
    if mode == "batch":
        return _batch(result)
    if mode == "dask":   # the summary of what was written, and the merged check
        return json.dumps({**(result.dask or {}),
                           "check": _batch_check(result.batch_check)}, allow_nan=False) + "\n"
    return dumps(document(result, show_tape), compact)


def dumps(obj: Any, compact: bool = False) -> str:
    """Strict JSON text of an object with a final newline: indented, or on one line."""
    if compact:
        return json.dumps(obj, separators=(",", ":"), allow_nan=False) + "\n"
    return json.dumps(obj, indent=2, allow_nan=False) + "\n"


def document(result: Result, show_tape: bool = False) -> dict[str, Any]:
    """The JSON object of a result at one point (or of each row of a --points run)."""
    mode = result.mode
    if mode == "code":
        assert result.code is not None
        return code_json(result.code)
    if mode == "formulas":
        run = result.run  # None: formulas without a point (no --at)
        return {"expression": result.program.source,
                "at": {} if run is None else {n: report.jnum(v)
                                              for n, v in run.bindings.items()},
                "output": output_name(result.program, result.of) if run is None
                else run.output_name,
                "symbolic": {"format": result.formulas_format,
                             "formulas": [f.rstrip("\n") for f in result.formulas]
                             if result.formulas is not None else None,
                             "reason": result.formulas_reason or None}}
    if mode == "rows":
        return _rows(result, show_tape)
    if mode == "jacobian":
        assert result.jacobian is not None
        return jacobian_json(result.jacobian, result.checks, show_tape)
    if mode == "hessian":
        assert result.run is not None and result.hessian is not None
        return hessian_json(result.run, result.check, result.hessian,
                                   result.hessian_check, show_tape)
    if mode == "claims":
        assert result.verification is not None
        return claims_only_json(result.program, result.verification, result.of)
    assert result.run is not None
    obj = report.json_object(result.run, result.check, show_tape)
    if result.verification is not None:
        extend(obj["check"], result.verification)
    if result.steps is not None:
        obj["steps"] = steps_json(result.steps)
    return obj


def steps_json(steps: Any) -> dict[str, Any]:
    """--steps as data (symbolic.steps.Steps): the steps in the order the sweep visits them,
    and per differentiated name the node ids of its steps. Each contribution has the numbers
    the text shows in full precision, and `ops`, the tape's arithmetic that turns the adjoint
    it came from into it (["*", a], ["/", a], ["neg", null], ["sum", shape]), or `parts`, the
    contributions of a collapsed call's nodes in the order the sweep added them."""

    def received(r: Any) -> dict[str, Any]:
        return {"from": r.source, "argument": None if r.arg < 0 else r.arg + 1,
                "formula": r.product, "adjoint": jnum(r.adjoint), "local": jnum(r.local),
                "value": jnum(r.value),
                "ops": None if r.ops is None else [[op, None if a is None else
                                                    a if op == "sum" else jnum(a)]
                                                   for op, a in r.ops],
                "parts": None if r.parts is None else [jnum(p) for p in r.parts]}

    nodes = []
    for j in sorted(steps.steps, reverse=True):
        step = steps.steps[j]
        nodes.append({
            "node": j, "nodes": [step.first, j] if step.first != j else None,
            "name": step.name, "op": step.op, "operation": step.operation,
            "local": [{"input": loc.input, "name": loc.name,
                       "argument": None if loc.arg < 0 else loc.arg + 1,
                       "formula": loc.formula, "value": jnum(loc.value)} for loc in step.locals],
            "received": [received(r) for r in step.received],
            "adjoint": jnum(step.adjoint), "formula": step.formula})
    return {"output": steps.output, "collapse": steps.collapse, "formulas": steps.formulas,
            "note": worded(steps.note, option_words) or None, "partials": steps.partials,
            "nodes": nodes}


def _rows(result: Result, show_tape: bool) -> dict[str, Any]:
    """--points in a mode computed point by point: the points, then one object per row, each
    the one-point JSON object at that row's bindings (without the expression)."""
    pts = result.points
    rows = []
    for row in result.rows or []:
        obj = document(row, show_tape)
        obj.pop("expression", None)
        rows.append(obj)
    return {"expression": result.program.source, "points": points_json(pts),
            "kept": {name: pts.kept_text(name) for name in pts.kept}, "rows": rows}


def points_json(pts: Any) -> dict[str, Any]:
    """What a --points table is: its file (or files), rows, the columns that bind names and
    the kept columns."""
    obj: dict[str, Any] = {"file": pts.where, "rows": pts.n, "names": pts.names,
                           "kept": list(pts.kept)}
    if pts.files is not None:
        obj["files"] = pts.files
    return obj


# ---------------------------------------------------------------- modes


def _claim_json(v: ClaimVerdict) -> dict[str, Any]:
    c = v.counterexample
    at = v.at_point
    return {
        "name": v.claim.name, "claim": v.claim.formula, "source": _given_in(v.claim),
        "true": v.true_form, "status": v.status, "verdict": text.claim_verdict(v),
        "points": v.points, "miss_probability": v.miss_probability
        if v.points and v.status in ("equal", "proved") else None,
        "counterexample": None if c is None else {
            "at": {n: jnum(x) for n, x in c["at"].items()}, "yours": jnum(c["yours"]),
            "true": jnum(c["true"])},
        "at_point": None if at is None else {k: jnum(x) for k, x in at.items()},
        "reason": v.reason or None, "difference": v.difference or None,
    }


def extend(check: dict[str, Any], ver: Verification) -> None:
    """Add the verification to a JSON object's "check": opinions per partial, claims, and
    the overall verdict (a mismatch makes the check's status mismatch)."""
    from ..judge import claims

    partials = check.setdefault("partials", {})
    for name, p in ver.partials.items():
        entry = partials.setdefault(name, {})
        entry.update({
            "tape": jnum(p.tape), "symbolic": jnum(p.symbolic),
            "numeric": None if p.numeric is None else jnum(p.numeric.value),
            "numeric_error": None if p.numeric is None else jnum(p.numeric.error),
            "numeric_method": None if p.numeric is None else p.numeric.method,
            "expected": jnum(p.expected), "agree": p.agree, "status": p.status,
            "reason": p.reason or None,
        })
    if ver.claims:
        check["claims"] = [_claim_json(v) for v in ver.claims]
    check["verify"] = {"status": ver.status, "rtol": ver.rtol, "atol": ver.atol,
                       "numeric_safety": claims.NUMERIC_SAFETY if ver.numeric else None}
    if ver.status == "mismatch":
        check["status"] = "mismatch"


def output_name(program: Program, of: str | None) -> str | None:
    """The name of the program's output, if it has one."""
    if of:
        return of
    last = program.statements[-1]
    return last.target if isinstance(last, Assign) else None


def claims_only_json(program: Program, ver: Verification, of: str | None) -> dict[str, Any]:
    """The JSON object for claims given without --at: no point, so no value and no gradient."""
    check: dict[str, Any] = {"status": ver.status, "symbolic": ver.true_forms,
                             "reason": "no --at: the claims were checked, there was no tape run",
                             "rtol": ver.rtol, "atol": ver.atol}
    extend(check, ver)
    return {"expression": program.source, "at": {}, "output": output_name(program, of),
            "value": None, "gradient": {}, "check": check}


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
        total = jacobian_check(rows, checks)
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


# ---------------------------------------------------------------- --points columns


def _jarray(x: np.ndarray | None) -> Any:
    if x is None:
        return None
    values = np.asarray(x, dtype=np.float64).tolist()
    if np.all(np.isfinite(x)):
        return values
    return [jnum(v) for v in values]


def _jarray_text(x: np.ndarray) -> str:
    """The JSON text json.dumps gives for _jarray(x): '[1.5, "nan", 2.0]', made by Arrow's
    kernels instead of a Python float per cell."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from ..batch import columns as cio

    cells = cio.json_numbers(x)
    whole = pa.ListArray.from_arrays(pa.array([0, len(cells)], pa.int32()), cells)
    return "[" + pc.binary_join(whole, ", ")[0].as_py() + "]"


def _verdict_json(v: Any) -> dict[str, Any]:
    worst = None if v.worst is None else {k: x if k in ("row", "line", "file") else jnum(x)
                                          for k, x in v.worst.items()}
    return {"status": v.status, "rows": v.counts or None, "worst": worst,
            "reason": v.reason or None}


def _batch_check(chk: Any) -> dict[str, Any]:
    if chk is None:
        return report.unchecked_json()
    return {
        "status": chk.status,
        "symbolic": {w: v.symbolic for w, v in chk.partials.items()},
        "reason": chk.reason or None,
        "value": None if chk.value is None else _verdict_json(chk.value),
        "partials": {w: _verdict_json(v) for w, v in chk.partials.items()},
        "rtol": chk.rtol,
        "atol": chk.atol,
        "confirmed": chk.confirmed,
        "unconfirmed": chk.unconfirmed,
    }


def _batch(result: Result) -> str:
    """--points: one strict JSON object on one line; the value and each partial are arrays
    with one entry per row (with several --of outputs, objects by output)."""
    return "".join(_batch_text(result))


def write_batch(result: Result, out: Any) -> None:
    """_batch's text written to out as it is made, a long array CHUNK rows at a time (so the
    whole text is never held)."""
    from . import csv as csvr

    put, done = csvr.byte_sink(out)
    for piece in _batch_text(result):
        put(piece.encode())
    done()


def _batch_text(result: Result) -> Iterator[str]:
    """_batch's text in pieces: the object's JSON with a marker in place of each long array,
    and each long array's text (Arrow's, CHUNK rows at a time) where its marker was."""
    import secrets

    spliced: list[np.ndarray] = []   # long arrays, put in place of their markers
    mark = "array-" + secrets.token_hex(8)

    def array(x: np.ndarray | None) -> Any:
        if x is None or len(x) < 1000:
            return _jarray(x)
        try:
            import pyarrow  # noqa: F401 - Arrow writes the long arrays
        except ImportError:
            return _jarray(x)
        spliced.append(np.asarray(x, dtype=np.float64))
        return f"{mark} {len(spliced) - 1}"

    parts = result.batches or [(result.batch.output_name, result.batch, result.batch_check)]
    batch = parts[0][1]
    obj: dict[str, Any] = {
        "expression": batch.program.source,
        "points": points_json(batch.points),
        "at": {n: jnum(v) for n, v in batch.at.items()},
        "kept": {name: batch.points.kept_text(name) for name in batch.points.kept},
    }
    if result.batches is None:
        obj.update({"output": batch.output_name, "value": array(batch.value),
                    "gradient": {w: array(g) for w, g in batch.gradient.items()},
                    "check": _batch_check(result.batch_check)})
    else:
        obj.update({"output": [name for name, _, _ in parts],
                    "value": {name: array(b.value) for name, b, _ in parts},
                    "jacobian": {name: {w: array(g) for w, g in b.gradient.items()}
                                 for name, b, _ in parts},
                    "check": {"status": combine(
                        "skipped" if c is None else c.status for _, _, c in parts),
                        "outputs": {name: _batch_check(c) for name, _, c in parts}}})
    text_ = json.dumps(obj, indent=None, allow_nan=False) + "\n"
    pieces = text_.split(f'"{mark} ')
    yield pieces[0]
    from ..batch.rows import CHUNK

    for piece in pieces[1:]:
        k, rest = piece.split('"', 1)
        x = spliced[int(k)]
        yield "["
        for lo in range(0, len(x), CHUNK):
            yield (", " if lo else "") + _jarray_text(x[lo:lo + CHUNK])[1:-1]
        yield "]" + rest


def _component(v: Verdict) -> dict[str, Any]:
    return {"yours": jnum(v.yours), "true": jnum(v.true), "error": jnum(v.error),
            "status": v.status, "reason": v.reason or None, "certified": v.certified,
            "floor": jnum(v.floor)}


def code_json(chk: GradCheck) -> dict[str, Any]:
    """check_grad's report: the point, the value, every component's verdict in the shape of
    its argument, the search and the counterexample."""
    components: dict[str, Any] = {}
    it = iter(chk.components)
    for name, value in zip(chk.names, chk.point, strict=True):
        shape = np.shape(value)
        items = [_component(next(it)) for _ in range(int(np.prod(shape, dtype=np.int64)))]
        for n in reversed(shape[1:]):
            items = [items[i:i + n] for i in range(0, len(items), n)]
        components[name] = items[0] if not shape else items
    c = chk.counterexample
    return {
        "function": chk.function,
        "gradient": chk.gradient,
        "at": {n: jnum(v) for n, v in zip(chk.names, chk.point, strict=True)},
        "value": jnum(chk.value),
        "check": {
            "status": chk.status,
            "components": components,
            "search": {"points": chk.points, "judged": chk.searched, "drawn": chk.tried,
                       "outside": chk.outside, "programs": chk.structures}
            if chk.search else None,
            "counterexample": None if c is None else {
                "at": {n: jnum(v) for n, v in zip(chk.names, c.at, strict=True)},
                "given": c.given, "component": None if c.label is None else str(c.label),
                "yours": jnum(c.yours), "true": jnum(c.true), "error": jnum(c.error),
                "reason": c.reason or None},
            "notes": chk.notes,
            "rtol": chk.rtol,
            "atol": chk.atol,
        },
    }


# ---------------------------------------------------------------- --points --format jsonl


def write_lines(result: Result, out: Any) -> None:
    """--points with --format jsonl: one JSON object per row, on its own line (`row`, `line`,
    `file` with several files, `kept`, `at`, `value`, `gradient` (or `jacobian`), `check`), in
    row order; a column-wise batch is written by Arrow in chunks of rows, never whole."""
    from . import csv as csvr

    put, done = csvr.byte_sink(out)
    if result.mode == "rows":
        pts = result.points
        kept = {name: pts.kept_text(name) for name in pts.kept}
        for k, row in enumerate(result.rows or []):
            obj = {**_where(pts, k), "kept": {name: cells[k] for name, cells in kept.items()},
                   **document(row)}
            obj.pop("expression", None)
            put(dumps(obj, compact=True).encode())
    else:
        from ..batch import columns as cio

        pieces = _row_pieces(result)
        n = (result.batch or result.batches[0][1]).n  # type: ignore[index]
        for data in cio.json_lines(pieces, n):
            put(data)
    done()


def _where(pts: Any, k: int) -> dict[str, Any]:
    where: dict[str, Any] = {"row": k + 1}
    if pts.files is not None:
        where["file"] = pts.files[int(pts.file_of[k])]
    where["line"] = int(pts.lines[k])
    return where


def _row_pieces(result: Result) -> list[Any]:
    """The pieces of one row's JSON text (batch/columns.json_lines): literal text, and
    functions of a range of rows giving their cells, in the key order of _where and
    write_lines."""
    import pyarrow as pa

    from ..batch import columns as cio

    parts = result.batches or [(result.batch.output_name, result.batch, result.batch_check)]
    batch = parts[0][1]
    pts = batch.points
    key = json.dumps
    pieces: list[Any] = ['{"row":', lambda lo, hi: pa.array(np.arange(lo + 1, hi + 1))
                         .cast(pa.string())]
    if pts.files is not None:
        names = cio.json_strings(pa.array(pts.files, pa.string()))
        pieces += [',"file":', lambda lo, hi: names.take(pa.array(pts.file_of[lo:hi]))]
    pieces += [',"line":', lambda lo, hi: pa.array(pts.lines[lo:hi]).cast(pa.string())]

    def group(label: str, entries: list[tuple[str, Any]]) -> None:
        pieces.append(f',{key(label)}:{{' if label else "{")
        for j, (name, piece) in enumerate(entries):
            pieces.append(("," if j else "") + f"{key(name)}:")
            pieces.append(piece)
        pieces.append("}")

    def numbers(column: Any) -> Any:
        if column is None:
            return "null"
        if np.ndim(column) == 0:
            return dumps(jnum(column), compact=True).rstrip("\n")
        return lambda lo, hi: cio.json_numbers(np.asarray(column[lo:hi], dtype=np.float64))

    kept = {name: cio.json_strings(col) for name, col in pts.kept.items()}
    group("kept", [(name, lambda lo, hi, s=s: s.slice(lo, hi - lo)) for name, s in kept.items()])
    group("at", [(name, numbers(batch.inputs()[name])) for name in batch.names])
    if result.batches is None:
        pieces += [',"value":', numbers(batch.value)]
        group("gradient", [(w, numbers(g)) for w, g in batch.gradient.items()])
        pieces.append(',"check":')
        _check_pieces(pieces, result.batch_check, batch, key)
    else:
        group("value", [(name, numbers(b.value)) for name, b, _ in parts])
        pieces.append(',"jacobian":{')
        for j, (name, b, _) in enumerate(parts):
            pieces.append(("," if j else "") + f"{key(name)}:")
            group("", [(w, numbers(g)) for w, g in b.gradient.items()])
        pieces.append('},"check":{"status":')
        from ..batch.rows import RowStatuses

        overall = RowStatuses.combined([_row_status(c, b) for _, b, c in parts])
        pieces.append(lambda lo, hi: _words(overall[lo:hi]))
        pieces.append(',"outputs":{')
        for j, (name, b, c) in enumerate(parts):
            pieces.append(("," if j else "") + f"{key(name)}:")
            _check_pieces(pieces, c, b, key)
        pieces.append("}}")
    pieces.append("}")
    return pieces


def _check_pieces(pieces: list[Any], chk: Any, batch: Any, key: Any) -> None:
    """One row's check: {"status": ..., "partials": {name: status, ...}}, or the unchecked
    object of --no-check."""
    if chk is None:
        pieces.append(dumps(unchecked_json(), compact=True).rstrip("\n"))
        return
    status = _row_status(chk, batch)
    pieces += ['{"status":', lambda lo, hi: _words(status[lo:hi]), ',"partials":{']
    for j, (w, v) in enumerate(chk.partials.items()):
        pieces.append(("," if j else "") + f"{key(w)}:")
        pieces.append(f'"{v.status}"' if v.statuses is None else
                      lambda lo, hi, v=v: _words(v.statuses[lo:hi]))
    pieces.append("}}")


def _row_status(chk: Any, batch: Any) -> Any:
    """Each row's status (batch.rows.RowStatuses): the verdicts of its partials and value,
    combined by verdict.combine."""
    from ..batch.rows import RowStatuses

    n = batch.n
    if chk is None:
        return RowStatuses.full("skipped", n)
    return RowStatuses.combined([
        RowStatuses.full(v.status, n) if v.statuses is None else v.statuses
        for v in [*chk.partials.values(), *([chk.value] if chk.value else [])]])


def _words(statuses: np.ndarray) -> Any:
    """Status words as JSON strings (Arrow)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    return pc.binary_join_element_wise('"', pa.array(statuses.astype(str)), '"', "")


def _given_in(claim: Any) -> str:
    """Where a claim was given: `--claim`, or `FILE line N` of a claims file."""
    return "--claim" if claim.file is None else f"{claim.file} line {claim.line}"
