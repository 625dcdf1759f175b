"""The flat engine: a point's run on Python floats, a batch's replay over columns and the Python
API give the same bits for every primitive of the op table, the inlined arithmetic is its
records' rules bit for bit, and the flat program keeps the tape's structure.

The references are the general paths themselves taken another way (numpy columns, the op
table's rules called on float64 values), never the fast path under test.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from gradcalc import Tape, Variable, ops, ops_matrix
from gradcalc.batch import rows
from gradcalc.engine import evaluate, sweep
from gradcalc.engine.program import code_of
from gradcalc.lang.syntax import parse


def _elementwise() -> list[ops.Primitive]:
    """The table's elementwise primitives the language spells (operators and functions)."""
    out = []
    for p in ops.PRIMITIVES:
        if p.reduction or p in ops_matrix.MATRIX_PRIMITIVES:
            continue
        if p.symbol in ("+", "-", "*", "/", "^") or (
                p.spelling is not None and ops.resolve(p.spelling, p.arity or 2) is p):
            out.append(p)
    return out


ELEMENTWISE = _elementwise()


def _text(prim: ops.Primitive, names: list[str]) -> str:
    if prim is ops.NEG:
        return f"-{names[0]}"
    if prim.symbol in ("+", "-", "*", "/", "^") and len(names) == 2:
        return f"{names[0]} {prim.symbol} {names[1]}"
    return f"{prim.spelling}({', '.join(names)})"


def _arity(prim: ops.Primitive) -> int:
    return prim.arity if prim.arity is not None else 3


def _samples(prim: ops.Primitive, n: int = 12) -> list[tuple[float, ...]]:
    """Points inside each argument's sample interval, plus edges (zeros, a subnormal, huge
    values) where the primitive may be undefined: the bits must agree there too."""
    rng = np.random.default_rng(abs(hash(prim.name)) % 2 ** 32)
    k = _arity(prim)
    pts = [tuple(float(rng.uniform(*prim.sample_interval(i))) for i in range(k))
           for _ in range(n)]
    edges = [0.0, -0.0, 5e-324, 1e300, -2.5, 1.0]
    pts += [tuple(edges[(j + i) % len(edges)] for i in range(k)) for j in range(len(edges))]
    return pts


def _bits(a: object) -> bytes:
    v = np.float64(a)
    return b"nan" if math.isnan(v) else v.tobytes()


@pytest.mark.parametrize("prim", ELEMENTWISE, ids=lambda p: p.name)
def test_a_point_a_batch_and_the_api_agree_bit_for_bit(prim, tmp_path) -> None:
    names = ["x", "y", "z"][: _arity(prim)]
    program = parse(_text(prim, names))
    pts = _samples(prim)
    path = tmp_path / "p.csv"
    path.write_text(",".join(names) + "\n" + "".join(
        ",".join(repr(v) for v in p) + "\n" for p in pts))
    with np.errstate(all="ignore"):
        batch = rows.run_batch(program, rows.read_points(str(path)), {}, None, None)
    differ = []
    for row, p in enumerate(pts):
        point = evaluate.run(program, dict(zip(names, p, strict=True)))
        assert point.ex.scalar  # the Python-float path
        g = point.gradient()
        variables = [Variable(v) for v in p]
        with Tape() as tape:
            y = prim_api(prim, variables)
        api = tape.gradient(y, variables)
        column = {n: None if batch.gradient[n] is None else batch.gradient[n][row]
                  for n in names}
        for what, got, want in [("value", point.value, batch.value[row]),
                                ("api value", y.value, batch.value[row])] + [
                (f"d/d{n}", g[n], column[n]) for n in names] + [
                (f"api d/d{n}", None if a is None else a.value, column[n])
                for n, a in zip(names, api, strict=True)]:
            if (got is None) != (want is None) or got is not None and _bits(got) != _bits(want):
                differ.append((p, what, got, want))
    assert not differ, differ[:4]


def prim_api(prim: ops.Primitive, args: list[Variable]) -> object:
    """prim applied through the Python API's operators and functions."""
    from gradcalc import functions

    if prim is ops.NEG:
        return -args[0]
    ops_ = {"+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b,
            "/": lambda a, b: a / b, "^": lambda a, b: a ** b}
    if prim.symbol in ops_:
        return ops_[prim.symbol](*args)
    return getattr(functions, prim.spelling if prim.spelling != "log" or prim.arity == 1
                   else "log")(*args)


