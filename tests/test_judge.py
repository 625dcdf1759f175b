"""The judge at the edges: cancellation, kinks, domains folded away by SymPy, claims, --numeric.

Every reference here is computed independently of gradcalc: mpmath at high precision, or a
closed form worked out by hand. Each case names the class of the issue it covers.
"""

from __future__ import annotations

import dataclasses
import json

import mpmath
import numpy as np
import pytest

from gradcalc import ops, ops_matrix
from gradcalc.batch import rows as batch
from gradcalc.engine.evaluate import run
from gradcalc.judge import check
from gradcalc.lang import syntax


def _true_partial(f, point: dict[str, float], name: str) -> float:
    """d f / d name at the point (exact float inputs), by mpmath at 80 digits."""
    with mpmath.workdps(80):
        args = {k: mpmath.mpf(v) for k, v in point.items()}

        def g(t):
            return f(**{**args, name: t})

        return float(mpmath.diff(g, args[name]))


def _json(gradcalc, *argv: str):
    r = gradcalc(*argv, "--format", "json", "--no-cache")
    return r, json.loads(r.out) if r.out else None


# ---------------------------------------------------------------- false ok


def test_cancellation_at_one_point_is_a_mismatch_with_a_proven_reference(gradcalc) -> None:
    # (exp(x)-1)/x at 1e-45: a fixed 40 digits gave the tape's 1e45 back as the reference
    r, obj = _json(gradcalc, "(exp(x)-1)/x", "--at", "x=1e-45")
    true = _true_partial(lambda x: mpmath.expm1(x) / x, {"x": 1e-45}, "x")
    assert true == pytest.approx(0.5, rel=1e-12)
    p = obj["check"]["partials"]["x"]
    assert p["symbolic_value"] == pytest.approx(true, rel=1e-12)
    assert p["status"] == "mismatch" and r.status == 1


def test_batch_rows_that_cancel_are_confirmed_not_waved_through(gradcalc, points_file) -> None:
    r, obj = _json(gradcalc, "(exp(x)-1)/x", "--points", points_file("x\n1e-10\n1e-12\n2\n"))
    g = obj["gradient"]["x"]
    for k, x in enumerate((1e-10, 1e-12, 2.0)):
        true = _true_partial(lambda x: mpmath.expm1(x) / x, {"x": x}, "x")
        wrong = abs(g[k] - true) > 1e-9 * abs(true)
        assert wrong == (x < 1)   # the tape cancels at the small rows only
    part = obj["check"]["partials"]["x"]
    assert part["rows"]["mismatch"] == 2 and part["rows"]["ok"] == 1
    assert r.status == 1
    assert obj["check"]["confirmed"]["screen could not vouch"] >= 2


def test_a_small_value_wrong_by_35_percent_is_a_mismatch(gradcalc, monkeypatch) -> None:
    # a 1e-13 derivative off by 1e-4 relative: the old atol 1e-12 swallowed it
    bad = dataclasses.replace(ops.MUL, vjps=(lambda g, ans, x, y: g * y * (1 + 1e-4),
                                             ops.MUL.vjps[1]))
    monkeypatch.setitem(ops.BINARY, "*", bad)
    r, obj = _json(gradcalc, "x*y", "--at", "x=2,y=1e-13")
    assert obj["check"]["partials"]["x"]["status"] == "mismatch" and r.status == 1


def test_the_float_nearest_the_true_value_is_ok_even_in_underflow(gradcalc) -> None:
    # d/dx exp(x) at -745.2: true ~ 4.9e-324 (the smallest subnormal); the tape's is that float
    r, obj = _json(gradcalc, "exp(x)", "--at", "x=-745.1")
    true = float(mpmath.exp(mpmath.mpf(-745.1)))
    assert obj["gradient"]["x"] == true
    assert obj["check"]["partials"]["x"]["status"] == "ok" and r.status == 0


# ---------------------------------------------------------------- kinks


@pytest.mark.parametrize("expr, at, value", [
    ("x*abs(x)", "x=0", 0.0),          # one-sided derivatives 0 and 0
    ("relu(x)^2", "x=0", 0.0),
    ("abs(x)^3", "x=0", 0.0),
    ("max(x, x)", "x=1.5", 1.0),
])
def test_a_kink_whose_one_sided_derivatives_agree_is_ok(gradcalc, expr, at, value) -> None:
    r, obj = _json(gradcalc, expr, "--at", at)
    p = obj["check"]["partials"]["x"]
    assert p["status"] == "ok" and obj["gradient"]["x"] == value and r.status == 0
    assert "undefined" not in (p["reason"] or "")


