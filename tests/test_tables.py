"""Everyday tables: what `--points` and `--at X=@file.csv` make of the files people have.

Text and id columns pass through to the output, only columns the program reads are variables
(`--use`, `--keep` to choose), `;` and tab separators, a directory or glob of files without
Dask, one JSON object per row with `--format jsonl`; and the number syntax, the text encoding
and the integer range that both readers share (engine/datafile.py). Expected values come from
closed forms of the formulas, Python's float() on the plain ASCII spelling, or the `--format
json` output of the same call (for the row-per-line form).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from gradcalc.batch import rows as batch
from gradcalc.errors import InputError
from gradcalc.render.words import option_words


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def _one_error(r, *needles: str) -> str:
    assert r.status == 2 and r.out == "", (r.status, r.out, r.err)
    assert r.err.startswith("error: ") and "Traceback" not in r.err
    for needle in needles:
        assert needle in r.err, r.err
    return r.err


# ---------------------------------------------------------------- one number syntax


OTHER_DIGITS = ["1_0", "\u0663", "\uff11", "1__0", "0x10", "1e5_0", "\u0661\u0662", "\u00bd",
                "1\u00a0000"]
PLAIN = [" 1 ", "+1", "-0", "1.", ".5", "-1e-3", "2E+2", "007", "1.5e0"]


@pytest.mark.parametrize("cell", OTHER_DIGITS)
def test_points_refuses_numbers_outside_the_documented_syntax(gradcalc, points_file,
                                                               cell) -> None:
    # Python's float() reads '1_0' as 10, '\u0663' (Arabic-Indic three) as 3, '\uff11' as 1
    r = gradcalc("x", "--points", points_file(f"x\n1\n{cell}\n"), "--format", "csv")
    _one_error(r, "line 3:", f"'{cell.strip()}' is not a number (column 'x')")


@pytest.mark.parametrize("cell", OTHER_DIGITS)
def test_at_file_refuses_numbers_outside_the_documented_syntax(gradcalc, tmp_path,
                                                                cell) -> None:
    path = tmp_path / "m.csv"
    path.write_text(f"1,2\n3,{cell}\n", encoding="utf-8")
    r = gradcalc("sum(X)", "--at", f"X=@{path}", "--no-check")
    _one_error(r, "line 2, column 2:", f"'{cell.strip()}' is not a number")


@pytest.mark.parametrize("cell", PLAIN)
def test_both_readers_read_the_documented_syntax_alike(gradcalc, points_file, tmp_path,
                                                       cell) -> None:
    want = float(cell)  # the plain ASCII spelling: float() is the reference here
    r = gradcalc("x", "--points", points_file(f"x\n{cell}\n"), "--format", "json",
                 "--no-check")
    assert r.status == 0, r.err
    assert r.json()["value"] == [want]
    path = tmp_path / "v.csv"
    path.write_text(f"{cell}\n{cell}\n")
    r = gradcalc("sum(X)", "--at", f"X=@{path}", "--format", "json", "--no-check")
    assert r.status == 0, r.err
    assert r.json()["at"]["X"] == [want, want]


@pytest.mark.parametrize("cell", OTHER_DIGITS + PLAIN + ["nan", "inf", "-Infinity", "1e999",
                                                         "", "abc", "1,5"])
def test_fast_and_reference_readers_agree_on_every_cell(tmp_path, cell) -> None:
    """Arrow's reader (the fast path) and the reference reader accept and refuse the same
    cells, with the same words."""
    body = f"x;y\n1;{cell}\n"
    path = tmp_path / "p.csv"
    path.write_text(body, encoding="utf-8")

    def fail(message: str, line: int | None = None) -> InputError:
        return InputError(f"--points {path}" + (f" line {line}: " if line else ": ") + message)

    def read(how):
        try:
            pts = how()
        except InputError as exc:
            return exc.render(option_words)
        return pts.names, pts.columns["y"].tolist()

    fast = read(lambda: batch.read_points(str(path)))
    ref = read(lambda: batch._read_text(str(path), body, fail))
    assert fast == ref


def test_at_file_with_a_latin1_byte_is_one_error_line(gradcalc, tmp_path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes(b"1,2\n3,\xe94\n")
    err = _one_error(gradcalc("sum(X)", "--at", f"X=@{path}"),
                     "not UTF-8 text (line 2, byte 7: 0xe9)", "save the file as UTF-8")
    assert "UnicodeDecodeError" not in err


def test_points_with_a_latin1_byte_names_the_line(gradcalc, tmp_path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes(b"x,name\n1,abc\n2,caf\xe9\n")
    _one_error(gradcalc("x", "--points", str(path)), "not UTF-8 text (line 3, byte 19: 0xe9)")


def test_a_byte_order_mark_is_read_by_both_readers(gradcalc, tmp_path) -> None:
    at = tmp_path / "bom.csv"
    at.write_bytes(b"\xef\xbb\xbf1,2\n3,4\n")
    r = gradcalc("sum(X)", "--at", f"X=@{at}", "--format", "json", "--no-check")
    assert r.status == 0, r.err
    assert r.json()["at"]["X"] == [[1.0, 2.0], [3.0, 4.0]] and r.json()["value"] == 10.0
    points = tmp_path / "bom_points.csv"
    points.write_bytes(b"\xef\xbb\xbfx,y\n1,2\n3,4\n")
    r = gradcalc("x*y", "--points", str(points), "--format", "json", "--no-check")
    assert r.status == 0 and r.json()["value"] == [2.0, 12.0]


def test_an_at_file_that_is_a_device_is_refused(gradcalc) -> None:
    if not os.path.exists("/dev/zero"):
        pytest.skip("no /dev/zero")
    _one_error(gradcalc("sum(X)", "--at", "X=@/dev/zero"), "a device, not a file")


def test_a_digit_of_another_script_in_an_expression_is_an_error(gradcalc) -> None:
    # the tokenizer's \d matched any Unicode digit and then failed with a KeyError
    _one_error(gradcalc("x*\u0663", "--at", "x=1"), "unexpected character", "write 3")
    _one_error(gradcalc("x", "--at", "x=\uff11"), "unexpected character", "write 1")


# ---------------------------------------------------------------- Parquet integers


def test_parquet_integer_beyond_2_53_is_named_not_called_unreadable(gradcalc, tmp_path
                                                                     ) -> None:
    path = tmp_path / "big.parquet"
    pq.write_table(pa.table({"x": pa.array([1, 2**53 + 1], pa.int64())}), path)
    err = _one_error(gradcalc("x", "--points", str(path)),
                     "row 2: 9007199254740993 in column 'x' is not exactly a float64")
    assert "not a readable Parquet file" not in err


def test_parquet_integers_a_float64_holds_exactly_are_read(gradcalc, tmp_path) -> None:
    values = [2**53, -(2**53), 2**60, -(2**62), 2**63 - 2**11]   # all exact in float64
    path = tmp_path / "exact.parquet"
    pq.write_table(pa.table({"x": pa.array(values, pa.int64())}), path)
    r = gradcalc("x", "--points", str(path), "--format", "json", "--no-check")
    assert r.status == 0, r.err
    assert r.json()["value"] == [float(v) for v in values]
    assert all(int(v) == w for v, w in zip(r.json()["value"], values, strict=True))


def test_a_parquet_id_column_passes_through_unrounded(gradcalc, tmp_path) -> None:
    path = tmp_path / "ids.parquet"
    ids = [2**53 + 1, 2**62 + 3]
    pq.write_table(pa.table({"id": pa.array(ids, pa.int64()), "x": [1.5, 2.0]}), path)
    r = gradcalc("x^2", "--points", str(path), "--format", "csv", "--no-check")
    assert r.status == 0, r.err
    assert _rows(r.out) == [["id", "value", "d_x"], [str(ids[0]), "2.25", "3.0"],
                            [str(ids[1]), "4.0", "4.0"]]
    out = tmp_path / "out.parquet"
    r = gradcalc("x^2", "--points", str(path), "--output", str(out), "--no-check")
    assert r.status == 0, r.err
    t = pq.read_table(out)
    assert t.column_names == ["id", "value", "d_x"]
    assert t.schema.field("id").type == pa.int64() and t.column("id").to_pylist() == ids


# ---------------------------------------------------------------- kept columns


PEOPLE = 'id,name,x,y\n7,alpha,1.50,2\n8,"beta, b",3,4\n9,Zürich "Z",-1,0.5\n'


def test_text_and_id_columns_pass_through_and_bind_nothing(gradcalc, points_file) -> None:
    r = gradcalc("x^2*y", "--points", points_file(PEOPLE), "--format", "csv")
    assert r.status == 0, r.err
    rows = _rows(r.out)
    assert rows[0] == ["id", "name", "value", "d_x", "d_y"]  # no d_id: id is not read
    assert [row[:2] for row in rows[1:]] == [["7", "alpha"], ["8", "beta, b"],
                                            ["9", 'Zürich "Z"']]
    for row, (x, y) in zip(rows[1:], [(1.5, 2.0), (3.0, 4.0), (-1.0, 0.5)], strict=True):
        assert [float(v) for v in row[2:]] == [x * x * y, 2 * x * y, x * x]


def test_kept_columns_in_text_and_json(gradcalc, points_file) -> None:
    path = points_file(PEOPLE)
    text = gradcalc("x^2*y", "--points", path).out
    assert "  row  id  name        x    y    value  d/dx  d/dy" in text
    assert '  3    9   Zürich "Z"  -1   0.5  0.5    -1    1' in text
    obj = gradcalc("x^2*y", "--points", path, "--format", "json").json()
    assert obj["points"]["names"] == ["x", "y"] and obj["points"]["kept"] == ["id", "name"]
    assert obj["kept"] == {"id": ["7", "8", "9"], "name": ["alpha", "beta, b", 'Zürich "Z"']}
    assert list(obj["gradient"]) == ["x", "y"]


@pytest.mark.parametrize("options, header, first", [
    (["--keep", "name"], ["name", "value", "d_x", "d_y"], ["alpha"]),
    (["--keep", "name,id"], ["name", "id", "value", "d_x", "d_y"], ["alpha", "7"]),
    (["--keep", ""], ["value", "d_x", "d_y"], []),
    (["--keep", "id,x"], ["id", "x", "value", "d_x", "d_y"], ["7", "1.50"]),  # as written
    (["--use", "x,y,id", "--keep", "name"], ["name", "value", "d_id", "d_x", "d_y"],
     ["alpha"]),
])
def test_keep_and_use_choose_the_columns(gradcalc, points_file, options, header,
                                         first) -> None:
    r = gradcalc("x^2*y", "--points", points_file(PEOPLE), *options, "--format", "csv")
    assert r.status == 0, r.err
    rows = _rows(r.out)
    assert rows[0] == header
    assert rows[1][:len(first)] == first
    assert float(rows[1][len(first)]) == 1.5 ** 2 * 2


@pytest.mark.parametrize("options, needles", [
    (["--keep", "nmae"], ["--keep names 'nmae', which is not a column", "did you mean name?"]),
    (["--use", "x,z"], ["--use names 'z', which is not a column (columns: id, name, x, y)"]),
    (["--use", "x"], ["'y' is not bound: --points", "no column 'y'"]),
    (["--use", "x,y,name"], ["line 2: 'alpha' is not a number (column 'name')"]),
])
def test_keep_and_use_errors_name_the_column(gradcalc, points_file, options, needles) -> None:
    _one_error(gradcalc("x^2*y", "--points", points_file(PEOPLE), *options), *needles)


def test_keep_and_use_need_points(gradcalc) -> None:
    _one_error(gradcalc("x", "--at", "x=1", "--keep", "id"), "--keep needs --points")
    _one_error(gradcalc("x", "--at", "x=1", "--use", "x"), "--use needs --points")


def test_a_kept_column_may_not_take_an_output_name(gradcalc, points_file) -> None:
    _one_error(gradcalc("x^2", "--points", points_file("value,x\n1,2\n")),
               "the column 'value' would be kept beside an output column")
    r = gradcalc("x^2", "--points", points_file("value,x\n1,2\n"), "--keep", "",
                 "--format", "csv")
    assert r.status == 0 and _rows(r.out) == [["value", "d_x"], ["4.0", "4.0"]]


def test_a_name_that_differs_by_case_gets_a_hint(gradcalc, points_file) -> None:
    _one_error(gradcalc("x*y", "--points", points_file("X,y\n1,2\n")),
               "'x' is not bound", "rename the column 'X' to x")


def test_kept_columns_point_by_point(gradcalc, points_file) -> None:
    r = gradcalc("x^2*y", "--points", points_file(PEOPLE), "--hessian", "--format", "csv")
    assert r.status == 0, r.err
    rows = _rows(r.out)
    assert rows[0][:4] == ["id", "name", "value", "d_x"]
    assert rows[2][:2] == ["8", "beta, b"] and float(rows[2][2]) == 36.0
    obj = gradcalc("x^2*y", "--points", points_file(PEOPLE), "--hessian",
                   "--format", "json").json()
    assert obj["kept"]["name"][2] == 'Zürich "Z"'


def test_kept_columns_without_pyarrow(gradcalc, points_file, monkeypatch) -> None:
    import builtins

    with_arrow = gradcalc("x^2*y", "--points", points_file(PEOPLE), "--format", "csv",
                          "--no-check")
    real = builtins.__import__

    def no_arrow(name, *args, **kwargs):
        if name == "pyarrow" or name.startswith("pyarrow."):
            raise ImportError(name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_arrow)
    without = gradcalc("x^2*y", "--points", points_file(PEOPLE), "--format", "csv",
                       "--no-check")
    assert without.status == 0 and without.out == with_arrow.out


# ---------------------------------------------------------------- separators


@pytest.mark.parametrize("sep, word", [(";", "semicolons"), ("\t", "tabs")])
def test_semicolon_and_tab_separators_are_detected(gradcalc, points_file, sep, word) -> None:
    comma = gradcalc("x*y", "--points", points_file(PEOPLE), "--format", "csv")
    body = PEOPLE.replace('"beta, b"', "beta b").replace(",", sep)
    other = gradcalc("x*y", "--points", points_file(body), "--format", "csv")
    assert other.status == 0, other.err
    assert _rows(other.out)[1:] == [r[:1] + ([r[1].replace(",", "")]) + r[2:]
                                    for r in _rows(comma.out)[1:]]
    text = gradcalc("x*y", "--points", points_file(body)).out
    assert f"columns separated by {word}" in " ".join(text.split("\n\n")[0].split())


def test_a_decimal_comma_in_a_semicolon_file_gets_a_hint(gradcalc, points_file) -> None:
    _one_error(gradcalc("x*y", "--points", points_file("x;y\n1,5;2\n")),
               "line 2: '1,5' is not a number (column 'x')", "a decimal comma? write 1.5")


def test_at_file_with_semicolons_or_tabs(gradcalc, tmp_path) -> None:
    for sep in (";", "\t"):
        path = tmp_path / "m.csv"
        path.write_text(f"1{sep}2\n3{sep}4\n")
        r = gradcalc("sum(X)", "--at", f"X=@{path}", "--format", "json", "--no-check")
        assert r.status == 0 and r.json()["at"]["X"] == [[1.0, 2.0], [3.0, 4.0]]


# ---------------------------------------------------------------- several files


@pytest.fixture
def folder(tmp_path) -> Path:
    d = tmp_path / "data"
    d.mkdir()
    (d / "b.csv").write_text("id,x\nb1,3\nb2,4\n")
    (d / "a.csv").write_text("id,x\na1,1\na2,2\n")
    (d / "c.csv").write_text("id,x\nc1,5\n")
    (d / "notes.txt").write_text("not a table")
    return d


def test_a_directory_is_one_table_in_sorted_file_order(gradcalc, folder, tmp_path) -> None:
    whole = tmp_path / "whole.csv"
    whole.write_text("id,x\na1,1\na2,2\nb1,3\nb2,4\nc1,5\n")
    one = gradcalc("x^3", "--points", str(whole), "--format", "csv")
    for spec in (str(folder), str(folder / "*.csv")):
        r = gradcalc("x^3", "--points", spec, "--format", "csv")
        assert r.status == 0, r.err
        assert r.out == one.out
        assert [row[0] for row in _rows(r.out)[1:]] == ["a1", "a2", "b1", "b2", "c1"]
    text = gradcalc("x^3", "--points", str(folder)).out
    assert text.startswith(f"points  5 rows from {folder} (3 files)")


def test_several_files_name_the_file_and_line(gradcalc, folder) -> None:
    (folder / "b.csv").write_text("id,x\nb1,3\nb2,oops\n")
    _one_error(gradcalc("x^3", "--points", str(folder)),
               f"--points {folder / 'b.csv'} line 3: 'oops' is not a number (column 'x')")
    (folder / "b.csv").write_text("id,y\nb1,3\n")
    _one_error(gradcalc("x^3", "--points", str(folder)),
               f"--points {folder / 'b.csv'}: columns", "differ from those of")
    r = gradcalc("sqrt(x - 2)", "--points", str(folder / "[ac].csv"), "--format", "csv")
    assert r.status == 3 and f"row 1 ({folder / 'a.csv'} line 2)" in r.err


def test_several_files_in_json_and_jsonl(gradcalc, folder) -> None:
    obj = gradcalc("x^3", "--points", str(folder), "--format", "json").json()
    assert obj["points"]["files"] == [str(folder / f) for f in ("a.csv", "b.csv", "c.csv")]
    lines = gradcalc("x^3", "--points", str(folder), "--format", "jsonl").out.splitlines()
    assert [(json.loads(s)["file"], json.loads(s)["line"]) for s in lines] == [
        (str(folder / "a.csv"), 2), (str(folder / "a.csv"), 3), (str(folder / "b.csv"), 2),
        (str(folder / "b.csv"), 3), (str(folder / "c.csv"), 2)]


def test_no_table_files_there(gradcalc, tmp_path) -> None:
    _one_error(gradcalc("x", "--points", str(tmp_path / "*.csv")),
               "no CSV or Parquet files there")


# ---------------------------------------------------------------- one JSON object per row


def _expected_rows(obj: dict, n: int) -> list[dict]:
    """Per-row objects rebuilt from the --format json document of the same call."""
    out = []
    for k in range(n):
        row = {"row": k + 1, "line": k + 2,
               "kept": {name: cells[k] for name, cells in obj["kept"].items()},
               "at": {name: obj["at"][name] if name in obj["at"] else None
                      for name in [*obj["points"]["names"], *obj["at"]]},
               "value": obj["value"][k],
               "gradient": {w: None if g is None else g[k]
                            for w, g in obj["gradient"].items()}}
        out.append(row)
    return out


def test_jsonl_is_one_object_per_row(gradcalc, points_file) -> None:
    body = "id,x,y\nr1,1,2\nr2,0,4\nr3,-1,0.5\n"
    path = points_file(body)
    args = ["x*log(y) + sqrt(x) + q", "--points", path, "--at", "q=2"]
    whole = gradcalc(*args, "--format", "json")
    lines = gradcalc(*args, "--format", "jsonl")
    assert lines.status == whole.status == 3   # sqrt(-1): nan values, as strings
    obj = whole.json()
    got = [json.loads(s) for s in lines.out.splitlines()]
    want = _expected_rows(obj, 3)
    xy = [(1.0, 2.0), (0.0, 4.0), (-1.0, 0.5)]
    for g, w, (x, y) in zip(got, want, xy, strict=True):
        w["at"].update({"x": x, "y": y})
        assert {k: g[k] for k in w} == w
        statuses = obj["check"]["partials"]
        assert set(g["check"]["partials"]) == set(statuses)
    assert got[2]["value"] == "nan" and got[1]["gradient"]["x"] == "inf"
    assert lines.out.count("\n") == 3 and all(s.startswith('{"row":') for s in
                                              lines.out.splitlines())
    # each line is compact JSON, as json.dumps writes it
    assert all(s == json.dumps(json.loads(s), separators=(",", ":"))
               for s in lines.out.splitlines())


def test_jsonl_row_check_words(gradcalc, points_file) -> None:
    r = gradcalc("abs(x)*y", "--points", points_file("x,y\n1,2\n0,3\n"), "--format", "jsonl")
    rows = [json.loads(s) for s in r.out.splitlines()]
    assert rows[0]["check"] == {"status": "ok", "partials": {"x": "ok", "y": "ok"}}
    assert rows[1]["check"]["status"] == "undefined"
    assert rows[1]["check"]["partials"]["x"] == "undefined"
    r = gradcalc("x", "--points", points_file("x\n1\n"), "--format", "jsonl", "--no-check")
    assert json.loads(r.out)["check"]["status"] == "skipped"


def test_jsonl_with_several_outputs_and_point_by_point(gradcalc, points_file) -> None:
    path = points_file("x,y\n1,2\n3,4\n")
    r = gradcalc("r = hypot(x, y); t = atan2(y, x)", "--points", path, "--of", "r,t",
                 "--format", "jsonl")
    rows = [json.loads(s) for s in r.out.splitlines()]
    assert rows[1]["value"] == {"r": 5.0, "t": math.atan2(4, 3)}
    assert rows[1]["jacobian"]["r"] == {"x": 0.6, "y": 0.8}
    assert rows[1]["check"]["outputs"]["t"]["status"] == "ok"
    whole = gradcalc("x^2*y", "--points", path, "--hessian", "--format", "json").json()
    rows = [json.loads(s) for s in gradcalc("x^2*y", "--points", path, "--hessian",
                                            "--format", "jsonl").out.splitlines()]
    assert len(rows) == 2
    for k, row in enumerate(rows):
        assert row["row"] == k + 1 and row["line"] == k + 2
        assert {key: row[key] for key in whole["rows"][k]} == whole["rows"][k]


def test_jsonl_of_many_rows_equals_json(gradcalc, points_file) -> None:
    rng = np.random.default_rng(5)
    x = rng.uniform(-3, 3, 40_000)
    body = "x\n" + "".join(f"{v!r}\n" for v in x.tolist())
    path = points_file(body)
    obj = gradcalc("x*sin(x)", "--points", path, "--format", "json", "--no-check").json()
    lines = gradcalc("x*sin(x)", "--points", path, "--format", "jsonl", "--no-check").out
    got = [json.loads(s) for s in lines.splitlines()]
    assert [g["value"] for g in got] == obj["value"]
    assert [g["gradient"]["x"] for g in got] == obj["gradient"]["x"]
    assert [g["at"]["x"] for g in got] == x.tolist()


def test_keep_is_refused_with_dask(gradcalc, points_file, tmp_path) -> None:
    _one_error(gradcalc("x", "--points", points_file("id,x\na,1\n"), "--dask", "sync",
                        "--output", str(tmp_path / "out"), "--keep", "id"),
               "--keep with --dask: the part files hold the value and partials only")
