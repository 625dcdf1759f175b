"""Columnar batches: Arrow's CSV reader equals the reference reader, Arrow-formatted cells equal
Python's repr, Parquet round trips, and progress bars appear only on a terminal."""

from __future__ import annotations

import csv
import io
import math

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from gradcalc import progress
from gradcalc.batch import columns
from gradcalc.batch import rows as batch
from gradcalc.errors import InputError
from gradcalc.judge.result import Result
from gradcalc.lang.syntax import parse
from gradcalc.render.json import render as render_json
from gradcalc.render.json import write_batch
from gradcalc.render.words import option_words

# ---------------------------------------------------------------- cells: Arrow vs repr


def _awkward_floats() -> np.ndarray:
    rng = np.random.default_rng(11)
    bits = rng.integers(0, 2**64, size=200_000, dtype=np.uint64).view(np.float64)
    special = [0.0, -0.0, 1.0, -1.0, 0.1, 1e-4, 0.0001234, 9.999999999999999e-05, 1e-5,
               1.5e-5, 2.5e-7, 1e-9, 9.999999999999999e-10, 1e-10, 5e-324, -1e-300, 1e15,
               123456789012345.6, 9999999999999998.0, 1e16, 1.2345e16, 2.0**53, 1e21, 1e22,
               1e300, 1.7976931348623157e308, 1 / 3, math.nan, -math.nan, math.inf, -math.inf]
    whole = rng.integers(-10**17, 10**17, size=20_000).astype(float)
    small_whole = rng.integers(-1000, 1000, size=2_000).astype(float)
    decimals = np.round(rng.uniform(-1e6, 1e6, 20_000), 3)
    scales = rng.uniform(-1, 1, 50_000) * 10.0 ** rng.integers(-12, 20, 50_000)
    return np.concatenate([bits, special, whole, small_whole, decimals, scales])


def test_arrow_cells_equal_python_repr_for_every_kind_of_float() -> None:
    x = _awkward_floats()
    got = columns.repr_strings(x).to_pylist()
    want = [repr(v) for v in x.tolist()]
    bad = [(w, g) for w, g in zip(want, got, strict=True) if w != g]
    assert bad == []


def test_csv_rows_equal_the_csv_module_with_null_columns() -> None:
    rng = np.random.default_rng(3)
    a = rng.normal(size=1000) * 10.0 ** rng.integers(-8, 18, 1000)
    b = np.round(a)
    n = len(a)
    got = b"".join(bytes(c) for c in columns.csv_chunks([a, None, b], n, chunk=77)).decode()
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerows(zip(a.tolist(), [""] * n, b.tolist(), strict=True))
    assert got == out.getvalue()


# ---------------------------------------------------------------- CSV in: Arrow vs reference


def _both(tmp_path, body: str) -> tuple[batch.Points | str, batch.Points | str]:
    """The fast reader's result and the reference reader's (or their error messages)."""
    path = tmp_path / "p.csv"
    path.write_bytes(body.encode())

    def fail(message: str, line: int | None = None) -> InputError:
        return InputError(f"{line}: {message}")

    try:
        fast: batch.Points | str = batch.read_points(str(path))
    except InputError as exc:
        fast = exc.render(option_words)
    try:
        ref: batch.Points | str = batch._read_text(str(path), body.removeprefix("\ufeff"),
                                                     lambda m, line=None: InputError(
                                                         f"--points {path} line {line}: {m}"
                                                         if line is not None else
                                                         f"--points {path}: {m}"))
    except InputError as exc:
        ref = exc.render(option_words)
    return fast, ref


BODIES = [
    "x,y\n1,2\n3,4\n",
    "x,y\n1,2\n3,4",                      # no final newline
    "x,y\r\n1,2\r\n3,4\r\n",              # CRLF
    "\ufeffx,y\n1,2\n",                   # byte order mark
    " x , y \n 1 , 2 \n+3,.5\n1e5,-0\n1.,1E-3\n00012,1e-400\n",
    "x,y\n1,2\n\n3,4\n",                  # a blank line: line numbers skip it
    "x,y\n1,2\n3,4\n\n\n",                # trailing blank lines
    "\n\nx,y\n1,2\n",                     # blank lines before the header
    'x,y\n"1",2\n3,"4"\n',                # quoted cells
    "x,y\r1,2\r3,4\r",                    # bare CR line ends
    "x\n1\n  \n2\n",                      # a whitespace line in a one-column file
]