def test_a_kink_whose_sides_differ_is_undefined_and_says_so(gradcalc) -> None:
    r, obj = _json(gradcalc, "abs(x)", "--at", "x=0")
    p = obj["check"]["partials"]["x"]
    assert p["status"] == "undefined" and r.status == 4   # computed, not verified
    assert "one-sided derivatives differ" in p["reason"] and "-1" in p["reason"]
    assert "the true derivative is undefined here" not in p["reason"]


def test_a_kink_convention_that_gives_a_wrong_number_is_a_mismatch(gradcalc) -> None:
    # relu(x) - relu(-x) is x: derivative 1 everywhere; the tape's relu'(0) = 0 gives 0
    r, obj = _json(gradcalc, "relu(x) - relu(-x)", "--at", "x=0")
    p = obj["check"]["partials"]["x"]
    assert obj["gradient"]["x"] == 0.0
    assert p["status"] == "mismatch" and p["symbolic_value"] == 1.0 and r.status == 1


def test_mixed_second_partial_at_a_kink_is_undefined(gradcalc) -> None:
    r, obj = _json(gradcalc, "abs(x)*y", "--at", "x=0,y=2", "--hessian")
    entries = obj["check"]["hessian"]["entries"]
    assert entries["x"]["y"]["status"] == "undefined"
    assert entries["y"]["y"]["status"] == "ok"


# ---------------------------------------------------------------- domains SymPy folds away


@pytest.mark.parametrize("expr, at", [
    ("x/x", "x=0"),
    ("exp(log(x))", "x=-1"),
    ("sqrt(x)^2", "x=-1"),
    ("log(x - y)", "x=1,y=1"),
    ("log(x - 0.1)", "x=0.1"),         # a literal and a binding written alike are one number
])
def test_outside_the_domain_is_undefined_never_mismatch(gradcalc, expr, at) -> None:
    r, obj = _json(gradcalc, expr, "--at", at)
    statuses = {p["status"] for p in obj["check"]["partials"].values()}
    assert statuses == {"undefined"}, obj["check"]
    assert r.status == 3
    assert obj["check"]["status"] != "ok"


def test_a_nan_run_does_not_print_check_ok(gradcalc) -> None:
    r = gradcalc("sqrt(x)", "--at", "x=-1")
    assert "check: ok" not in r.out and r.status == 3


def test_inside_the_domain_next_to_the_edge_is_judged(gradcalc) -> None:
    # log(x - 0.1) at the next float above 0.1: defined, and the tape is right there
    x = float(np.nextafter(0.1, 1.0))
    r, obj = _json(gradcalc, "log(x - 0.1)", "--at", f"x={x!r}")
    true = float(1 / (mpmath.mpf(x) - mpmath.mpf(0.1)))
    assert obj["check"]["partials"]["x"]["symbolic_value"] == pytest.approx(true, rel=1e-12)
    assert obj["check"]["partials"]["x"]["status"] == "ok" and r.status == 0


def test_zero_to_the_zero_is_one_as_on_the_tape(gradcalc) -> None:
    r, obj = _json(gradcalc, "x^y + x", "--at", "x=0,y=0")
    assert obj["value"] == 1.0 and obj["check"]["value"]["status"] == "ok"


# ---------------------------------------------------------------- claims


def test_claim_on_a_domain_far_from_the_origin_is_decided(gradcalc) -> None:
    r, obj = _json(gradcalc, "log(x-40)", "--claim", "x: 0")
    claim = obj["check"]["claims"][0]
    assert claim["status"] == "differs" and r.status == 1
    x = claim["counterexample"]["at"]["x"]
    assert x > 40 and claim["counterexample"]["true"] == pytest.approx(1 / (x - 40), rel=1e-12)


def test_claim_on_a_narrow_domain_is_sampled_inside_it(gradcalc) -> None:
    r, obj = _json(gradcalc, "log(x-999) + log(1000-x)", "--claim",
                   "x: 1/(x-999) - 1/(1000-x) + 1e-6", "--claim-points", "20")
    claim = obj["check"]["claims"][0]
    assert claim["status"] == "differs" and 999 < claim["counterexample"]["at"]["x"] < 1000


