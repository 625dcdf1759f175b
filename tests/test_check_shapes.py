"""The check covers every shape at 10k nodes (issue 26 item 3): a wide sum over a few names, a
deep chain, hundreds of names and user functions called many times (bench/shape_cases.py) each
get every partial `ok` from the proven-enclosure judge, with the reference built by work that
grows with the program (reverse accumulation, chosen by counts: no clock decides). True partials
come from the same functions written in mpmath."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import mpmath
import pytest

from gradcalc.engine.evaluate import run
from gradcalc.judge import check
from gradcalc.lang.syntax import parse
from gradcalc.symbolic import derivatives, reverse

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
from shape_cases import SHAPES, wide_sum  # noqa: E402


@pytest.mark.parametrize("title", list(SHAPES))
def test_every_partial_of_a_10k_node_program_is_ok_whatever_its_shape(title: str) -> None:
    shape = SHAPES[title]()
    r = run(parse(shape.text), shape.point)
    assert len(r.nodes) >= 9_500
    # no deadline at all: the verdict must not depend on the clock, on any machine
    chk = check.check(r, timeout=math.inf, cache=False)
    assert chk.status == "ok", chk.reason
    assert {p.status for p in chk.partials.values()} == {"ok"}
    assert len(chk.partials) == len(shape.names)
    assert all(p.certified for p in chk.partials.values())
    # the reference of a program this size is the shared straight-line one (work linear in
    # the program), not SymPy's diff of its unfolded tree once per partial
    assert {p.symbolic for p in chk.partials.values()} == {reverse.TOO_LARGE}
    env = {n: mpmath.mpf(v) for n, v in shape.point.items()}
    with mpmath.workdps(40):
        for name in (shape.names[0], shape.names[-1]):
            true = mpmath.diff(lambda t, name=name: shape.fn({**env, name: t}, mpmath),
                               env[name])
            assert chk.partials[name].expected == pytest.approx(float(true), rel=1e-12)
            assert float(chk.partials[name].tape) == pytest.approx(float(true), rel=1e-9)


@pytest.mark.parametrize(("size", "depth", "partials", "tree"), [
    (400, 50, 300, True),          # small: SymPy's tree, whatever its depth or partials
    (2_000, 3, 5, True),           # a flat sum, few partials: SymPy's tree and its forms
    (10_000, 3, 10, False),        # the wide sum of 10 names: one reverse sweep
    (10_000, 3, 1, True),          # ...of one name
    (1_000, 9, 1, False),          # deep
])
def test_the_reference_is_chosen_by_counts(size: int, depth: int, partials: int,
                                           tree: bool) -> None:
    assert derivatives.use_tree(size, depth, partials) is tree


def test_a_wide_sum_below_the_work_limit_keeps_sympys_forms() -> None:
    shape = wide_sum(nodes=200, count=3)
    chk = check.check(run(parse(shape.text), shape.point), timeout=math.inf, cache=False)
    assert chk.status == "ok"
    assert all(p.symbolic != reverse.TOO_LARGE and "sin" in p.symbolic
               for p in chk.partials.values())


def test_the_references_raw_zero_and_nan_are_mpmaths() -> None:
    # reference.py asks for 0 and nan on the raw endpoint tuples (fast): they must be mpmath's
    from mpmath.libmp import fnan, fzero

    from gradcalc.judge import reference

    assert reference._ZERO == fzero and reference._NAN == fnan
    iv = mpmath.iv
    assert reference._zero(iv.mpf(1) - iv.mpf(1)) and not reference._zero(iv.mpf([0, 1e-300]))
    assert reference._point(iv.mpf(0.5)) and not reference._point(iv.mpf([0.5, 0.75]))
