"""A checked batch streams: the screen and the confirmation of rows run CHUNK rows at a time,
and the verdicts of the chunks add up to the verdicts the point check gives row by row (the
independent reference: check.check at each row's own point; the derivatives come from the test's
own cache, so SymPy runs once per test)."""

from __future__ import annotations

import numpy as np
import pytest

from gradcalc.batch import rows as batch
from gradcalc.engine.evaluate import run
from gradcalc.judge import check
from gradcalc.lang import syntax
from gradcalc.symbolic import derivatives

# the tape cancels at the small x (a mismatch), abs sits at its kink at y = 0 (undefined),
# and the rest are ordinary rows
SOURCE = "(exp(x)-1)/x + abs(y)*x"
XS = [1.5, 0.25, -2.0, 3.0, 1e-10, 0.5, 0.625, -0.75, 2.5, 1e-12, -1.25, 0.125, 4.0, -3.5,
      2e-11, 0.875, -0.5, 1.75, 1.125, 2.25, -1.0]
YS = [0.5, 2.0, -1.0, 1.5, 3.0, -0.25, 0.0, 1.0, -2.0, 0.75, 1.25, -1.5, 0.5, 2.5, 1.0,
      -0.75, 3.0, 0.25, 0.0, 1.5, 2.0]
CHUNK = 4   # rows per chunk in these tests: the 21 rows are 6 chunks, the last one short


def _batch(points_file) -> batch.Batch:
    body = "x,y\n" + "".join(f"{x!r},{y!r}\n" for x, y in zip(XS, YS, strict=True))
    points = batch.read_points(points_file(body))
    return batch.run_batch(syntax.parse(SOURCE), points, {}, None, None)


def _row_by_row() -> list[check.Check]:
    program = syntax.parse(SOURCE)
    return [check.check(run(program, {"x": x, "y": y}))
            for x, y in zip(XS, YS, strict=True)]


def test_the_check_screens_each_chunk_on_its_own(points_file, monkeypatch) -> None:
    monkeypatch.setattr(batch, "CHUNK", CHUNK)
    seen: list[tuple[int, int]] = []
    on_rows = derivatives.on_rows

    def spy(derived, wrt, columns, lo, hi, deadline):
        assert all(np.ndim(c) == 0 or len(c) == hi - lo for c in columns.values())
        seen.append((lo, hi))
        return on_rows(derived, wrt, columns, lo, hi, deadline)

    monkeypatch.setattr(derivatives, "on_rows", spy)
    chk = batch.check_batch(_batch(points_file))
    assert seen == [(0, 4), (4, 8), (8, 12), (12, 16), (16, 20), (20, 21)]
    # the cancelling rows 10 and 15 lie beyond the first chunk: the point check judged them
    assert chk.partials["x"].statuses[9] == "mismatch"
    assert chk.partials["x"].statuses[14] == "mismatch"
    assert chk.confirmed["screen could not vouch"] >= 5   # 3 cancelling, 2 at the kink


@pytest.mark.parametrize("chunk", [CHUNK, 1 << 14])   # six chunks, and one pass
def test_chunk_verdicts_add_up_to_the_point_checks_row_by_row(points_file, monkeypatch,
                                                               chunk) -> None:
    monkeypatch.setattr(batch, "CHUNK", chunk)
    b = _batch(points_file)
    chk = batch.check_batch(b)
    singles = _row_by_row()
    assert chk.partials["y"].counts["undefined"] == 2   # the kink rows, 7 and 19
    for name in ("x", "y"):
        words = [str(s.partials[name].status) for s in singles]
        assert [chk.partials[name].statuses[k] for k in range(len(XS))] == words
        want = {w: words.count(w) for w in ("ok", "mismatch", "undefined") if
                words.count(w) or w in ("ok", "mismatch", "undefined")}
        assert chk.partials[name].counts == want
    assert chk.partials["x"].counts["mismatch"] == 3 and chk.status == "mismatch"
    # the worst row is the mismatch farthest from the point check's proven reference
    errors = [abs(float(b.gradient["x"][k]) - s.partials["x"].expected)
              if s.partials["x"].status == "mismatch" else -1.0 for k, s in enumerate(singles)]
    worst = chk.partials["x"].worst
    assert worst is not None and worst["row"] == int(np.argmax(errors)) + 1
    assert worst["line"] == worst["row"] + 1


def test_row_statuses_combine_row_by_row() -> None:
    a = batch.RowStatuses(np.array([0, 1, 2, 4, 0], dtype=np.uint8))   # ok mismatch undef ...
    b = batch.RowStatuses(np.array([2, 0, 4, 0, 5], dtype=np.uint8))   # ... skipped, null
    both = batch.RowStatuses.combined([a, b])
    assert list(both[0:5]) == ["undefined", "mismatch", "undefined", "skipped", "ok"]
    assert both[1] == "mismatch" and len(both) == 5
    assert list(batch.RowStatuses.full("skipped", 3)[:]) == ["skipped"] * 3