def test_counterexample_is_never_at_a_kink(gradcalc) -> None:
    r, obj = _json(gradcalc, "relu(x)", "--claim", "x: 0*x")
    c = obj["check"]["claims"][0]["counterexample"]
    assert c["at"]["x"] > 0 and c["true"] == 1.0 and r.status == 1


def test_a_claim_keeps_its_own_domain(gradcalc) -> None:
    r, obj = _json(gradcalc, "x^2", "--claim", "x: 2*x + 0*log(x)")
    claim = obj["check"]["claims"][0]
    assert claim["status"] == "differs" and claim["counterexample"]["at"]["x"] <= 0
    assert r.status == 1


def test_claims_compare_relative_to_scale(gradcalc) -> None:
    r, obj = _json(gradcalc, "x*1e-13", "--claim", "x: 0")
    assert obj["check"]["claims"][0]["status"] == "differs" and r.status == 1


def test_undecided_is_not_success(gradcalc) -> None:
    # sqrt(-x^2 - 1) is defined nowhere on the reals: no point decides, SymPy cannot prove
    r, obj = _json(gradcalc, "sqrt(-x^2 - 1)", "--claim", "x: 0", "--claim-points", "10")
    assert obj["check"]["claims"][0]["status"] == "undecided"
    assert r.status == 4
    text = gradcalc("sqrt(-x^2 - 1)", "--claim", "x: 0", "--claim-points", "10")
    assert "UNDECIDED" in text.out and text.status == 4


def test_claims_use_the_true_derivative_under_stop_gradient(gradcalc) -> None:
    # the check calls d/dx stop_gradient(x)*x = x `cut` (true 2x); claims use the true one
    r, obj = _json(gradcalc, "stop_gradient(x)*x", "--claim", "x: 2*x")
    assert obj["check"]["claims"][0]["status"] in ("proved", "equal") and r.status == 0


# ---------------------------------------------------------------- --numeric


def test_numeric_next_to_a_kink_is_inconclusive_not_a_failure(gradcalc) -> None:
    r, obj = _json(gradcalc, "abs(x)", "--at", "x=1e-9", "--numeric")
    p = obj["check"]["partials"]["x"]
    assert p["status"] == "ok" and "numeric inconclusive" in p["reason"] and r.status == 0


def test_numeric_decides_without_a_symbolic_reference_only_when_trusted(gradcalc) -> None:
    # --numeric was asked for: an inconclusive estimate leaves the partial not verified
    r, obj = _json(gradcalc, "abs(x)", "--at", "x=1e-9", "--numeric", "--no-check")
    assert obj["check"]["partials"]["x"]["status"] == "skipped" and r.status == 4
    r, obj = _json(gradcalc, "x*sin(x)", "--at", "x=0.7", "--numeric", "--no-check")
    assert obj["check"]["partials"]["x"]["status"] == "ok" and r.status == 0


# ---------------------------------------------------------------- found on the way


def test_hessian_entry_blocked_by_stop_gradient_is_cut(gradcalc) -> None:
    r, obj = _json(gradcalc, "stop_gradient(x)*x*y", "--at", "x=3,y=2", "--hessian")
    entries = obj["check"]["hessian"]["entries"]
    assert entries["x"]["x"]["status"] == "cut" and entries["x"]["x"]["true_value"] == 4.0
    assert entries["x"]["y"]["status"] == "cut" and entries["x"]["y"]["true_value"] == 6.0
    assert entries["y"]["y"]["status"] == "null" or entries["y"]["y"]["status"] == "ok"


@pytest.mark.parametrize("budget", ["inf", "1e10"])
def test_an_unbounded_budget_is_accepted(gradcalc, budget) -> None:
    r = gradcalc("x^2", "--at", "x=3", "--check-timeout", budget)
    assert r.status == 0 and "Traceback" not in r.err and "check: ok" in r.out


# ---------------------------------------------------------------- one judge