BAD = [
    "x,y\n1,2\n3,abc\n",
    "x,y\n1,2\n3\n",
    "x,y\n1,2\n3,4,5\n",
    "x,y\n1,2\n3,\n",
    "x,y\n1,2\n3,nan\n",
    "x,y\n1,inf\n",
    "x,y\n1,1e400\n",
    "x,y\n1,NA\n",
    "x,y\n1,1_0\n",
    "x,x\n1,2\n",
    "x,sin\n1,2\n",
    "x,1y\n1,2\n",
    "x,y\n",
    "",
]


@pytest.mark.parametrize("body", BODIES + BAD)
def test_arrow_reader_equals_reference_reader(tmp_path, body) -> None:
    fast, ref = _both(tmp_path, body)
    if isinstance(ref, str):
        assert fast == ref
        return
    assert isinstance(fast, batch.Points)
    assert fast.names == ref.names
    assert fast.lines.tolist() == ref.lines.tolist()
    for name in ref.names:
        assert fast.columns[name].tobytes() == ref.columns[name].tobytes()


def test_bad_cell_names_line_and_column_through_the_cli(gradcalc, points_file) -> None:
    rows = "".join(f"{k},{k + 1}\n" for k in range(5000))
    r = gradcalc("x*y", "--points", points_file("x,y\n" + rows + "3,abc\n" + rows))
    assert r.status == 2 and r.out == ""
    assert r.err.strip().endswith("line 5002: 'abc' is not a number (column 'y')")


def test_parsed_numbers_equal_python_float(tmp_path) -> None:
    rng = np.random.default_rng(8)
    x = rng.integers(0, 2**64, size=20_000, dtype=np.uint64).view(np.float64)
    x = x[np.isfinite(x)]
    texts = [repr(v) for v in x.tolist()] + [f"{v:.25e}" for v in x[:2000].tolist()] + \
            [f"{v:.3g}" for v in x[:2000].tolist()]
    path = tmp_path / "p.csv"
    path.write_text("x\n" + "\n".join(texts) + "\n")
    pts = batch.read_points(str(path))
    assert pts.columns["x"].tolist() == [float(t) for t in texts]


# ---------------------------------------------------------------- streamed = in memory


def test_streamed_batch_equals_the_in_memory_computation(gradcalc, points_file, tmp_path
                                                         ) -> None:
    """100,003 rows (several read blocks, replay chunks and write chunks) give byte for byte
    the CSV that per-row repr of the numpy formula's columns gives."""
    rng = np.random.default_rng(4)
    n = 100_003
    x, y = rng.uniform(-3, 3, n), rng.uniform(0.5, 4, n)
    body = "x,y\n" + "".join(f"{a!r},{b!r}\n" for a, b in zip(x.tolist(), y.tolist(),
                                                               strict=True))
    path = points_file(body)
    r = gradcalc("x*y + x^2", "--points", path, "--format", "csv", "--no-check")
    assert r.status == 0, r.err
    pts = batch._read_text(path, body, None)     # the reference reader
    b = batch.run_batch(parse("x*y + x^2"), pts, {}, None, None)
    want = io.StringIO()
    w = csv.writer(want, lineterminator="\n")
    w.writerow(["value", "d_x", "d_y"])
    w.writerows(zip(b.value.tolist(), b.gradient["x"].tolist(), b.gradient["y"].tolist(),
                    strict=True))
    assert r.out == want.getvalue()
    # and the columns are the closed forms
    rows = np.loadtxt(io.StringIO(r.out), delimiter=",", skiprows=1)
    assert np.array_equal(rows[:, 2], x)                      # d/dy = x exactly
    assert np.allclose(rows[:, 1], y + 2 * x, rtol=1e-15)


# ---------------------------------------------------------------- Parquet