def _values() -> list[float]:
    rng = np.random.default_rng(26)
    mags = list(10.0 ** rng.uniform(-320, 308, 60))
    special = [0.0, -0.0, 5e-324, -5e-324, 2.2250738585072014e-308, 1.0, -1.0, 0.1, 3.0,
               1.7976931348623157e308, math.inf, -math.inf, math.nan]
    return [float(v) for v in (*mags, *(-m for m in mags), *special)]


INLINED = [p for p in ops.PRIMITIVES if sweep.opcode(p, p.arity or 2) in
           (sweep.ADD, sweep.SUB, sweep.MUL, sweep.DIV, sweep.NEG)]


def test_the_inlined_records_are_the_arithmetic_ones() -> None:
    assert {p.name for p in INLINED} == {"add", "sub", "mul", "div", "neg"}


@pytest.mark.parametrize("prim", INLINED, ids=lambda p: p.name)
def test_inlined_arithmetic_is_its_records_rules_bit_for_bit(prim) -> None:
    # the Plan's inlined forward and backward against the record's forward and rules on
    # float64 values, over the whole range, zeros, subnormals, infinities, nan and 0 divisors
    v = _values()
    rng = np.random.default_rng(3)
    pairs = [(a, b) for a, b in zip(v, rng.permutation(v), strict=True)]
    pairs += [(a, 0.0) for a in v[::5]] + [(a, -0.0) for a in v[::7]] + [(0.0, 0.0)]
    pairs += [(5e-324, 3e-10), (1e-300, 1e300), (-1e-310, 7.0)]
    g0 = [1.0, -0.0, 2.5e-300, 3e300]
    bad = []
    for j, (x, y) in enumerate(pairs):
        args = (x,) if prim.arity == 1 else (x, y)
        g = g0[j % len(g0)]
        # one instruction: slots 0 (and 1) are its arguments, the last its value; the
        # adjoint g arrives through a multiplication by g's slot
        n = len(args)
        op = sweep.opcode(prim, n)
        vals: list[object] = [*args, None, g, None]
        plan = [(op, n, 0, 1 if n == 2 else 0, prim), (sweep.MUL, n + 2, n, n + 1, ops.MUL)]
        with np.errstate(all="ignore"):
            sweep.scalar_forward(plan, vals, lambda k: 0.0)
            want_value = prim.forward(*map(np.float64, args))
            adj = sweep.scalar_backward(plan, [], [], vals, [1] * len(vals), n + 2)
            want = [rule(np.float64(g), np.float64(want_value), *map(np.float64, args))
                    for rule in prim.vjps]
        if _bits(vals[n]) != _bits(want_value):
            bad.append(("value", args, vals[n], want_value))
        for i in range(n):
            # (x*x: both contributions land on one slot; here the arguments are two slots)
            if _bits(adj[i]) != _bits(want[i]):
                bad.append((f"d/darg{i}", args, g, adj[i], want[i]))
    assert not bad, bad[:5]


SCALAR_RULES = [p for p in ops.PRIMITIVES if any(
    p.scalar_vjp(i) is not None for i in range(len(p.vjps)))]


def test_the_common_records_have_scalar_rules() -> None:
    assert {p.name for p in SCALAR_RULES} >= {"sin", "cos", "exp", "log", "tanh", "sqrt"}


@pytest.mark.parametrize("prim", SCALAR_RULES, ids=lambda p: p.name)
def test_a_scalar_rule_is_its_records_rule_bit_for_bit(prim) -> None:
    # the form on Python floats against the numpy rule on float64 values, over the whole
    # range, zeros, subnormals, infinities and nan, with cotangents far from 1; where the form
    # raises (Python has no float there), the sweep runs the rule itself
    v = _values()
    g0 = [1.0, -0.0, 2.5e-300, 3e300, -1.5]
    bad, ran = [], 0
    for j, x in enumerate(v):
        g = g0[j % len(g0)]
        with np.errstate(all="ignore"):
            ans = float(prim.forward(np.float64(x)))
            want = prim.vjps[0](np.float64(g), np.float64(ans), np.float64(x))
        try:
            got = prim.scalar_vjp(0)(g, ans, x)
        except (ArithmeticError, ValueError):
            continue
        ran += 1
        if type(got) is not float or _bits(got) != _bits(want):
            bad.append((x, g, got, want))
    assert not bad, bad[:5]
    assert ran > len(v) // 3   # (the form ran: not everything handed over)