def test_batch_rows_get_the_point_checks_verdict(points_file, tmp_path) -> None:
    # rows at kinks, at a domain edge, with cancellation and ordinary ones
    xs = [0.0, 1e-10, -2.0, 1.5, 3.0, 1e-300, 0.1]
    ys = [1.0, 2.0, 0.0, -1.5, 3.0, 1.0, 0.1]
    source = "abs(x)*y + (exp(x)-1)/(x + 1e-320) + max(x, y) + log(abs(x - y) + 1e-300)"
    program = syntax.parse(source)
    body = "x,y\n" + "".join(f"{x!r},{y!r}\n" for x, y in zip(xs, ys, strict=True))
    points = batch.read_points(points_file(body))
    b = batch.run_batch(program, points, {}, None, None)
    chk = batch.check_batch(b, use_cache=False)
    for k, (x, y) in enumerate(zip(xs, ys, strict=True)):
        single = check.check(run(program, {"x": x, "y": y}), cache=False)
        for name in ("x", "y"):
            assert chk.partials[name].statuses[k] == single.partials[name].status, (k, name)


def test_a_flipped_vjp_sign_is_caught_at_ordinary_and_extreme_points(gradcalc,
                                                                      monkeypatch) -> None:
    bad = dataclasses.replace(ops.SIN, vjps=(lambda g, ans, x: -g * np.cos(x),))
    monkeypatch.setitem(ops.FUNCTIONS, "sin", {1: bad})
    for at in ("x=0.5", "x=1e-300", "x=1e300", "x=-3e-8"):
        r, obj = _json(gradcalc, "sin(x)", "--at", at)
        assert obj["check"]["partials"]["x"]["status"] == "mismatch", at
        assert r.status == 1


@pytest.mark.parametrize("prim", [p for p in ops.PRIMITIVES if (p.domain is not None or p.guards)
                                  and p not in ops_matrix.MATRIX_PRIMITIVES],
                         ids=lambda p: p.name)
def test_each_primitives_guards_agree_with_its_domain_mask(prim) -> None:
    # the judge reads a primitive's domain from its guards; the tape from its domain mask
    from gradcalc.judge import reference
    from gradcalc.judge import verdict as judge

    assert prim.guards, f"{prim.name} has a domain mask but no guards"
    values = [-2.5, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0, 3.0]
    arity = prim.arity or 2
    grid = [(v,) for v in values] if arity == 1 else [(a, b) for a in values for b in values]
    for args in grid:
        encs = [reference.Enclosure(mpmath.mpf(a), mpmath.mpf(a), prec=64) for a in args]
        holds = all(judge.guard_holds(kind, encs if i is None else [encs[i]])
                    for i, kind in prim.guards)
        outside = bool(prim.domain(*(np.float64(a) for a in args))) if prim.domain else False
        # a domain mask may leave out poles (division by zero), never include an inside point
        assert not (holds and outside), (prim.name, args)
        if not holds and not outside:
            assert prim.name in ("div", "log", "log2", "log10", "logb", "pow", "log1p"), \
                (prim.name, args)   # poles of these are outside the guards, not the mask


@pytest.mark.parametrize("op, x", [("tanh", 22.16), ("sinh", 1e-30), ("cosh", 40.0),
                                   ("atan", 1e20), ("asin", 0.999999999), ("acos", -0.5),
                                   ("erf", 6.0)])
def test_reference_encloses_the_true_value_tightly(op, x) -> None:
    # (the ops of compiled programs whose enclosure comes from mpmath at both ends)
    # each function the interval context lacks is evaluated at the working precision itself:
    # 1 - tanh(22.16)^2 needs more than float64's digits, and the enclosure must hold them
    from gradcalc.judge import reference

    with mpmath.workprec(53):   # as in the CLI: the global context at its default precision
        enc = reference.evaluate([["sym", "x"], [op, 0]], [1], {"x": x}, 96)[0]
    with mpmath.workdps(60):
        true = getattr(mpmath, op)(mpmath.mpf(x))
        assert enc.lo <= true <= enc.hi
        assert enc.hi - enc.lo <= abs(true) * mpmath.mpf(2) ** -88


def test_one_sided_reason_names_a_component_as_written(gradcalc) -> None:
    r, obj = _json(gradcalc, "sum(abs(w))", "--at", "w=[0,2]")
    reason = obj["check"]["partials"]["w"][0]["reason"]
    assert "along w[0]" in reason and "w_0" not in reason
