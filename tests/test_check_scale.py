"""The check at scale: one budget for every phase (conversion, differentiation, compilation,
evaluation) and for --numeric, and reference derivatives built by reverse accumulation over each
primitive's SymPy derivative (symbolic/reverse.py) for programs too large for one SymPy tree.

References here are independent of gradcalc: mpmath derivatives (test_judge_properties'
reference), and the tree path's verdicts (SymPy's diff of the whole expression).
"""

from __future__ import annotations

import math
import random
import time

import mpmath
import pytest

from gradcalc.budget import Deadline
from gradcalc.engine.evaluate import run
from gradcalc.judge import check, claims, numeric, reference
from gradcalc.lang.syntax import parse
from gradcalc.symbolic import compiled, convert, derivatives, reverse
from gradcalc.symbolic.sandbox import run_with_budget

SLACK = 1.5   # seconds a budgeted call may take beyond its budget (fork, pickling, start-up)


def _slow(*args, **kwargs):
    time.sleep(30)
    raise AssertionError("not reached")


def _force(monkeypatch, tree: bool) -> None:
    """Every program's derivatives from SymPy's tree (tree) or by reverse accumulation."""
    monkeypatch.setattr(derivatives, "TREE_MAX_NODES", 10 ** 9 if tree else 0)
    monkeypatch.setattr(derivatives, "TREE_MAX_WORK", 10 ** 9 if tree else 0)


def _timed_check(source: str, at: dict[str, float], budget: float) -> tuple[check.Check, float]:
    r = run(parse(source), at)
    t0 = time.monotonic()
    chk = check.check(r, timeout=budget, cache=False)
    return chk, time.monotonic() - t0


def test_sandbox_returns_at_its_budget() -> None:
    t0 = time.monotonic()
    status, _ = run_with_budget(lambda: time.sleep(30), Deadline.start(0.3))
    assert status == "timeout"
    assert time.monotonic() - t0 < 0.3 + SLACK
    assert run_with_budget(lambda: 1, Deadline.start(0.0)) == ("timeout", None)


def test_a_child_that_notices_the_deadline_is_stopped_not_failed() -> None:
    def notices() -> None:
        raise TimeoutError
    assert run_with_budget(notices, Deadline.start(30)) == ("timeout", None)


@pytest.mark.parametrize("phase", [
    (convert, "program_to_sympy"),          # conversion (tree path)
    (convert, "derivative"),                # differentiation (tree path)
    (compiled, "compile_sympy"),            # compilation (both paths)
    (reference, "evaluate"),                # evaluation in interval arithmetic
], ids=lambda p: p[1])
def test_a_slow_phase_of_a_small_check_is_skipped_within_the_budget(monkeypatch, phase) -> None:
    monkeypatch.setattr(*phase, _slow)   # the forked child inherits the slow phase
    chk, took = _timed_check("sin(x)*y + x^2", {"x": 0.5, "y": 2.0}, 0.5)
    assert took < 0.5 + SLACK
    assert chk.status == "skipped"
    assert all(p.status == "skipped" and p.reason.startswith("time limit")
               and "0.5 s for checking" in p.reason for p in chk.partials.values())


def test_a_slow_reverse_construction_is_skipped_within_the_budget(monkeypatch) -> None:
    monkeypatch.setattr(reverse, "derive", _slow)
    _force(monkeypatch, False)
    chk, took = _timed_check("sin(x)*y + x^2", {"x": 0.5, "y": 2.0}, 0.5)
    assert took < 0.5 + SLACK and chk.status == "skipped"


def test_a_cache_hit_is_evaluated_within_the_budget(monkeypatch) -> None:
    r = run(parse("exp(x)*y"), {"x": 0.5, "y": 2.0})
    assert check.check(r, timeout=30, cache=True).status == "ok"   # fills the cache
    monkeypatch.setattr(reference, "evaluate", _slow)
    t0 = time.monotonic()
    chk = check.check(r, timeout=0.5, cache=True)
    assert time.monotonic() - t0 < 0.5 + SLACK and chk.status == "skipped"


def test_a_large_sum_is_skipped_within_the_budget() -> None:
    source = "+".join(f"{'xyz'[k % 3]}*{1 + k % 7}" for k in range(30_000))
    chk, took = _timed_check(source, {"x": 1.0, "y": 2.0, "z": 3.0}, 0.2)
    assert took < 0.2 + SLACK
    assert chk.status == "skipped"


# ---------------------------------------------------------------- --numeric


def test_numeric_raises_at_its_deadline() -> None:
    program = parse("+".join(f"abs(x - {k % 7})*y" for k in range(200)))
    with pytest.raises(TimeoutError):
        numeric.partial(program, {"x": 0.3, "y": 1.5}, "x", deadline=time.monotonic())