def test_parquet_in_and_out_round_trip(gradcalc, tmp_path) -> None:
    rng = np.random.default_rng(9)
    n = 5000
    x = rng.uniform(-2, 2, n)
    k = rng.integers(-5, 5, n)                                # integers are numbers too
    pq.write_table(pa.table({"x": x, "k": k}), tmp_path / "in.parquet")
    out = tmp_path / "out.parquet"
    r = gradcalc("x*k + sin(x) + z", "--points", str(tmp_path / "in.parquet"), "--at", "z=2",
                 "--output", str(out), "--format", "csv", "--no-check")
    assert r.status == 0, r.err
    assert r.out == ""
    t = pq.read_table(out)
    assert t.column_names == ["value", "d_x", "d_k", "d_z"]
    assert np.allclose(t.column("value").to_numpy(), x * k + np.sin(x) + 2, rtol=1e-15)
    assert np.allclose(t.column("d_x").to_numpy(), k + np.cos(x), rtol=1e-15)
    assert t.column("d_k").to_numpy().tolist() == x.tolist()
    assert t.column("d_z").to_numpy().tolist() == [1.0] * n
    # the same table as CSV on stdout, and as a CSV file by extension
    csv_out = tmp_path / "out.csv"
    r2 = gradcalc("x*k + sin(x) + z", "--points", str(tmp_path / "in.parquet"), "--at",
                  "z=2", "--format", "csv", "--no-check")
    r3 = gradcalc("x*k + sin(x) + z", "--points", str(tmp_path / "in.parquet"), "--at",
                  "z=2", "--output", str(csv_out), "--no-check")
    assert r3.status == 0 and "points  5,000 rows" in r3.out
    assert csv_out.read_text() == r2.out
    rows = list(csv.reader(io.StringIO(r2.out)))[1:]
    assert [float(v) for v in (row[0] for row in rows)] == t.column("value").to_pylist()


def test_parquet_null_text_and_non_finite_are_errors(gradcalc, tmp_path) -> None:
    cases = [({"x": pa.array([1.0, None, 3.0])}, "row 2: missing value for 'x'"),
             ({"x": pa.array([1.0, 2.0, math.inf])}, "row 3: the value of 'x' is not finite"),
             ({"x": pa.array(["a", "b"])}, "column 'x' holds string, not numbers")]
    for table, message in cases:
        path = tmp_path / "bad.parquet"
        pq.write_table(pa.table(table), path)
        r = gradcalc("x^2", "--points", str(path))
        assert r.status == 2 and r.out == "" and message in r.err, r.err
    (tmp_path / "junk.parquet").write_text("not parquet")
    r = gradcalc("x^2", "--points", str(tmp_path / "junk.parquet"))
    assert r.status == 2 and r.out == "" and "Parquet" in r.err


def test_output_needs_points_and_a_writable_place(gradcalc, points_file, tmp_path) -> None:
    r = gradcalc("x^2", "--at", "x=1", "--output", str(tmp_path / "o.parquet"))
    assert r.status == 2 and "--output needs --points" in r.err
    r = gradcalc("x^2", "--points", points_file("x\n1\n"), "--output",
                 str(tmp_path / "nowhere" / "o.parquet"))
    assert r.status == 2 and r.out == "" and "cannot write" in r.err


def test_missing_pyarrow_is_a_clear_error(gradcalc, tmp_path, monkeypatch) -> None:
    import builtins

    real = builtins.__import__

    def no_arrow(name, *args, **kwargs):
        if name == "pyarrow" or name.startswith("pyarrow."):
            raise ImportError(name)
        return real(name, *args, **kwargs)

    pq.write_table(pa.table({"x": [1.0]}), tmp_path / "in.parquet")
    monkeypatch.setattr(builtins, "__import__", no_arrow)
    r = gradcalc("x^2", "--points", str(tmp_path / "in.parquet"))
    assert r.status == 2 and r.out == ""
    assert "needs pyarrow" in r.err and "pip install pyarrow" in r.err


# ---------------------------------------------------------------- progress


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_only_on_a_terminal(monkeypatch) -> None:
    monkeypatch.setattr(progress, "DELAY", 0.0)
    monkeypatch.setattr(progress, "REDRAW", 0.0)
    tty, pipe = _Tty(), io.StringIO()
    for stream in (tty, pipe):
        with progress.Progress("replaying tape", 1000, stream=stream) as bar:
            bar.update(250)
            bar.update(250)
    shown = tty.getvalue()
    assert "replaying tape" in shown and "50%" in shown and "rows/s" in shown
    assert "ETA" in shown
    assert shown.endswith("\r")                    # erased at the end
    assert pipe.getvalue() == ""


