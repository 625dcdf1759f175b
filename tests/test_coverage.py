"""The coverage table of numpy functions on tensors (docs/python-api.md) is generated from the
op table and the table of numpy handlers (engine/numpy_table.py): this test fails when they
differ, so the table cannot drift. GOLDEN_UPDATE=1 rewrites it (say so in the commit)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from gradcalc import ops
from gradcalc.engine import numpy_table
from gradcalc.symbolic import coverage

PAGE = Path(__file__).resolve().parents[1] / "docs" / "python-api.md"
START = "<!-- coverage table: generated, do not edit -->\n"
END = "<!-- end of the coverage table -->\n"


def test_docs_coverage_table_is_the_generated_one() -> None:
    text = PAGE.read_text()
    head, rest = text.split(START)
    _, tail = rest.split(END)
    table = coverage.coverage_table()
    if os.environ.get("GOLDEN_UPDATE"):
        PAGE.write_text(head + START + table + END + tail)
        text = PAGE.read_text()
    assert START + table + END in text, "docs/python-api.md's table differs from the op table"


def test_the_table_lists_every_recorded_function_once() -> None:
    names = [row[0] for row in coverage.coverage_rows()]
    assert len(names) == len(set(names))
    ufuncs = {f"np.{u.__name__}" for p in ops.PRIMITIVES for u in p.numpy_ufuncs()}
    assert ufuncs <= set(names)
    assert set(numpy_table.recorded_names()) <= set(names)
    # the page's count
    text = PAGE.read_text()
    assert len(names) == int(text.split("all components only); now ")[1].split(".")[0])
    assert len(names) == int(text.split("recorded where gradcalc has a rule: ")[1].split()[0])


def test_every_record_the_table_names_has_a_sympy_counterpart_or_says_why_not() -> None:
    for name, records, _, sympy in coverage.coverage_rows():
        if records.startswith("(identity"):
            continue
        assert sympy and "<lambda>" not in sympy, name


def test_a_recorded_function_gives_a_tensor_and_an_unlisted_one_is_refused() -> None:
    from gradcalc import Tape, Tensor, Variable

    x = Variable(np.array([[2.0, 1.0], [1.0, 3.0]]))
    with Tape():
        assert isinstance(np.linalg.cholesky(x), Tensor)
        try:
            np.linalg.qr(x)
        except TypeError as exc:
            assert "np.linalg.qr" in str(exc)
        else:
            raise AssertionError("np.linalg.qr was not refused")