def test_a_copy_of_a_record_with_other_rules_runs_its_rules() -> None:
    import dataclasses

    wrong = dataclasses.replace(ops.SIN, vjps=(lambda g, ans, x: -g * np.cos(x),))
    assert ops.SIN.scalar_vjp(0) is not None and wrong.scalar_vjp(0) is None
    values = [0.5, math.sin(0.5)]
    prims = [None, wrong]
    plan = [(sweep.opcode(wrong, 1), 1, 0, 0, wrong)]
    adj = sweep.scalar_backward(plan, prims, [(), (0,)], values, [1, 1], 1)
    assert adj[0] == -math.cos(0.5)


def test_the_probe_refuses_a_library_function_with_other_bits() -> None:
    # a function one ulp off numpy's at some points is refused (its scalar forms then hand
    # over to numpy); the C library's sin, which numpy calls here, or not, is decided the same
    from gradcalc.ops import same_bits

    def off(x: float) -> float:
        y = math.sin(x)
        return math.nextafter(y, math.inf) if int(abs(x) * 1e6) % 97 == 0 else y

    assert not same_bits(np.sin, off)
    assert same_bits(np.sqrt, math.sqrt)   # correctly rounded both (IEEE 754)


def test_a_library_function_numpy_does_not_use_hands_over_to_numpy(monkeypatch) -> None:
    # as on a machine where numpy's cos is its own SIMD code: the point's d/dx is the rule's
    from gradcalc.ops import _LIBM, _not_libm

    monkeypatch.setattr(_LIBM, "cos", _not_libm, raising=False)
    monkeypatch.setattr(_LIBM, "sin", _not_libm, raising=False)
    r = evaluate.run(parse("sin(x)"), {"x": 0.7})
    assert r.ex.scalar
    with np.errstate(all="ignore"):
        want = ops.SIN.vjps[0](np.float64(1.0), np.sin(np.float64(0.7)), np.float64(0.7))
    assert _bits(r.gradient()["x"]) == _bits(want) and _bits(r.value) == _bits(np.sin(0.7))


def test_the_flat_program_is_the_tape_of_the_run() -> None:
    # the nodes made from the flat program are those recording would give: watched names
    # first in --wrt order, operations in evaluation order, constants folded into Const
    r = evaluate.run(parse("f(u) = u*u + 1\nc = y*2\na = f(x) + c\nb = a*pi\nb"),
                     {"x": 0.5, "y": 3.0}, wrt=["x"])
    listing = [(n.id, n.op, n.label, tuple(i if isinstance(i, int) else (i.name, float(i.value))
                                          for i in n.inputs)) for n in r.nodes]
    assert listing == [
        (0, "input", "x", ()),
        (1, "mul", "f/t1", (0, 0)),
        (2, "add", "f/t2", (1, (None, 1.0))),
        (3, "add", "a", (2, ("c", 6.0))),
        (4, "mul", "b", (3, ("pi", math.pi))),
    ]
    assert [(c.func, c.first, c.end) for c in r.calls] == [("f", 1, 3)]
    assert r.target_id() == 4 and float(r.gradient()["x"]) == pytest.approx(math.pi)


def test_a_program_is_compiled_once() -> None:
    program = parse("y = x*x\ny + 1")
    assert code_of(program) is code_of(program)


def test_a_long_sum_on_python_floats_matches_its_closed_form() -> None:
    n = 20_000
    program = parse(" + ".join(f"{k}*x^2" for k in range(1, n + 1)))
    r = evaluate.run(program, {"x": 0.5})
    assert r.ex.scalar
    total = n * (n + 1) // 2
    assert float(r.value) == pytest.approx(total * 0.25, rel=1e-12)
    assert float(r.gradient()["x"]) == pytest.approx(total * 1.0, rel=1e-12)


# ---------------------------------------------------------------- the one-pass compiler

ONE_PASS = [
    "x*y + 3", "-x^2", "x**-y", "- -x", "+x - +y", "2^3^x", "x % 3 * 2 - -y % 2",
    "a = x*2\nb = a + y\na*b", "a = x; a += y; a *= 2; a -= x; a /= y; a",
    "s = sin(x)*cos(y)\nt = atan2(s, y) + log(x, 2)\nt", "max(x, y, 3) + min(x, 2)",
    "sum(x*y) + 2", "(x +\n y) * 2", "x*y  # a comment\n", "pi*x + e", "q = x\nq*y\n",
    "1.5e3*x + .5 - 2.",
    "f = x*y\nf", "hypot(x, y) / (1 + x)",
]


@pytest.mark.parametrize("text", ONE_PASS)
def test_the_one_pass_compiler_makes_the_tree_compilers_instructions(text) -> None:
    from gradcalc.engine.program import compile_program, parse_flat

    program = parse_flat(text)
    code = program.compiled
    assert code.offsets is not None   # compiled in one pass, not by the full parser
    tree = compile_program(parse(text))
    assert code.same_as(tree)
    assert code.plan() == tree.plan()  # the sweep's plan, made as it emits
    assert program == parse(text)     # its syntax tree, parsed when read, is the parser's


