"""The JSON renderer: one strict JSON object per call (non-finite numbers as "nan", "inf",
"-inf"), for every mode of the result model (judge/result.py)."""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from ..judge.result import Result
from ..judge.verdict import status_of
from . import report
from .report import jnum


def render(result: Result, show_tape: bool = False, compact: bool = False) -> str:
    """The JSON text of a result, with a final newline; compact: on one line (--format jsonl).
    A --points batch is written on one line in either case (its arrays can be long)."""
    mode = result.mode
    if mode == "batch":
        return _batch(result)
    if mode == "dask":
        return json.dumps(result.dask) + "\n"
    return dumps(document(result, show_tape), compact)


def dumps(obj: Any, compact: bool = False) -> str:
    """Strict JSON text of an object with a final newline: indented, or on one line."""
    if compact:
        return json.dumps(obj, separators=(",", ":"), allow_nan=False) + "\n"
    return json.dumps(obj, indent=2, allow_nan=False) + "\n"


def document(result: Result, show_tape: bool = False) -> dict[str, Any]:
    """The JSON object of a result at one point (or of each row of a --points run)."""
    mode = result.mode
    if mode == "rows":
        return _rows(result, show_tape)
    if mode == "jacobian":
        from . import higher

        assert result.jacobian is not None
        return higher.jacobian_json(result.jacobian, result.checks, show_tape)
    if mode == "hessian":
        from . import higher

        assert result.run is not None and result.hessian is not None
        return higher.hessian_json(result.run, result.check, result.hessian,
                                   result.hessian_check, show_tape)
    if mode == "claims":
        from . import claims

        assert result.verification is not None
        return claims.claims_only_json(result.program, result.verification, result.of)
    assert result.run is not None
    obj = report.json_object(result.run, result.check, show_tape)
    if result.verification is not None:
        from . import claims

        claims.extend(obj["check"], result.verification)
    return obj


def _rows(result: Result, show_tape: bool) -> dict[str, Any]:
    """--points in a mode computed point by point: the points, then one object per row, each
    the one-point JSON object at that row's bindings (without the expression)."""
    pts = result.points
    rows = []
    for row in result.rows or []:
        obj = document(row, show_tape)
        obj.pop("expression", None)
        rows.append(obj)
    return {"expression": result.program.source,
            "points": {"file": pts.where, "rows": pts.n, "names": pts.names},
            "rows": rows}


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

    cells = cio.repr_strings(x)
    if not np.all(np.isfinite(x)):
        cells = pc.binary_join_element_wise(
            pc.if_else(pa.array(np.isfinite(x)), "", '"'), cells,
            pc.if_else(pa.array(np.isfinite(x)), "", '"'), "")
    whole = pa.ListArray.from_arrays(pa.array([0, len(cells)], pa.int32()), cells)
    return "[" + pc.binary_join(whole, ", ")[0].as_py() + "]"


def _verdict_json(v: Any) -> dict[str, Any]:
    worst = None if v.worst is None else {k: x if k in ("row", "line") else jnum(x)
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
    import secrets

    spliced: list[str] = []          # arrays' JSON text, put in place of their markers
    mark = "array-" + secrets.token_hex(8)

    def array(x: np.ndarray | None) -> Any:
        if x is None or len(x) < 1000:
            return _jarray(x)
        try:
            spliced.append(_jarray_text(np.asarray(x, dtype=np.float64)))
        except ImportError:
            return _jarray(x)
        return f"{mark} {len(spliced) - 1}"

    parts = result.batches or [(result.batch.output_name, result.batch, result.batch_check)]
    batch = parts[0][1]
    obj: dict[str, Any] = {
        "expression": batch.program.source,
        "points": {"file": batch.points.where, "rows": batch.n, "names": batch.points.names},
        "at": {n: jnum(v) for n, v in batch.at.items()},
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
                    "check": {"status": status_of(
                        "skipped" if c is None else c.status for _, _, c in parts),
                        "outputs": {name: _batch_check(c) for name, _, c in parts}}})
    text_ = json.dumps(obj, indent=None, allow_nan=False) + "\n"
    if not spliced:
        return text_
    pieces = text_.split(f'"{mark} ')
    out = [pieces[0]]
    for piece in pieces[1:]:
        k, rest = piece.split('"', 1)
        out += [spliced[int(k)], rest]
    return "".join(out)
