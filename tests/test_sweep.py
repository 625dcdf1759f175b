"""The engine's one sweep: points and batches share the tape's forward replay and backward pass,
non-finite origins are named the same way in both, and the engine's modules import without
cycles."""

from __future__ import annotations

import ast
import math
import warnings
from pathlib import Path

import numpy as np
import pytest

from gradcalc.batch import rows
from gradcalc.engine import evaluate, sweep, tape, vectors
from gradcalc.engine.tape import Tape, Variable
from gradcalc.lang.syntax import parse

SRC = Path(__file__).resolve().parent.parent / "src" / "gradcalc"


def _points(tmp_path: Path, text: str) -> rows.Points:
    path = tmp_path / "points.csv"
    path.write_text(text)
    return rows.read_points(str(path))


def test_point_and_batch_run_the_sweep_modules_loops(monkeypatch, tmp_path):
    # a batch replays the recorded program with sweep.backward over columns; a point of
    # Python floats runs sweep.scalar_backward (the same loop, arithmetic inlined): both are
    # the sweep module's, and they agree bit for bit (test_flat.py checks every primitive)
    assert tape.backward.__module__ == "gradcalc.engine.tape" and rows.backward is tape.backward
    calls: list[str] = []
    general, scalar = sweep.backward, sweep.scalar_backward

    def spy_general(*args, **kwargs):
        calls.append("columns" if kwargs.get("seed", args[5] if len(args) > 5 else None)
                     is sweep.UNIT else "general")
        return general(*args, **kwargs)

    def spy_scalar(*args, **kwargs):
        calls.append("floats")
        return scalar(*args, **kwargs)

    monkeypatch.setattr(sweep, "backward", spy_general)
    monkeypatch.setattr(evaluate, "scalar_backward", spy_scalar)
    program = parse("y = sin(x) * x\ny / (1 + x)")
    batch = rows.run_batch(program, _points(tmp_path, "x\n0.5\n2\n-1.25\n"), {}, None, None)
    assert calls.count("columns") == 1  # one chunk: one sweep over the column
    assert "floats" in calls  # the first row's run swept its Python floats
    x = np.array([0.5, 2.0, -1.25])
    want = ((np.cos(x) * x + np.sin(x)) * (1 + x) - np.sin(x) * x) / (1 + x) ** 2
    np.testing.assert_allclose(batch.gradient["x"], want, rtol=1e-13)
    for k, x0 in enumerate(x):
        point = evaluate.run(program, {"x": float(x0)}).gradient()["x"]
        assert point.tobytes() == batch.gradient["x"][k].tobytes()


def test_nonfinite_origin_in_a_batch_is_named_as_at_a_point(tmp_path):
    program = parse("u = x * x\nv = sqrt(u)\nv + x")
    batch = rows.run_batch(program, _points(tmp_path, "x\n1\n0\n2\n"), {}, None, None)
    assert math.isinf(batch.gradient["x"][1]) or math.isnan(batch.gradient["x"][1])
    messages = rows.nonfinite_rows(batch, None)
    point = evaluate.run(program, {"x": 0.0})
    expected = evaluate.nonfinite(point)
    assert expected and "backward pass at node t2 (v) = sqrt" in expected[-1]
    assert messages == [f"row 2 (line 3): {m}" for m in expected]


def test_batch_sweep_matches_point_sweep_bit_for_bit(tmp_path):
    program = parse("a = exp(x) / (y + 2)\nb = log1p(a*a) - hypot(x, y)\nb * tanh(y)")
    xs, ys = [0.25, -1.5, 3.0, 0.0], [1.0, 0.5, -0.75, 2.0]
    text = "x,y\n" + "".join(f"{a!r},{b!r}\n" for a, b in zip(xs, ys, strict=True))
    batch = rows.run_batch(program, _points(tmp_path, text), {}, None, None)
    for k, (a, b) in enumerate(zip(xs, ys, strict=True)):
        point = evaluate.run(program, {"x": a, "y": b}).gradient()
        assert batch.gradient["x"][k] == point["x"] and batch.gradient["y"][k] == point["y"]


@pytest.mark.parametrize("text", ["x^y", "p = x^y\np*x^(y/2)", "(x + 1)^(y - 1)"])
def test_batch_powers_match_point_powers_bit_for_bit(tmp_path, text):
    # numpy's ** on float64 scalars (the C library's pow) and np.power on arrays differ in the
    # last bit at about 5% of points here: every rule must take its powers the one way
    program = parse(text)
    rng = np.random.default_rng(5)
    xs, ys = rng.uniform(0.1, 3.0, 200), rng.uniform(0.1, 3.0, 200)
    csv = "x,y\n" + "".join(f"{float(a)!r},{float(b)!r}\n" for a, b in zip(xs, ys, strict=True))
    batch = rows.run_batch(program, _points(tmp_path, csv), {}, None, None)
    differ = []
    for k, (a, b) in enumerate(zip(xs, ys, strict=True)):
        point = evaluate.run(program, {"x": float(a), "y": float(b)})
        g = point.gradient()
        if (batch.value[k] != point.value or batch.gradient["x"][k] != g["x"]
                or batch.gradient["y"][k] != g["y"]):
            differ.append((float(a), float(b)))
    assert not differ, f"{len(differ)} of 200 rows differ, e.g. at {differ[0]}"