@pytest.mark.parametrize("prim", ELEMENTWISE, ids=lambda p: p.name)
def test_the_one_pass_compiler_knows_every_elementwise_primitive(prim) -> None:
    from gradcalc.engine.program import compile_program, parse_flat

    text = "a = " + _text(prim, ["x", "y", "z"][: _arity(prim)]) + "\na * x"
    code = parse_flat(text).compiled
    assert code.offsets is not None
    tree = compile_program(parse(text))
    assert code.same_as(tree) and code.plan() == tree.plan()


@pytest.mark.parametrize("text", ["x +", "x y", "(x", "x)", "sin(x", "50%", "f(x) = x*x\nf(2)",
                                  "v = x\nv[1]", "x = = 1", "1.2.3", "x + ٣", "sin x"])
def test_what_the_one_pass_compiler_leaves_is_the_parsers(text) -> None:
    from gradcalc.engine.program import parse_flat
    from gradcalc.errors import InputError

    try:
        want: object = parse(text)
    except InputError as exc:
        want = str(exc)
    try:
        got: object = parse_flat(text)
    except InputError as exc:
        got = str(exc)
    assert got == want


def _rule_at(prim: ops.Primitive, pts: list[tuple[float, ...]]) -> tuple[list, list]:
    """d/d(first argument) by the record's rule at each point alone and in one column."""
    cols = [np.array([p[i] for p in pts]) for i in range(_arity(prim))]
    with np.errstate(all="ignore"):
        column = prim.vjps[0](np.float64(1.0), prim.forward(*cols), *cols)
        points = [prim.vjps[0](np.float64(1.0), prim.forward(*map(np.float64, p)),
                               *map(np.float64, p)) for p in pts]
    return points, list(column)


def test_pow_at_a_zero_base_and_a_tiny_exponent_is_the_limit_in_a_point_and_a_column() -> None:
    # d/dx x^y = y*x^(y-1) at x = -0.0, y = 5e-324: y - 1 rounds to -1 (whose power of -0 is
    # -inf), but is no integer: the partial is +inf from both sides of 0 (mpmath: positive and
    # growing without bound as x shrinks to 0). It was -inf at the point and inf in a column
    # where another row splits the power (1e300^-3.5 underflows); and -0.0 (x^2's 2x at -0.0)
    # kept its sign beside such a row.
    import mpmath

    y = mpmath.mpf(5e-324)
    near = [y * mpmath.power(mpmath.mpf(10) ** -k, y - 1) for k in (400, 800, 1600)]
    assert 0 < near[0] < near[1] < near[2]
    points, column = _rule_at(ops.POW, [(-0.0, 5e-324), (1e300, -2.5), (-0.0, 2.0)])
    assert [_bits(v) for v in points] == [_bits(v) for v in column]
    assert points[0] == math.inf
    assert _bits(points[2]) == _bits(-0.0)   # 2*(-0.0)
    want = float(-2.5 * mpmath.power(mpmath.mpf(1e300), -3.5))   # rounds to -0.0
    assert _bits(points[1]) == _bits(want)


def test_atanh_beyond_its_domain_is_the_closed_form_in_a_point_and_a_column() -> None:
    # atanh'(x) = 1/(1 - x^2): at x = 1e300 -1e-600 (mpmath), which rounds to -0.0; it was nan
    # in a column beside a row with |x| < 1/2 (the row mask times the other formula's -inf)
    import mpmath

    pts = [(1e300,), (0.2,), (-0.7,), (math.inf,)]
    points, column = _rule_at(ops.ATANH, pts)
    assert [_bits(v) for v in points] == [_bits(v) for v in column]
    with mpmath.workprec(200):
        for (x,), got in zip(pts[:3], points, strict=False):
            want = float(1 / (1 - mpmath.mpf(x) ** 2))
            assert _bits(got) == _bits(want) or abs(got - want) <= 2e-16 * abs(want)
    assert _bits(points[0]) == _bits(-0.0)


def test_a_call_record_keeps_where_the_call_is_written() -> None:
    # (the graph page's call boxes read it)
    source = "f(u) = u*u + 1\na = f(x) + f(2*x)\na"
    r = evaluate.run(parse(source), {"x": 0.5})
    assert [source[c.span.start:c.span.end] for c in r.calls] == ["f(x)", "f(2*x)"]
