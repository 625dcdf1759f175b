"""The CSV renderer: the contract's header and one row per point (value, d_<name>, ...), for
every mode of the result model (judge/result.py); --output files (CSV or Parquet)."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, BinaryIO, TextIO

from ..engine import vectors
from ..errors import InputError
from ..judge.result import Result, column_names, hessian_names, output_columns
from .report import csv_cell

if TYPE_CHECKING:
    from ..engine.evaluate import Run


def render(result: Result) -> str:
    """The CSV text of a result at one point or computed point by point over --points:
    a header, then one row per point (a Jacobian at one point: one row per output)."""
    mode = result.mode
    if mode == "jacobian":
        assert result.jacobian is not None
        return jacobian(result.jacobian)
    if mode == "code":
        return code(result)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    rows = result.rows if mode == "rows" else [result]
    assert rows is not None
    pts = result.points if mode == "rows" else None
    kept = {} if pts is None else {name: pts.kept_text(name) for name in pts.kept}
    if rows:
        w.writerow([*kept, *row_columns(rows[0])])
    for k, row in enumerate(rows):
        w.writerow([cells[k] for cells in kept.values()]
                   + [csv_cell(v) for v in row_values(row)])
    return buf.getvalue()


def row_columns(result: Result) -> list[str]:
    """The columns of a point's row: value and d_<name> (a vector component d_w[0]); with
    --hessian then h_<i>_<j>; with several --of outputs <output>,d_<output>_<name> each."""
    if result.jacobian is not None:
        labels = _labels(result.jacobian[0])
        return [c for r in result.jacobian for c in output_columns(r.output_name or "value",
                                                                   labels)]
    assert result.run is not None
    names = column_names(_labels(result.run))
    if result.hessian is not None:
        names += hessian_names(result.hessian.names)
    return names


def row_values(result: Result) -> list[Any]:
    """The numbers of a point's row, in row_columns' order (None: null)."""
    runs = result.jacobian if result.jacobian is not None else [result.run]
    values: list[Any] = []
    for r in runs:
        assert r is not None
        values.append(r.value)
        values += [g for _, g in vectors.components(r.wrt, r.bindings, r.gradient())]
    h = result.hessian
    if h is not None:
        values += [h.matrix[i][j] for i in h.names for j in h.names]
    return values


def _labels(run: Any) -> list[str]:
    return [label for label, _ in vectors.components(run.wrt, run.bindings, run.gradient())]


def jacobian(rows: Sequence[Run]) -> str:
    """Header `output,value,d_<name>...` and one row per output."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    names = rows[0].wrt if rows else []
    w.writerow(["output"] + column_names(names))
    for r in rows:
        grad = r.gradient()
        w.writerow([r.output_name] + [csv_cell(r.value)] + [csv_cell(grad[n]) for n in names])
    return buf.getvalue()


# ---------------------------------------------------------------- --points columns


def batch_columns(result: Result) -> tuple[list[str], list[Any]]:
    """A column-wise --points result's header and columns: the kept columns as read (Arrow
    arrays), then the value and partials (float64; None: a null partial)."""
    points = (result.batch or result.batches[0][1]).points
    names: list[str] = list(points.kept)
    cols: list[Any] = list(points.kept.values())
    if result.batches is None:
        b = result.batch
        return names + column_names(b.wrt), cols + [b.value] + [b.gradient[w] for w in b.wrt]
    for name, b, _ in result.batches:
        names += output_columns(name, b.wrt)
        cols += [b.value] + [b.gradient[w] for w in b.wrt]
    return names, cols


def write(result: Result, out: TextIO | BinaryIO, chunk: int = 1 << 13) -> None:
    """A column-wise --points result as CSV: the header and one row per input row, written in
    chunks of rows as they are formatted (by Arrow, see batch/columns.py), so the text of the
    whole table is never held. (Two threads were no faster on two cores, and held more
    memory.)"""
    from ..batch import columns as cio
    from ..progress import Progress

    names, cols = batch_columns(result)
    kept = len((result.batch or result.batches[0][1]).points.kept)  # type: ignore[index]
    put, done = byte_sink(out)
    put(_line(names).encode())
    n = len(cols[kept])
    try:
        import pyarrow  # noqa: F401
        arrow = True
        cols = [cio.csv_quoted(cio.text_strings(c)) for c in cols[:kept]] + cols[kept:]
    except ImportError:  # a broken install: per-cell repr, slower, the same text
        arrow = False
        cols = [[_line([t]).rstrip("\n") for t in cio.text_list(c)] for c in cols[:kept]] + \
            cols[kept:]
    with Progress("writing CSV", n) as bar:
        for lo in range(0, n, chunk):
            hi = min(n, lo + chunk)
            part = [None if c is None else c[lo:hi] for c in cols]
            if arrow:
                for data in cio.csv_chunks(part, hi - lo, chunk):
                    put(data)
            else:
                cells = [[""] * (hi - lo) if c is None else c if isinstance(c, list) else
                         [repr(v) for v in c.tolist()] for c in part]
                put("".join(",".join(r) + "\n" for r in zip(*cells, strict=True)).encode())
            bar.update(hi - lo)
    done()


def byte_sink(out: TextIO | BinaryIO) -> tuple[Callable[[Any], None], Callable[[], None]]:
    """(put, done) for writing bytes to out: to a text stream's bytes layer when it has one
    (its pending text first), else decoded; done() flushes what put wrote."""
    binary: Any = out
    if hasattr(out, "encoding"):  # a text stream: write to its bytes layer, if it has one
        binary = out.buffer if hasattr(out, "buffer") else None
    if binary is not None and binary is not out:
        out.flush()  # the text layer's pending writes go first

    def put(data: Any) -> None:
        if binary is not None:
            binary.write(data)
        else:
            out.write(bytes(data).decode("utf-8"))  # type: ignore[arg-type]

    def done() -> None:
        if binary is not None and binary is not out:
            binary.flush()

    return put, done


def _line(cells: Sequence[str]) -> str:
    """One CSV line, quoted as the csv module quotes."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(cells)
    return buf.getvalue()


def writable(path: str) -> None:
    """An --output path's problems before any work: its directory, and pyarrow for Parquet."""
    from ..batch import columns as cio

    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise InputError(f"--output: cannot write {path}: no directory {folder}")
    if os.path.isdir(path):
        raise InputError(f"--output: {path} is a directory")
    if cio.is_parquet(path):
        cio.need_pyarrow("--output " + path)


def write_table(result: Result, path: str) -> None:
    """--output FILE: the CSV's columns as Parquet (.parquet, .pq) or as the contract's CSV."""
    from ..batch import columns as cio

    try:
        if cio.is_parquet(path):
            names, cols = batch_columns(result)
            cio.write_parquet(path, names, cols, len(cols[0]))
        else:
            with open(path, "wb") as fh:
                write(result, fh)
    except OSError as exc:
        raise InputError(f"--output: cannot write {path}: {exc.strerror or exc}") from None


def code(result: Result) -> str:
    """--function with --grad: one row per component of the gradient at the --at point:
    component, yours, true, error, status."""
    chk = result.code
    assert chk is not None
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["component", "yours", "true", "error", "status"])
    for v in chk.components:
        w.writerow([str(v.label), csv_cell(v.yours), csv_cell(v.true), csv_cell(v.error),
                    v.status])
    return buf.getvalue()
