"""The op record is the only declaration of a primitive: a primitive registered in a test
(ops.register) works end to end, in the language, the Python API, the check, the derivative
cache, the --points batch and --hessian, and every table derived from the records covers every
primitive. References are mpmath and closed forms, never gradcalc."""

from __future__ import annotations

import inspect
import math
from collections.abc import Iterator
from typing import Any

import mpmath
import numpy as np
import pytest

from gradcalc import Tape, Variable, functions, ops, ops_array, ops_matrix
from gradcalc.symbolic import cache

mpmath.mp.dps = 40
def _erfi(x: Any) -> Any:
    import scipy.special

    return scipy.special.erfi(x)


def _erfi_dx(g: Any, ans: Any, x: Any) -> Any:
    return g * (2 / math.sqrt(math.pi)) * np.exp(x * x)


# made up for the test: erfi, the imaginary error function -i*erf(ix), is not one of
# gradcalc's primitives. It has a SymPy class of its own (so compiled programs name its op), an
# increasing mpmath reference and no numpy ufunc.
ERFI = ops.Primitive("erfi", 1, _erfi, (_erfi_dx,), lambda sp, x: sp.erfi(x), spelling="erfi",
                     doc="The imaginary error function -i*erf(i*x).",
                     sympy_class="erfi", mpmath=lambda m: m.erfi, monotone="increasing")
# and one whose SymPy counterpart is built of other forms (x**3): nothing else to declare
CUBE = ops.Primitive("cube", 1, lambda x: x * x * x, (lambda g, ans, x: g * 3 * x * x,),
                     lambda sp, x: x ** 3, spelling="cube", doc="x^3.")


def _derfi(x: float) -> Any:
    return 2 / mpmath.sqrt(mpmath.pi) * mpmath.exp(mpmath.mpf(x) ** 2)


@pytest.fixture
def made_up() -> Iterator[None]:
    ops.register(ERFI)
    ops.register(CUBE)
    try:
        yield
    finally:
        ops.unregister("erfi")
        ops.unregister("cube")


def _close(a: float, b: Any, rel: float = 1e-14) -> bool:
    return abs(mpmath.mpf(a) - b) <= rel * abs(b)


# ---------------------------------------------------------------- a registered primitive


def test_a_registered_primitive_is_parsed_recorded_and_checked(gradcalc, made_up) -> None:
    r = gradcalc("erfi(x)*y + cube(y)", "--at", "x=0.7,y=-1.5", "--format", "json")
    assert r.status == 0, r.err
    obj = r.json()
    x, y = mpmath.mpf(0.7), mpmath.mpf(-1.5)
    assert _close(obj["value"], mpmath.erfi(x) * y + y ** 3)
    assert _close(obj["gradient"]["x"], _derfi(0.7) * y)
    assert _close(obj["gradient"]["y"], mpmath.erfi(x) + 3 * y ** 2)
    assert obj["check"]["status"] == "ok"
    assert all(p["status"] == "ok" for p in obj["check"]["partials"].values())


def test_a_registered_primitive_is_in_the_python_api(made_up) -> None:
    assert functions.erfi.__doc__ == ERFI.doc and "erfi" in functions.__all__
    assert list(inspect.signature(functions.erfi).parameters) == ["x"]
    x = Variable(0.3)
    with Tape() as tape:
        y = functions.erfi(x) * functions.cube(x)
    want = _derfi(0.3) * mpmath.mpf(0.3) ** 3 + mpmath.erfi(0.3) * 3 * mpmath.mpf(0.3) ** 2
    assert _close(float(tape.gradient(y, x).value), want)


def test_a_registered_primitive_is_cached_and_a_hit_agrees(gradcalc, made_up) -> None:
    miss = gradcalc("erfi(x)^2", "--at", "x=0.25", "--format", "json")
    entries = sorted(cache.cache_dir().glob("*.json"))
    assert miss.status == 0 and len(entries) == 1
    stamp = entries[0].stat().st_mtime_ns
    hit = gradcalc("erfi(x)^2", "--at", "x=0.25", "--format", "json")
    assert (hit.status, hit.out) == (miss.status, miss.out)
    assert entries[0].stat().st_mtime_ns == stamp  # read, not rewritten
    assert miss.json()["check"]["status"] == "ok"


def test_a_registered_primitive_is_checked_over_points(gradcalc, points_file, made_up) -> None:
    xs = [-2.0, -0.3, 0.0, 0.9, 4.0]
    path = points_file("x\n" + "".join(f"{x}\n" for x in xs))
    r = gradcalc("erfi(x) + cube(x)", "--points", path, "--format", "json")
    assert r.status == 0, r.err
    obj = r.json()
    for x, got in zip(xs, obj["gradient"]["x"], strict=True):
        assert _close(got, _derfi(x) + 3 * mpmath.mpf(x) ** 2, 1e-13)
    assert obj["check"]["status"] == "ok"
    # the float64 screen of the compiled program (its error bound from the record) vouched
    assert obj["check"]["confirmed"]["screen could not vouch"] == 0


def test_a_registered_primitive_has_a_hessian(gradcalc, made_up) -> None:
    r = gradcalc("--at", "x=0.6,y=2", "--hessian", "--format", "json", "--", "erfi(x)*y")
    assert r.status == 0, r.err
    h = r.json()["hessian"]
    x = mpmath.mpf(0.6)
    d2 = 4 * x / mpmath.sqrt(mpmath.pi) * mpmath.exp(x * x)   # erfi'' = 2x * erfi'
    assert _close(h["x"]["x"], d2 * 2, 1e-13)
    assert _close(h["x"]["y"], _derfi(0.6), 1e-13)
    assert h["y"]["y"] == 0.0