def test_batch_shows_progress_on_a_terminal_stderr_not_stdout(gradcalc, points_file,
                                                               monkeypatch) -> None:
    monkeypatch.setattr(progress, "DELAY", 0.0)
    monkeypatch.setattr(progress, "REDRAW", 0.0)
    seen: list[str] = []

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

        def write(self, s: str) -> int:
            seen.append(s)
            return len(s)

    monkeypatch.setattr("sys.stderr", Tty())
    body = "x\n" + "".join(f"{k}\n" for k in range(70_000))
    r = gradcalc("x^2", "--points", points_file(body), "--format", "csv")
    assert r.status == 0
    text = "".join(seen)
    for phase in ("reading", "replaying tape", "checking", "writing CSV"):
        assert phase in text
    assert "ETA" in text and "rows/s" in text
    assert "replaying" not in r.out and "\r" not in r.out


def test_without_pyarrow_csv_in_and_out_still_work(gradcalc, points_file, monkeypatch) -> None:
    import builtins

    body = "x,y\n1,2\n0.1,1e-7\n3,4\n"
    with_arrow = gradcalc("x*y", "--points", points_file(body), "--format", "csv",
                          "--no-check")
    real = builtins.__import__

    def no_arrow(name, *args, **kwargs):
        if name == "pyarrow" or name.startswith("pyarrow."):
            raise ImportError(name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_arrow)
    without = gradcalc("x*y", "--points", points_file(body), "--format", "csv", "--no-check")
    assert without.status == 0 and without.out == with_arrow.out
    assert without.out.splitlines()[2] == f"{0.1 * 1e-7!r},{1e-7!r},{0.1!r}"


def test_json_arrays_made_by_arrow_equal_json_dumps(tmp_path) -> None:
    import json

    x = _awkward_floats()[:50_000]
    n = len(x)
    pts = batch.Points("t", ["x"], {"x": np.zeros(n)}, np.arange(2, n + 2))
    b = batch.run_batch(parse("x"), pts, {}, None, None)
    b.value = x
    b.gradient["x"] = np.where(np.isfinite(x), -x, 1.0)
    got = render_json(Result(b.program, batch=b))
    want = json.dumps({"value": [v if math.isfinite(v) else str(v) for v in x.tolist()]})
    assert json.loads(got)["value"] == json.loads(want)["value"]
    # byte for byte: the same object built the plain way
    plain = dict(json.loads(got))
    assert got == json.dumps({**plain, "value": [v if math.isfinite(v) else
                                                 ("nan" if math.isnan(v) else
                                                  "inf" if v > 0 else "-inf")
                                                 for v in x.tolist()],
                              "gradient": {"x": b.gradient["x"].tolist()}},
                             allow_nan=False) + "\n"
    # written as it is made (4 chunks of rows per array), the same bytes
    sink = io.BytesIO()
    write_batch(Result(b.program, batch=b), sink)
    assert sink.getvalue().decode() == got


def test_missing_dask_is_a_clear_error(gradcalc, points_file, tmp_path, monkeypatch) -> None:
    import builtins

    real = builtins.__import__

    def no_dask(name, *args, **kwargs):
        if name == "dask" or name.startswith("dask.") or name == "distributed":
            raise ImportError(name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_dask)
    r = gradcalc("x^2", "--points", points_file("x\n1\n"), "--dask", "local", "--output",
                 str(tmp_path / "o"), "--no-check")
    assert r.status == 2 and r.out == ""
    assert "needs Dask" in r.err and "pip install -e '.[dask]'" in r.err
    r = gradcalc("x^2", "--at", "x=1", "--dask", "local")
    assert r.status == 2 and "--dask needs --points" in r.err


@pytest.mark.parametrize("piece", [7, 64, 1 << 21])
def test_pieces_cut_at_line_ends_from_a_file_and_from_stdin(tmp_path, monkeypatch, piece
                                                            ) -> None:
    monkeypatch.setattr(columns, "PIECE", piece)
    monkeypatch.setattr(batch, "_read_text", lambda *a: pytest.fail("not the Arrow reader"))
    rng = np.random.default_rng(12)
    x = rng.normal(size=3000) * 10.0 ** rng.integers(-30, 30, 3000)
    body = "x,y\n" + "".join(f"{a!r},{k}\n" for k, a in enumerate(x.tolist()))
    path = tmp_path / "p.csv"
    path.write_text(body)
    from_file = batch.read_points(str(path))
    from_stdin = batch.read_points("-", io.TextIOWrapper(io.BytesIO(body.encode())))
    for pts in (from_file, from_stdin):
        assert pts.columns["x"].tolist() == x.tolist()
        assert pts.columns["y"].tolist() == list(range(3000))
        assert pts.lines.tolist() == list(range(2, 3002))
