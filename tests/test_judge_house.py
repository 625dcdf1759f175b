"""The judge's own house: one table of guard kinds, statuses as one Enum combined in one
function, questions and answers matched by name."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

from gradcalc import ops
from gradcalc.engine.evaluate import run
from gradcalc.judge import guards, reference
from gradcalc.judge import verdict as judge
from gradcalc.judge.check import plan
from gradcalc.judge.verdict import Status
from gradcalc.lang.syntax import parse

POINTS = [-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0]


def test_every_guard_kind_a_record_or_the_converter_uses_is_in_the_one_table() -> None:
    used = {kind for p in ops.PRIMITIVES for _, kind in p.guards} | {"nonzero", "positive"}
    assert used <= set(guards.KINDS)
    with pytest.raises(ValueError, match="unknown guard kind"):
        guards.kind("sideways")


@pytest.mark.parametrize("name", sorted(guards.KINDS))
def test_each_guard_kinds_screen_and_exact_test_agree(name) -> None:
    # at exact points (error bound 0) the float64 screen vouches exactly where the exact test
    # says the condition holds; every kind has a message
    kind = guards.kind(name)
    assert kind.text
    arity = 2 if name == "pow" else 1
    for values in itertools.product(POINTS, repeat=arity):
        exact = kind.holds([(v, v) for v in values])
        screened = kind.screen([(np.array([v]), np.array([0.0])) for v in values])[0]
        assert exact is not None, (name, values)   # a point is always decided
        assert bool(screened) == exact, (name, values)


def test_an_interval_straddling_an_edge_is_undecided() -> None:
    assert guards.kind("positive").holds([(-1.0, 1.0)]) is None
    assert guards.kind("unit").holds([(0.5, 1.5)]) is None


def test_statuses_are_the_public_words() -> None:
    assert [s.value for s in Status] == ["ok", "cut", "null", "mismatch", "undefined",
                                         "skipped", "undecided", "proved", "equal", "differs"]
    assert json.dumps({"status": Status.MISMATCH}) == '{"status": "mismatch"}'
    assert f"{Status.OK}" == "ok" and str(Status.UNDEFINED) == "undefined"
    assert Status.OK == "ok"


@pytest.mark.parametrize("statuses, want", [
    ([], "skipped"),
    (["ok", "null", "cut"], "ok"),
    (["proved", "equal"], "ok"),
    (["ok", "skipped"], "skipped"),
    (["ok", "undefined", "skipped"], "undefined"),
    (["undefined", "undecided"], "undecided"),
    (["undecided", "differs"], "mismatch"),
    (["mismatch", "ok"], "mismatch"),
])
def test_statuses_combine_in_one_function(statuses, want) -> None:
    assert judge.combine(statuses) == want


def test_the_point_check_answers_each_question_by_its_key() -> None:
    from gradcalc.budget import Deadline
    from gradcalc.symbolic.derivatives import at_point

    r = run(parse("x*y + abs(x)"), {"x": 0.0, "y": 2.0})
    pl = plan(r)
    status, result = at_point(r.program, pl.symbols, list(pl.checked.values()), pl.point, None,
                              Deadline.start(60), False, pl.judge_fn(Deadline.start(60).at))
    assert status == "ok"
    failure, answers = result["judged"]
    assert failure is None
    assert set(answers) == {q.key for q in pl.questions(has_true=False)}
    assert answers["value"].status == "ok"
    assert answers[("d", "x")].status == "undefined"   # abs at 0: one-sided 1 and 3
    assert answers[("d", "y")].status == "ok"


def test_decide_answers_by_key_whatever_the_order() -> None:
    # outputs: x, x*x and its derivative 2*x
    program = [["sym", "x"], ["mul", 0, 0], ["num", "2"], ["mul", 2, 0]]
    qs = [judge.Question("value", 1, 9.0, 1e-9, 0.0),
          judge.Question(("d", "x"), 2, 6.5, 1e-9, 0.0)]
    for order in (qs, qs[::-1]):
        answers = judge.decide(program, [0, 1, 3], {"x": 3.0}, order)
        assert answers["value"].status == "ok"
        assert answers[("d", "x")].status == "mismatch" and answers[("d", "x")].value == 6.0
        assert answers["value"].prec == reference.PRECISIONS[0]