def test_unregistering_removes_it_everywhere(gradcalc) -> None:
    from gradcalc.symbolic import compiled

    ops.register(ERFI)
    assert "erfi" in compiled.ops_arity() and hasattr(functions, "erfi")
    ops.unregister("erfi")
    assert "erfi" not in ops.FUNCTIONS and "erfi" not in compiled.ops_arity()
    assert not hasattr(functions, "erfi")
    r = gradcalc("erfi(x)", "--at", "x=1")
    assert r.status == 2 and r.out == "" and r.err.startswith("error: ")


def test_register_refuses_a_name_or_spelling_taken() -> None:
    with pytest.raises(ValueError, match="sin"):
        ops.register(ops.Primitive("sin", 1, np.sin, (None,), lambda sp, x: sp.sin(x)))
    with pytest.raises(ValueError, match="exp"):
        ops.register(ops.Primitive("exp_base_two", 1, np.exp2, (None,), lambda sp, x: 2 ** x,
                                   spelling="exp"))
    assert ops.BY_NAME["sin"] is ops.SIN


# ---------------------------------------------------------------- every primitive is complete


def _sympy_args(prim: ops.Primitive) -> tuple[list[Any], list[str], list[float]]:
    """Symbols for prim's arguments (a tuple of two components per vector argument), their
    names, and a sample point inside the primitive's domain."""
    import sympy

    args: list[Any] = []
    names: list[str] = []
    point: list[float] = []
    nargs = prim.arity or 2
    for i in range(nargs):
        lo, hi = prim.sample_interval(i)
        if prim is ops.INDEX and i == 1:
            args.append(1)
            continue
        width = 2 if prim.reduction else 1
        comps = []
        for k in range(width):
            names.append(f"a{i}_{k}")
            point.append(lo + (hi - lo) * (0.3 + 0.25 * k + 0.1 * i))
            comps.append(sympy.Symbol(names[-1], real=True))
        args.append(tuple(comps) if prim.reduction else comps[0])
    return args, names, point


# (the matrix and array records' SymPy forms take and give nested tuples of components:
# test_matrix.py and test_array_ops.py check them against numpy component by component)
@pytest.mark.parametrize("prim", [p for p in ops.PRIMITIVES
                                  if p not in ops_matrix.MATRIX_PRIMITIVES
                                  and p not in ops_array.ARRAY_PRIMITIVES], ids=lambda p: p.name)
def test_every_primitive_compiles_and_its_derived_evaluators_agree(prim: ops.Primitive) -> None:
    from gradcalc.judge import reference
    from gradcalc.symbolic import compiled
    from gradcalc.symbolic.convert import namespace

    args, names, point = _sympy_args(prim)
    value = prim.sympy(namespace(), *args)
    values = list(value) if isinstance(value, tuple) else [value]
    try:
        program, outputs = compiled.compile_sympy(values, names)
    except compiled.Unsupported as exc:
        pytest.fail(f"{prim.name}: its SymPy form uses {exc}, which no primitive declares as "
                    "its sympy_class and is not one of compiled.SYMPY_ONLY")
    compiled.validate(program, outputs, names)
    columns = {n: np.array([v]) for n, v in zip(names, point, strict=True)}
    at = dict(zip(names, point, strict=True))
    plain = [np.array(point[2 * i:2 * i + 2]) if prim.reduction else point[i]
             for i in range(len(args)) if not (prim is ops.INDEX and i == 1)]
    if prim is ops.INDEX:
        plain.append(1.0)
    forward = np.atleast_1d(prim.forward(*plain))
    screened = compiled.evaluate_np(program, outputs, columns, 1, bounds=True)
    enclosures = reference.evaluate(program, outputs, at, 96)
    for k, ((got, err), enc) in enumerate(zip(screened, enclosures, strict=True)):
        assert got[0] == pytest.approx(forward[k], rel=1e-12), (prim.name, "numpy")
        assert np.isfinite(err[0]), f"{prim.name}: the float64 screen has no error bound"
        assert enc.resolved and not enc.undefined, \
            f"{prim.name}: no interval evaluator (set its mpmath, monotone or interval)"
        assert enc.lo - abs(enc.lo) * 2.0 ** -50 <= forward[k] <= enc.hi + abs(enc.hi) * 2.0 ** -50


@pytest.mark.parametrize("prim", [p for p in ops.PRIMITIVES if p.spelling is not None],
                         ids=lambda p: p.name)
def test_every_spelled_primitive_has_a_documented_api_function(prim: ops.Primitive) -> None:
    fn = getattr(functions, prim.spelling)
    assert fn.__doc__ and not fn.__doc__.startswith(f"{prim.spelling}."), \
        f"{prim.name}: no doc for its Python API function"
    assert ops.resolve(prim.spelling, prim.arity or 2) is prim


def test_no_ufunc_and_no_sympy_class_answers_to_two_primitives() -> None:
    ufuncs = [u for p in ops.PRIMITIVES for u in p.numpy_ufuncs()]
    assert len(ufuncs) == len(set(ufuncs))
    classes = [p.sympy_class for p in ops.PRIMITIVES if p.sympy_class is not None]
    assert len(classes) == len(set(classes))


def test_every_numpy_ufunc_of_a_primitive_records_it() -> None:
    from gradcalc import Tensor

    for prim in ops.PRIMITIVES:
        for ufunc in prim.numpy_ufuncs():
            x = Variable(0.5)
            with Tape() as tape:
                out = ufunc(*([x] * ufunc.nin))
            assert isinstance(out, Tensor) and tape.nodes[-1].prim is prim, prim.name
