"""What an error message may echo: numbers in plain spelling (never a numpy repr such as
np.float64(nan)), and never a huge word whole (its start, '...' and its length)."""

from __future__ import annotations

import pytest

WORD = "a" * 50_000


@pytest.mark.parametrize("argv", [
    [WORD],                                   # an unbound name
    [f"{WORD}(x)", "--at", "x=1"],            # an unknown function
    ["x", "--at", "x=1", "--wrt", WORD],
    ["x", "--at", "x=1", f"--{WORD}"],        # an unknown option
    ["x", WORD, "--at", "x=1"],               # an extra word
    ["x", "--at", f"x={WORD}"],
    ["x", "--at", "x=1", "--format", WORD],   # click's own message
    ["x", "--at", "x=1", "--claim", f"x: {WORD}"],
])
def test_a_huge_word_is_not_echoed_whole(gradcalc, argv) -> None:
    r = gradcalc(*argv)
    assert r.status == 2 and r.err.startswith("error: ")
    assert len(r.err) < 1_000, len(r.err)
    assert "(50,0" in r.err and " characters)" in r.err   # its length is named instead


def test_a_long_path_is_still_named_whole(gradcalc, tmp_path) -> None:
    path = tmp_path / ("d" * 150) / "points.csv"
    r = gradcalc("x", "--points", str(path))
    assert r.status == 2 and str(path) in r.err


def test_a_non_finite_parquet_cell_is_named_plainly(gradcalc, tmp_path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    path = tmp_path / "p.parquet"
    pq.write_table(pa.table({"x": [1.0, float("nan")]}), str(path))
    r = gradcalc("x", "--points", str(path))
    assert r.status == 2
    assert r.err.startswith("error: --points") and "(nan)" in r.err and "np." not in r.err


def test_a_non_finite_vector_binding_is_named_plainly(gradcalc) -> None:
    r = gradcalc("sum(x)", "--at", "x=[1,0/0]")
    assert r.status == 2 and "= [1.0, nan])" in r.err and "[ 1." not in r.err


def test_number_text() -> None:
    import numpy as np

    from gradcalc.errors import number_text

    assert number_text(np.float64("nan")) == "nan"
    assert number_text(np.float64(-np.inf)) == "-inf"
    assert number_text(np.float64(0.1)) == "0.1"
    assert number_text(np.int64(3)) == "3"
    assert number_text(np.array([[1, 2], [3, np.inf]])) == "[[1.0, 2.0], [3.0, inf]]"
    assert number_text(np.arange(20.0), limit=3) == "[0.0, 1.0, 2.0, ...]"