def test_numeric_keeps_the_check_budget() -> None:
    # abs is not analytic: Richardson's tableau, hundreds of runs of a 3,000-term program
    program = "+".join(f"abs(x - {k % 7})*sin(y*{1 + k % 5})" for k in range(3_000))
    r = run(parse(program), {"x": 0.3, "y": 1.7})
    t0 = time.monotonic()
    ver = claims.verify(r, None, {}, True, [], 1e-9, 0.0, 0.3)
    assert time.monotonic() - t0 < 0.3 + SLACK
    for p in ver.partials.values():
        assert p.status == "skipped" and "time limit" in p.reason
        assert p.numeric is None


def test_numeric_within_budget_is_unchanged() -> None:
    r = run(parse("abs(x)*y + x^3"), {"x": 0.5, "y": 2.0})
    ver = claims.verify(r, None, {}, True, [], 1e-9, 0.0, 30.0)
    assert ver.partials["x"].status == "ok"
    assert ver.partials["x"].numeric.value == pytest.approx(2.0 + 0.75, rel=1e-8)


# ---------------------------------------------------------------- the reverse construction


def _statuses(source: str, at: dict[str, float], tree: bool, monkeypatch) -> dict[str, tuple]:
    _force(monkeypatch, tree)   # (the forced tree is slow for SymPy: a generous safety net)
    chk = check.check(run(parse(source), at), timeout=900, cache=False)
    return {n: (p.status, p.expected) for n, p in chk.partials.items()} | {
        "value": (chk.value_status, chk.value)}


MID_SIZE = [
    # a program of statements reusing names, calls, stop_gradient, guards, kinks, vectors
    ("f(u, v) = u*sigmoid(v) + log(1 + u^2)\n" + "\n".join(
        f"a{i} = f(a{i - 1}, y) + sqrt(x^2 + {i})/(2 + sin(a{i - 1}))" if i else "a0 = x*y"
        for i in range(6)) + "\nout = a5 + stop_gradient(a3)*x + abs(x - 1) + max(x, y)",
     {"x": 0.7, "y": -1.3}),
    ("abs(x)*y + relu(y)*x^2 + max(x, y, 0.5)", {"x": 0.0, "y": 0.0}),
    ("log(x - y) + x/y", {"x": 2.0, "y": 2.0}),                       # at a domain edge
    ("sum(w*x)^2 + norm(w) + max(w) + w[1]*prod(w)", {"w": [0.5, -2.0, 1.5], "x": 3.0}),
    ("z = x\nz *= y\nz += exp(x)\nz /= 1 + y^2\nz", {"x": 0.3, "y": 4.0}),
    ("(exp(x) - 1)/x", {"x": 1e-10}),                                # a true mismatch
]


@pytest.mark.parametrize("source, at", MID_SIZE)
def test_reverse_construction_gives_the_tree_verdicts(source, at, monkeypatch) -> None:
    tree = _statuses(source, at, True, monkeypatch)
    dag = _statuses(source, at, False, monkeypatch)
    assert tree.keys() == dag.keys()
    for name in tree:
        (ts, tv), (ds, dv) = tree[name], dag[name]
        assert ts == ds, (name, tree[name], dag[name])
        if isinstance(tv, float) and math.isfinite(tv):
            assert dv == pytest.approx(tv, rel=1e-12, abs=1e-300)


def test_reverse_construction_is_honest_over_random_expressions(monkeypatch) -> None:
    # the property test of the judge, with every reference built by reverse accumulation
    import test_judge_properties as props

    _force(monkeypatch, False)
    counts = props.tally(30, seed=5)
    assert counts["failures"] == [], counts["failures"][:5]
    assert counts["partials judged"] > 10


def test_reverse_construction_catches_a_flipped_vjp(monkeypatch) -> None:
    # the reference is SymPy's derivative of sin, not the op table's VJP
    import dataclasses

    import numpy as np

    from gradcalc import ops

    bad = dataclasses.replace(ops.SIN, vjps=(lambda g, ans, x: -g * np.cos(x),))
    monkeypatch.setitem(ops.FUNCTIONS, "sin", {1: bad})
    _force(monkeypatch, False)
    chk = check.check(run(parse("sin(x)*y"), {"x": 0.5, "y": 2.0}), timeout=60, cache=False)
    assert chk.partials["x"].status == "mismatch"
    assert chk.partials["x"].expected == pytest.approx(2 * math.cos(0.5), rel=1e-15)
    assert chk.partials["y"].status == "ok"


