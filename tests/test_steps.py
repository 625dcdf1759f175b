"""--steps: the backward pass written out. The numbers are replayed from what the steps print
(each contribution from the adjoint it came from, each adjoint as the sum of its contributions
in order) and compared with the tape's partials bit for bit; the formulas are compared with
SymPy's derivatives (taken here) and with mpmath's numeric derivatives of tests/reference_ops.py.
"""

from __future__ import annotations

import re
from typing import Any

import mpmath
import numpy as np
import pytest

from gradcalc import ops
from gradcalc.engine.evaluate import Run, parse_bindings, run
from gradcalc.lang.syntax import parse, parse_expression
from gradcalc.symbolic import convert
from gradcalc.symbolic import steps as steps_mod
from gradcalc.symbolic.steps import Steps, derive, numbers, replay
from reference_ops import ELEMENTWISE

SEED = ["tax*(a*an+o*on)", "--at", "a=100,an=2,o=150,on=3,tax=1.1"]
PAYMENT = ("apple_val = apple * apple_num\norange_val = orange * orange_num\n"
           "payment = tax * (apple_val + orange_val)")
CALC = ("calc(apple, n, orange, m, tax) = tax*(apple*n + orange*m)\n"
        "payment = calc(a, an, o, on, tax)")


def _run(source: str, at: str, wrt: list[str] | None = None) -> Run:
    return run(parse(source), parse_bindings([at]), wrt)


def _bits(x: Any) -> bytes:
    return np.asarray(x, dtype=np.float64).tobytes()


def _assert_replays(r: Run, st: Steps) -> None:
    """The steps' numbers, replayed, give the tape's adjoints and partials bit for bit."""
    assert r.backward is not None
    adj = r.backward.adjoints
    for j, step in st.steps.items():
        assert _bits(step.adjoint) == _bits(adj[j]), step.name
        total = None
        for got in step.received:
            source = st.steps[got.source].adjoint
            assert _bits(got.adjoint) == _bits(source)
            parts = got.parts if got.parts is not None else [got.value]
            if got.ops is not None:    # the tape's own arithmetic, replayed exactly
                assert _bits(replay(got.ops, source)) == _bits(got.value), (step.name, got)
                if [op for op, _ in got.ops] == ["*"]:   # adjoint times local: the product
                    assert _bits(got.adjoint * got.local) == _bits(got.value)
            for p in parts:
                total = p if total is None else total + p
        if step.received:
            assert _bits(total) == _bits(step.adjoint), step.name
    replayed = st.replayed()
    for name, g in r.gradient().items():
        if g is None:
            assert st.partials[name] == []
        else:
            assert _bits(replayed[name]) == _bits(g), name


# ---------------------------------------------------------------- the text


