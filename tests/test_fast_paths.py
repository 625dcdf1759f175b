"""The tape's per-node fast paths give the same bits as the general ones.

A primitive's `scalar` forward (Python's float operators, or the C library's functions) must
agree with its numpy forward to the last bit over the whole float64 range, zeros of both signs,
subnormals, infinities, NaN and division by zero; the backward sweep's scalar branch must
agree with the array branch; and the program interpreter's flat loop must record the same tape
as the general fold with function expansion. The references are numpy's ufuncs on arrays and
the general code paths taken with vectors of one component, never the fast path itself.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from gradcalc import ops
from gradcalc.engine.evaluate import run
from gradcalc.engine.tape import Tape, Tensor, Variable, apply
from gradcalc.lang.syntax import parse

SCALAR_OPS = [p for p in ops.PRIMITIVES if p.scalar is not None]


def _values() -> np.ndarray:
    """Float64s over the whole range: log-uniform magnitudes of both signs, and the edges."""
    rng = np.random.default_rng(15)
    mags = 10.0 ** rng.uniform(-320, 308, 400)
    special = [0.0, -0.0, 5e-324, -5e-324, 2.2250738585072014e-308, 1.0, -1.0, 0.1, 3.0,
               1.7976931348623157e308, -1.7976931348623157e308, math.inf, -math.inf, math.nan]
    return np.concatenate([mags, -mags, special])


def _same(a: object, b: object) -> bool:
    """Bit for bit, NaN equal to NaN."""
    x, y = np.float64(a), np.float64(b)
    return x.tobytes() == y.tobytes() or (math.isnan(x) and math.isnan(y))


def test_the_scalar_forwards_are_declared_on_the_arithmetic_and_common_records() -> None:
    assert {p.name for p in SCALAR_OPS} == {
        "add", "sub", "mul", "div", "neg", "sin", "cos", "tan", "atan", "sinh", "cosh", "tanh",
        "exp", "log", "log2", "log10", "sqrt", "square"}


@pytest.mark.parametrize("prim", SCALAR_OPS, ids=lambda p: p.name)
def test_a_recorded_scalar_op_has_the_bits_of_its_numpy_forward(prim: ops.Primitive) -> None:
    v = _values()
    rng = np.random.default_rng(7)
    if prim.arity == 1:
        pairs = [(a,) for a in v]
    else:
        pairs = [(a, b) for a, b in zip(v, rng.permutation(v), strict=True)]
        pairs += [(a, 0.0) for a in v[::9]] + [(a, -0.0) for a in v[::11]] + [(0.0, 0.0)]
    with np.errstate(all="ignore"):
        want = prim.forward(*(np.array([p[k] for p in pairs]) for k in range(prim.arity)))
    bad = []
    for k, p in enumerate(pairs):
        got = apply(prim, *(Tensor(x) for x in p))
        assert type(got.value) is np.float64
        if not _same(got.value, want[k]):
            bad.append((p, got.value, want[k]))
    assert not bad, bad[:5]


def test_a_python_int_or_a_mixed_argument_takes_the_numpy_forward() -> None:
    x = Variable(3.0)
    with Tape() as tape:
        y = 2 * x + x * 2 + np.float64(0.5) * x
    assert float(y.value) == 13.5
    assert float(tape.gradient(y, x).value) == 4.5


def _grad(expr: str, x0: float, y0: float, vector: bool) -> tuple[float, float]:
    """d/dx and d/dy of a program, with x and y bound as scalars or as one-component vectors
    (the general, array branch of the backward sweep; `sum` makes the output scalar)."""
    if vector:
        program = parse(f"s = sum({expr})")
        r = run(program, {"x": np.array([x0]), "y": np.array([y0])})
    else:
        r = run(parse(expr), {"x": x0, "y": y0})
    g = r.gradient()
    return tuple(np.asarray(g[n], dtype=np.float64).ravel()[0] for n in ("x", "y"))


@pytest.mark.parametrize("expr", ["x/y", "x*y - y", "sin(x*3.0)*x/y + x", "-x/(y*y)",
                                  "exp(x)/y", "sqrt(x)*y - x"])
def test_the_scalar_backward_branch_has_the_bits_of_the_array_branch(expr: str) -> None:
    rng = np.random.default_rng(3)
    points = [(5e-324, 3e-10), (1e-300, 1e10), (2.0, 3e-170), (1e200, 1e-200), (0.5, 0.0)]
    points += [tuple(rng.uniform(0.1, 3.0, 2)) for _ in range(20)]
    for x0, y0 in points:
        scalar, array = _grad(expr, x0, y0, False), _grad(expr, x0, y0, True)
        assert all(_same(a, b) for a, b in zip(scalar, array, strict=True)), (
            expr, x0, y0, scalar, array)


def test_the_division_rule_keeps_bits_where_the_quotient_is_subnormal() -> None:
    # d(x/y)/dy = -x/y^2: with x/y subnormal, -(x/y)/y has lost bits; the closed form has not
    x, y = 5e-324, 3e-10
    r = run(parse("x/y"), {"x": x, "y": y})
    want = -x / (y * y)
    assert _same(r.gradient()["y"], want)


def _listing(r: object) -> list[tuple[object, ...]]:
    return [(n.op, tuple(i if type(i) is int else float(i.value) for i in n.inputs),
             float(n.value), n.label, n.span) for n in r.nodes]  # type: ignore[attr-defined]


@pytest.mark.parametrize("text", [
    "a = sin(x*2.0)*y/x + x\nb = -a + +y\nc = max(a, b, x)\nd = c*c - sqrt(y)^2\nd + pi",
    "w = x - y\nw *= w\nw /= y\n-(w + -(-x))",
])
def test_the_flat_interpreter_loop_records_the_tape_of_the_general_fold(
        text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from gradcalc.lang import interpret

    program = parse(text)
    flat = run(program, {"x": 0.7, "y": 1.3})
    # the general fold (with call expansion) runs when the program has functions
    monkeypatch.setattr(interpret, "_fold", lambda expr, env, interp: interpret.interpret_expr(
        expr, env, {"(none)": None}, interp))  # type: ignore[dict-item]
    general = run(program, {"x": 0.7, "y": 1.3})
    assert len(flat.nodes) > 8
    assert _listing(flat) == _listing(general)


@pytest.mark.parametrize("source", [
    "x", "", "  \n\n", "tax*(a*an+o*on)", "x^2 ** 3 - -y", "a = 1.5e-3*x # note\nb += a; b",
    "f(u, v) = u*v\ny = f(x, 2.)\ny", "w[0] + A[1,2] @ B", ".5 + 5. + 1e+10 + 2E-3",
    "x\t*\r y", "sin(x)\n# only a comment", "(x +\n y)", "x1.5", "a_b9 = x_1",
    "a = x\r\nb = a*a\r\nb", "x # a comment with <, == and !", "   ",
])
def test_the_one_call_tokenizer_gives_the_tokens_of_the_match_loop(source: str) -> None:
    from gradcalc.lang.syntax import _tokens, tokenize

    assert tokenize(source) == _tokens(source)


@pytest.mark.parametrize("source", ["x == y", "x < 1", "!x", "1.2.3", "1..2", "2.5.",
                                    "x $ y", "1e5.5", "x \u2212 y", "a = 'b'", "x.y"])
def test_the_tokenizer_names_the_same_bad_character_as_the_match_loop(source: str) -> None:
    from gradcalc.errors import InputError
    from gradcalc.lang.syntax import _tokens, tokenize

    with pytest.raises(InputError) as fast:
        tokenize(source)
    with pytest.raises(InputError) as slow:
        _tokens(source)
    assert (fast.value.message, fast.value.span) == (slow.value.message, slow.value.span)


def test_a_scalar_output_is_swept_with_float64_adjoints() -> None:
    # a seed of np.ones_like(scalar) is a 0-d array, and the sum's rule hands it on unchanged:
    # every adjoint of a long sum was a 0-d array, off the float64 shortcuts (2.6x slower)
    r = run(parse(" + ".join(f"sin(x*{k}.0)*y" for k in range(1, 40))), {"x": 0.3, "y": 1.7})
    kinds = {type(a) for a in r.backward.adjoints if a is not None}
    assert kinds == {np.float64}, kinds
    g = r.gradient()
    # closed forms: d/dx = y*sum k cos(kx), d/dy = sum sin(kx)
    assert g["x"] == pytest.approx(1.7 * sum(k * math.cos(0.3 * k) for k in range(1, 40)),
                                   rel=1e-13)
    assert g["y"] == pytest.approx(sum(math.sin(0.3 * k) for k in range(1, 40)), rel=1e-13)