def _random_expression(rng: random.Random, n: int, names: list[str]) -> tuple[str, object]:
    """Source text of about n primitives, and the same function in mpmath."""
    if n <= 1:
        name = rng.choice(names)
        return name, lambda env, name=name: env[name]
    k = rng.random()
    if k < 0.2:
        text, f = _random_expression(rng, n - 1, names)
        return f"sin({text})", lambda env, f=f: mpmath.sin(f(env))
    m = rng.randint(1, n - 1)
    (lt, lf), (rt, rf) = _random_expression(rng, m, names), _random_expression(rng, n - 1 - m,
                                                                               names)
    if k < 0.6:
        return f"({lt})+({rt})", lambda env, lf=lf, rf=rf: lf(env) + rf(env)
    if k < 0.85:
        return f"({lt})*({rt})", lambda env, lf=lf, rf=rf: lf(env) * rf(env)
    return f"({lt})/(2+sin({rt}))", lambda env, lf=lf, rf=rf: lf(env) / (2 + mpmath.sin(rf(env)))


def test_every_partial_of_a_10k_node_expression_is_checked() -> None:
    import sys

    names = ["a", "b", "c", "d", "e1"]
    rng = random.Random(3)
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 20_000))   # (the generator below recurses; gradcalc not)
    try:
        text, f = _random_expression(rng, 12_000, names)
    finally:
        sys.setrecursionlimit(limit)
    at = {"a": 0.3, "b": 0.7, "c": 1.1, "d": -0.4, "e1": 0.9}
    r = run(parse(text), at)
    assert len(r.nodes) > 10_000
    chk = check.check(r, timeout=120, cache=False)
    assert chk.status == "ok"
    for name in names:
        p = chk.partials[name]
        assert p.status == "ok" and p.symbolic == reverse.TOO_LARGE
    # the true partial of one name by mpmath (forward differences of the mpmath function)
    with mpmath.workdps(40):
        env = {k: mpmath.mpf(v) for k, v in at.items()}
        true = mpmath.diff(lambda t: f({**env, "a": t}), env["a"])
    assert chk.partials["a"].expected == pytest.approx(float(true), rel=1e-12)


def test_wide_flat_sums_keep_the_tree_and_deep_programs_do_not() -> None:
    flat = "+".join(f"sin(x*{1 + k % 7})*y" for k in range(300))
    chk = check.check(run(parse(flat), {"x": 0.5, "y": 2.0}), timeout=60, cache=False)
    assert chk.partials["y"].symbolic.startswith("43*sin(x)")   # SymPy's collected form
    deep = "\n".join(f"a{i} = sin(a{i - 1})*y + x" if i else "a0 = x" for i in range(150))
    chk = check.check(run(parse(deep), {"x": 0.5, "y": 2.0}), timeout=60, cache=False)
    assert chk.status == "ok" and chk.partials["x"].symbolic == reverse.TOO_LARGE


def test_numeric_over_budget_prints_no_empty_method_line(gradcalc) -> None:
    # every estimate over budget: each partial says so; no "numeric:" line without methods
    program = "+".join(f"abs(x - {k % 7})*sin(y*{1 + k % 5})" for k in range(3_000))
    r = gradcalc(program, "--at", "x=0.3,y=1.7", "--numeric", "--no-check",
                 "--check-timeout", "0.3")
    assert "time limit" in r.out and r.status == 4
    assert not any(line.strip() == "numeric:" for line in r.out.splitlines()), r.out


def test_every_phase_gets_the_one_deadline_of_the_call(gradcalc, monkeypatch) -> None:
    # --check-timeout is one deadline for the whole call, handed down: the check, its matrix
    # notation, the Hessian and the claims all end by the same moment, none restarts it
    from gradcalc.cli import main as cli_main
    from gradcalc.judge import higher, matrix

    seen: list[Deadline] = []
    for module, name in ((cli_main, "check"), (matrix, "add_matrix_notation"),
                         (higher, "check_hessian")):
        real = getattr(module, name)

        def spy(*args, _real=real, **kwargs):
            seen.append(kwargs.get("deadline") or next(a for a in args
                                                       if isinstance(a, Deadline)))
            return _real(*args, **kwargs)
        monkeypatch.setattr(module, name, spy)
    r = gradcalc("sum(w^2)", "--at", "w=[1,2]", "--check-timeout", "50")
    assert r.status == 0 and len(seen) == 2 and seen[0] is seen[1]
    r = gradcalc("x^2*y", "--at", "x=1,y=2", "--hessian", "--check-timeout", "50")
    assert r.status == 0 and len(seen) == 4 and seen[2] is seen[3]
    assert seen[2].seconds == 50 and seen[0] is not seen[2]