def test_seed_steps_end_with_the_product_that_gives_the_partial(gradcalc) -> None:
    r = gradcalc(*SEED, "--steps")
    assert r.status == 0
    block = r.out.split("\nd/da:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert [line.split()[0] for line in block[1:]] == ["t8", "t7", "t5", "a"]  # sweep order
    assert block[-1].endswith("from t5: tax * an = 1.1 * 2 = 2.2")
    assert "d/dt7 = tax" in block[1] and "1 (the seed)" in block[1]
    tax = r.out.split("\nd/dtax:\n", 1)[1].split("\nnote:", 1)[0].splitlines()
    assert tax[-1].endswith("from t8: 1 * (a*an + o*on) = 1 * 650 = 650")


def test_a_node_used_twice_shows_both_contributions_and_their_sum(gradcalc) -> None:
    r = gradcalc("x*x", "--at", "x=3", "--steps")
    lines = r.out.split("\nd/dx:\n", 1)[1].splitlines()
    assert "d/dx = x (argument 1)" in lines[1] and "d/dx = x (argument 2)" in lines[2]
    assert lines[3].endswith("from t1 (argument 1): 1 * x = 1 * 3 = 3")
    assert lines[4].endswith("from t1 (argument 2): 1 * x = 1 * 3 = 3")
    assert lines[5].endswith("sum: 2*x = 3 + 3 = 6")


def test_a_program_keeps_its_names_in_the_formulas(gradcalc) -> None:
    r = gradcalc(PAYMENT, "--at", "apple=100,apple_num=2,orange=150,orange_num=3,tax=1.1",
                 "--steps", "--wrt", "apple,tax")
    block = r.out.split("\nd/dapple:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    # (orange and orange_num are not watched: orange_val is a constant, not on the tape)
    assert [line.split()[0] for line in block[1:]] == ["payment", "t3", "apple_val", "apple"]
    assert block[-1].endswith("from apple_val: tax * apple_num = 1.1 * 2 = 2.2")
    tax = r.out.split("\nd/dtax:\n", 1)[1].splitlines()
    assert "d/dtax = apple_val + orange_val" in tax[1]


def test_collapse_folds_a_call_into_one_step(gradcalc) -> None:
    r = gradcalc(CALC, "--at", "a=100,an=2,o=150,on=3,tax=1.1", "--steps", "--collapse")
    block = r.out.split("\nd/da:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert block[1].split()[:3] == ["t5..t8", "payment", "calc(a,"]
    assert "d/da = an*tax" in block[1]
    assert block[2].endswith("from payment: 1 * (an*tax) = 1 * 2.2 = 2.2")
    plain = gradcalc(CALC, "--at", "a=100,an=2,o=150,on=3,tax=1.1", "--steps")
    assert "calc/t5" in plain.out     # without --collapse, the call's own nodes


def test_json_carries_the_steps_as_data(gradcalc) -> None:
    obj = gradcalc(*SEED, "--steps", "--format", "json").json()
    steps = obj["steps"]
    assert steps["partials"]["a"] == [8, 7, 5, 0] and steps["output"] == 8
    by_id = {s["node"]: s for s in steps["nodes"]}
    a = by_id[0]["received"][0]
    assert (a["from"], a["argument"], a["formula"], a["adjoint"], a["local"], a["value"],
            a["ops"]) == (5, 1, "tax * an", 1.1, 2.0, 2.2, [["*", 2.0]])
    assert by_id[0]["formula"] == "an*tax" and by_id[7]["operation"] == "t5 + t6"
    assert by_id[8]["local"][1] == {"input": 7, "name": "t7", "argument": 2, "formula": "tax",
                                    "value": 1.1}
    # the JSON alone replays the partials: each contribution from its source's adjoint
    for node in steps["nodes"]:
        total = None
        for got in node["received"]:
            v = np.float64(by_id[got["from"]]["adjoint"])
            for op, x in got["ops"]:
                v = v * x if op == "*" else v / x if op == "/" else -v
            total = v if total is None else total + v
        if node["received"]:
            assert total == node["adjoint"]
    assert {n: by_id[ids[-1]]["adjoint"] for n, ids in steps["partials"].items()} == \
        obj["gradient"]


def test_html_graph_shows_a_nodes_step_on_hover(gradcalc, tmp_path) -> None:
    path = tmp_path / "g.html"
    assert gradcalc(*SEED, "--steps", "--graph", str(path)).status == 0
    page = path.read_text()
    box = page.split('id="t5"', 1)[1].split("</title>", 1)[0]
    assert "data-step=" in box and "adjoint from t7: tax * 1 = 1.1 * 1 = 1.1" in box
    assert "d/da = an" in box
    plain = tmp_path / "p.html"
    gradcalc(*SEED, "--graph", str(plain))
    assert "data-step" not in plain.read_text()     # only with --steps


@pytest.mark.parametrize("argv, word", [
    (["x*y", "--points", "p.csv", "--steps"], "--points"),
    (["x*y", "--at", "x=1,y=2", "--hessian", "--steps"], "--hessian"),
    (["x*y", "--at", "x=1,y=2", "--of", "x,y", "--steps"], "several --of"),
    (["x*y", "--claim", "x: y", "--steps"], "--at"),
    (["x*y", "--at", "x=1,y=2", "--symbolic", "text", "--steps"], "--symbolic"),
])
def test_steps_refuses_what_has_no_one_backward_pass(gradcalc, argv, word, tmp_path,
                                                     monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "p.csv").write_text("x,y\n1,2\n")
    r = gradcalc(*argv)
    assert r.status == 2 and r.out == ""
    assert r.err.startswith("error: ") and word in r.err and len(r.err.splitlines()) == 1


# ---------------------------------------------------------------- the numbers, replayed


def _scalar_primitives() -> list[ops.Primitive]:
    return [p for p in ops.PRIMITIVES if not p.reduction and p is not ops.STOP_GRADIENT
            and (p.spelling is not None or p.symbol is not None)]


def _call_text(p: ops.Primitive) -> str:
    if p is ops.NEG:
        return "-x"
    if p.spelling is None or p is ops.POW:
        return f"x {p.symbol} y"
    return f"{p.spelling}(x)" if p.arity == 1 else f"{p.spelling}(x, y)"


def _point(p: ops.Primitive) -> dict[str, float]:
    lo, hi = p.sample_interval(0)
    lo2, hi2 = p.sample_interval(1)
    return {"x": lo + 0.37 * (hi - lo), "y": lo2 + 0.71 * (hi2 - lo2)}


@pytest.mark.parametrize("prim", _scalar_primitives(), ids=lambda p: p.name)
def test_every_primitives_step_replays_the_tape_bit_for_bit(prim: ops.Primitive) -> None:
    # an upstream adjoint that is not 1, and the primitive's value used twice
    pt = _point(prim)
    text = f"u = {_call_text(prim)}\nout = sin(u)*1.3 + u*u"
    names = ["x", "y"] if "y" in _call_text(prim) else ["x"]
    r = run(parse(text), {n: pt[n] for n in names})
    st = numbers(r)
    _assert_replays(r, st)
    u = next(s for s in st.steps.values() if s.name == "u")
    for loc in u.locals:   # every scalar rule only scales its cotangent: replayable exactly
        got = next(g for g in st.steps[loc.input].received if g.source == u.node
                   and g.arg == loc.arg)
        assert got.ops is not None, f"{prim.name} argument {loc.arg + 1}"


PROGRAMS = [
    ("tax*(a*an+o*on)", "a=100,an=2,o=150,on=3,tax=1.1"),
    (PAYMENT, "apple=100,apple_num=2,orange=150,orange_num=3,tax=1.1"),
    ("x^2*sin(x)/y + log(y) - x/y/y", "x=0.5,y=2"),
    ("c = a*b; c += sin(a); c *= c; d = c/(1 + a^2)", "a=0.3,b=-1.7"),
    ("sq(t) = t*t; f(u, v) = sq(u) + u*v; loss = f(w, 3) + f(w*2, w); loss *= 2", "w=1.5"),
    ("sum((w*x - y)^2) + w[1]*dot(w, x)", "w=[0.5,-1],x=[1,2],y=[1,0]"),
    ("s*sum(w) + norm(w)*s", "w=[0.3,-1.2,2],s=0.7"),
    ("sum((X@w - y)^2) + trace(X)*det(X)", "X=[[1,2],[3,4]],w=[1,2],y=[0,1]"),
    ("logsumexp(softmax(w)*3) + max(w)", "w=[0.1,0.5,-0.3]"),
]


@pytest.mark.parametrize("source, at", PROGRAMS)
@pytest.mark.parametrize("collapse", [False, True])
def test_programs_replay_the_tape_bit_for_bit(source: str, at: str, collapse: bool) -> None:
    r = _run(source, at)
    _assert_replays(r, numbers(r, collapse))


def test_wrt_limits_the_steps_to_the_named_partials() -> None:
    r = _run("x*y + y*z", "x=1,y=2,z=3", ["x"])
    st = numbers(r)
    assert list(st.partials) == ["x"]
    assert [st.steps[j].name for j in st.partials["x"]] == ["t2", "t1", "x"]
    _assert_replays(r, st)


# ---------------------------------------------------------------- the formulas


def _sympy_of(text: str, env: dict[str, Any]) -> Any:
    """A printed formula back in SymPy, through gradcalc's own parser (never sympify)."""
    return convert.expr_to_sympy(parse_expression(text), env)


@pytest.mark.parametrize("prim", _scalar_primitives(), ids=lambda p: p.name)
def test_every_primitives_local_derivative_is_sympys_and_mpmaths(prim: ops.Primitive) -> None:
    sp = convert.namespace()
    pt = _point(prim)
    call = _call_text(prim)
    names = ["x", "y"] if "y" in call else ["x"]
    r = run(parse(f"u = {call}\nout = u*3"), {n: pt[n] for n in names})
    st = derive(r)
    assert st.formulas and not st.note
    u = next(s for s in st.steps.values() if s.name == "u")
    symbols = {n: convert.symbol(n) for n in names}
    f = prim.sympy(sp, *(symbols[n] for n in names)) if prim is not ops.NEG else -symbols["x"]
    reference = ELEMENTWISE[prim.name]
    for loc in u.locals:
        name = names[loc.arg]
        assert loc.formula is not None
        # SymPy's derivative, taken here, is the printed formula
        want = sp.diff(f, symbols[name])
        if re.search(r"\b[A-Z]", loc.formula):   # Heaviside, Sign: not in the language
            assert loc.formula == convert.form(want)
        else:
            got = convert.display(_sympy_of(loc.formula, symbols))
            assert sp.simplify(got - want) == 0, (loc.formula, want)
        # mpmath's numeric derivative of the reference function is the printed number
        with mpmath.workdps(40):
            args = [mpmath.mpf(pt[n]) for n in names]
            k = names.index(name)
            d = mpmath.diff(lambda t, a=args, k=k: reference(*a[:k], t, *a[k + 1:]), args[k])
        assert float(loc.value) == pytest.approx(float(d), rel=1e-13, abs=1e-300)


def _names_env(r: Run) -> dict[str, Any]:
    """Every name the formulas may use: the bindings' symbols, and each named intermediate's
    SymPy form over them (taken here from the program)."""
    env: dict[str, Any] = {n: convert.symbol(n) for n in r.bindings}
    for stmt in r.program.statements:
        target = getattr(stmt, "target", None)
        if target is not None and target not in env:
            env[target] = convert.program_to_sympy(r.program, list(r.bindings), of=target)
    return env


@pytest.mark.parametrize("source, at", PROGRAMS[:5])
def test_each_partials_formula_is_sympys_derivative(source: str, at: str) -> None:
    sp = convert.namespace()
    r = _run(source, at)
    st = derive(r)
    f = convert.program_to_sympy(r.program, list(r.bindings))
    env = _names_env(r)
    checked = 0
    for name, path in st.partials.items():
        last = st.steps[path[-1]]
        if last.formula is None:
            continue
        got = convert.display(_sympy_of(last.formula, env))
        want = convert.display(sp.diff(f, convert.symbol(name)))
        assert sp.simplify(got - want) == 0, (name, last.formula)
        checked += 1
    assert checked == len(st.partials)


@pytest.mark.parametrize("source, at", PROGRAMS[:5])
def test_every_printed_formula_gives_its_printed_number(source: str, at: str) -> None:
    # each formula, read back and evaluated at the point with the tape's intermediates, is
    # the number printed beside it (formulas and numbers are not two different stories)
    r = _run(source, at)
    st = derive(r)
    point = {convert.symbol(n): v for n, v in r.bindings.items()}
    values = {convert.symbol(n.title): n.value for n in r.nodes}
    env = {n.title: convert.symbol(n.title) for n in r.nodes if re.fullmatch(r"\w+", n.title)}
    env.update({n: convert.symbol(n) for n in r.bindings})

    def close(text: str, number: Any) -> None:
        e = _sympy_of(text, env).xreplace({**values, **point})
        assert float(e) == pytest.approx(float(number), rel=1e-12, abs=1e-12), text

    for step in st.steps.values():
        if step.formula is not None:
            close(step.formula, step.adjoint)
        for loc in step.locals:
            if loc.formula is not None:
                close(loc.formula, loc.value)


def test_vector_formulas_are_elementwise_where_they_can_be(gradcalc) -> None:
    r = gradcalc("sq(t) = t*t; loss = sum(sq(w*x - y))", "--at", "w=[0.5,-1],x=[1,2],y=[1,0]",
                 "--steps", "--wrt", "w")
    block = r.out.split("\nd/dw:\n", 1)[1].splitlines()
    assert block[-1].endswith(": (2*w*x - 2*y) * x = [-1, -4] * [1, 2] = [-1, -8]"), block[-1]


def test_matrix_partials_end_with_the_checks_matrix_notation(gradcalc) -> None:
    r = gradcalc("sum((X@w - y)^2)", "--at", "X=[[1,2],[3,4]],w=[1,2],y=[0,1]", "--steps")
    assert r.status == 0
    block = " ".join(r.out.split("\nd/dw:\n", 1)[1].split("\n\n", 1)[0].split())
    assert "in matrix notation (SymPy's matrix calculus, as the check found it): d/dw = " \
        "2*transpose(X)@(X@w - y)" in block


def test_matrix_operations_contribute_in_matrix_notation(gradcalc) -> None:
    # SymPy's matrix calculus of each operation, kept only where it gives the tape's numbers
    r = gradcalc("sum((X@w - y)^2)", "--at", "X=[[1,2],[3,4]],w=[1,2],y=[0,1]", "--steps")
    assert "from t3: transpose(X)@(2*t3 - 2*y) = [70, 100]" in r.out
    assert "from t3: outer(2*t3 - 2*y, w) = 2x2 [[10, 20], [20, 40]]" in r.out
    r = gradcalc("logdet(A)*c", "--at", "A=[[2,1],[1,3]],c=2", "--steps", "--wrt", "A")
    assert "d/dA = inv(transpose(A))" in r.out
    assert "from t1: c * inv(transpose(A)) = 2 * 2x2 [[0.6, -0.2], [-0.2, 0.4]] = 2x2 [[1.2, " \
           "-0.4], [-0.4, 0.8]]" in r.out


# ---------------------------------------------------------------- the cache


def test_cached_formulas_need_no_sympy_and_are_the_same(monkeypatch) -> None:
    from gradcalc.symbolic import sandbox

    r = _run(PAYMENT, "apple=100,apple_num=2,orange=150,orange_num=3,tax=1.1")
    first = derive(r, cache=True)
    assert first.formulas

    def refuse(*args: Any) -> Any:
        raise AssertionError("the formulas were derived again")

    monkeypatch.setattr(sandbox, "start_with_budget", refuse)
    r2 = _run(PAYMENT, "apple=3,apple_num=-2,orange=0.5,orange_num=7,tax=2")  # another point
    again = derive(r2, cache=True)
    assert again.formulas
    assert [(s.formula, [loc.formula for loc in s.locals], [g.product for g in s.received])
            for s in again.steps.values()] == \
        [(s.formula, [loc.formula for loc in s.locals], [g.product for g in s.received])
         for s in first.steps.values()]
    _assert_replays(r2, again)       # the numbers are the new point's


def test_the_cache_key_holds_what_the_formulas_read() -> None:
    # an unwatched subexpression is a constant of the tape: its value is in the formulas
    one = derive(_run("tax*(a*an+o*on)", "a=100,an=2,o=150,on=3,tax=1.1", ["a", "tax"]),
                 cache=True)
    two = derive(_run("tax*(a*an+o*on)", "a=100,an=2,o=151,on=3,tax=1.1", ["a", "tax"]),
                 cache=True)
    tax = [next(s for s in st.steps.values() if s.name == "tax") for st in (one, two)]
    assert tax[0].formula == "a*an + 450" and tax[1].formula == "a*an + 453"


def test_a_damaged_cache_entry_is_derived_again(tmp_path, monkeypatch) -> None:
    from gradcalc.symbolic import cache

    r = _run("x*x", "x=3")
    derive(r, cache=True)
    for path in cache.cache_dir().glob("*.json"):
        text = path.read_text()
        if '"kind":"steps"' in text:
            path.write_text(text.replace('"x"', '"y"'))    # the checksum no longer holds
    again = derive(r, cache=True)
    assert again.formulas and again.steps[0].formula == "2*x"


# ---------------------------------------------------------------- bounds


def test_long_formulas_give_way_to_numbers(gradcalc) -> None:
    chain = "; ".join(["v0 = sin(x)*x"] + [f"v{k} = sin(v{k - 1})*v{k - 1} + x"
                                           for k in range(1, 40)])
    r = gradcalc(chain, "--at", "x=0.3", "--steps")
    assert r.status == 0
    assert "(formula too long)" in r.out
    assert f"a formula longer than {steps_mod.FORMULA} SymPy nodes is shown as its number" \
        in r.out
    st = derive(_run(chain, "x=0.3"))
    _assert_replays(_run(chain, "x=0.3"), st)


def test_no_time_left_leaves_the_numbers_and_says_time_limit(gradcalc) -> None:
    r = gradcalc(*SEED, "--steps", "--check-timeout", "0", "--format", "json")
    steps = r.json()["steps"]
    assert steps["formulas"] is False
    assert steps["note"] == ("no formulas (time limit: the 0 s for checking passed first): "
                             "numbers only")
    assert r.status == 4   # the check the deadline stopped is skipped: not verified
    assert all(s["formula"] is None for s in steps["nodes"])
    assert steps["nodes"][-1]["adjoint"] == 2.2


def test_too_many_steps_keep_numbers_only(monkeypatch) -> None:
    monkeypatch.setattr(steps_mod, "MAX_STEPS", 3)
    r = _run("tax*(a*an+o*on)", "a=100,an=2,o=150,on=3,tax=1.1")
    st = derive(r)
    assert not st.formulas and "at most 3 steps" in st.note
    _assert_replays(r, st)


def test_a_constant_output_has_no_steps(gradcalc) -> None:
    r = gradcalc("2*3 + y", "--at", "x=1,y=2", "--wrt", "x", "--steps")
    assert r.status == 0 and "steps: none (no gradient reaches a differentiated name" in r.out
    r = gradcalc("stop_gradient(x)*y", "--at", "x=1,y=2", "--wrt", "x,y", "--steps")
    assert "d/dx: no steps (no gradient reaches x from the output)" in r.out


def test_nonfinite_adjoints_are_written_out_too(gradcalc) -> None:
    r = gradcalc("sqrt(x)*y", "--at", "x=0,y=2", "--steps", "--format", "json")
    assert r.status == 3          # d/dx is inf: the steps show where it came from
    nodes = {n["name"]: n for n in r.json()["steps"]["nodes"]}
    got = nodes["x"]["received"][0]
    assert (got["adjoint"], got["local"], got["value"]) == (2.0, "inf", "inf")
    assert nodes["x"]["adjoint"] == "inf" and nodes["t2"]["local"][0]["formula"] == \
        "1/(2*sqrt(x))"