def test_batch_powers_with_numpys_special_exponents_match_points(tmp_path):
    # np.power squares, takes the square root or the reciprocal (correctly rounded) when the
    # exponent is a scalar 2, 0.5 or -1, and runs its general pow when the exponent is a column
    # holding those values: a row must still get the point's bits
    program = parse("x^y + (x + 1)^(y + 1)")
    rng = np.random.default_rng(8)
    xs = np.concatenate([rng.uniform(0.1, 30.0, 120), [0.0, -0.0, 4.0, -2.0, 1e-300]])
    ys = np.resize([2.0, 0.5, -1.0, 1.0, -2.0], xs.size)
    csv = "x,y\n" + "".join(f"{float(a)!r},{float(b)!r}\n" for a, b in zip(xs, ys, strict=True))
    with np.errstate(all="ignore"):
        batch = rows.run_batch(program, _points(tmp_path, csv), {}, None, None)
    differ = []
    for k, (a, b) in enumerate(zip(xs, ys, strict=True)):
        point = evaluate.run(program, {"x": float(a), "y": float(b)})
        g = point.gradient()
        got = (batch.value[k], batch.gradient["x"][k], batch.gradient["y"][k])
        want = (point.value, g["x"], g["y"])
        if any(np.float64(u).tobytes() != np.float64(v).tobytes()
               and not (math.isnan(u) and math.isnan(v)) for u, v in zip(got, want, strict=True)):
            differ.append((float(a), float(b), got, want))
    assert not differ, f"{len(differ)} of {xs.size} rows differ, e.g. {differ[0]}"


def test_a_non_finite_forward_is_silent_through_the_api_and_run():
    before = np.geterr()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        x = Variable(0.0)
        with Tape() as t:
            y = np.log(x) + 1 / x
        assert not math.isfinite(float(y))
        assert t.gradient(y, x) is not None
        r = evaluate.run(parse("log(x) + 1/x"), {"x": 0.0})
        assert not math.isfinite(float(r.value))
    assert np.geterr() == before  # run() restores numpy's error state


def test_vector_components_carry_their_name_and_index():
    labels = vectors.labels("w", np.array([1.0, 2.0, 3.0]))
    assert labels == ["w[0]", "w[1]", "w[2]"]
    assert [(c.name, c.k) for c in labels] == [("w", 0), ("w", 1), ("w", 2)]
    (scalar,) = vectors.labels("x", 1.5)
    assert scalar == "x" and (scalar.name, scalar.k) == ("x", None)
    comps = vectors.components(["w"], {"w": np.array([1.0, 2.0])}, {"w": np.array([3.0, 4.0])})
    assert [(c.name, c.k, g) for c, g in comps] == [("w", 0, 3.0), ("w", 1, 4.0)]


def _imports(path: Path, package: str) -> set[str]:
    """Every gradcalc module this file imports, at the top or inside functions."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package.split(".")[: len(package.split(".")) - node.level + 1]
            mod = ".".join(base + ([node.module] if node.module else []))
            out.add(mod)
            out.update(f"{mod}.{a.name}" for a in node.names)
    return out


def test_engine_modules_import_without_cycles():
    modules = {f"gradcalc.engine.{p.stem}": p for p in (SRC / "engine").glob("*.py")
               if p.stem != "__init__"}
    graph = {m: {d for d in _imports(p, "gradcalc.engine") if d in modules and d != m}
             for m, p in modules.items()}

    def reaches(a: str, b: str) -> bool:
        seen, todo = set(), [a]
        while todo:
            m = todo.pop()
            for d in graph[m]:
                if d == b:
                    return True
                if d not in seen:
                    seen.add(d)
                    todo.append(d)
        return False

    cycles = [(a, b) for a in graph for b in graph[a] if reaches(b, a)]
    assert not cycles


@pytest.mark.parametrize("root", ["ops.py", "ops_matrix.py"])
def test_the_op_tables_never_import_the_engine(root):
    assert not [m for m in _imports(SRC / root, "gradcalc") if m.startswith("gradcalc.engine")]


@pytest.mark.parametrize("n", [1, 5])
def test_a_one_row_chunk_sweeps(tmp_path, n):
    program = parse("x * y + sin(x)")
    text = "x,y\n" + "".join(f"{0.1 * k},{2 - k}\n" for k in range(n))
    batch = rows.run_batch(program, _points(tmp_path, text), {}, None, None)
    x = np.array([0.1 * k for k in range(n)])
    np.testing.assert_allclose(batch.gradient["x"], np.array([2.0 - k for k in range(n)])
                               + np.cos(x), rtol=1e-15)
