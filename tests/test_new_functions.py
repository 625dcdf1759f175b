"""The functions issue 24 added, end to end on the command line: each is parsed, recorded,
checked with a proven (certified) verdict, and its Hessian checked, at points inside its domain
(negative arguments of the gamma family too); the value against its mpmath row in
tests/reference_ops.py. Edges of the domains are errors or `undefined`, never a number."""

from __future__ import annotations

import warnings

import mpmath
import pytest

import reference_ops

mpmath.mp.dps = 40

# (expression in x, y; the primitive's reference row as a function of x, y; --at)
CASES = [
    ("acosh(x)", lambda x, y: mpmath.acosh(x), "x=3.5"),
    ("asinh(x)", lambda x, y: mpmath.asinh(x), "x=-3.5"),
    ("atanh(x)", lambda x, y: mpmath.atanh(x), "x=0.75"),
    ("sign(x)*y", lambda x, y: mpmath.sign(x) * y, "x=-2.5,y=3"),
    ("exp2(x)", lambda x, y: mpmath.power(2, x), "x=3.5"),
    ("sinc(x)", lambda x, y: mpmath.sin(x) / x, "x=3.5"),
    ("x % y", lambda x, y: reference_ops.ELEMENTWISE["mod"](x, y), "x=-7.25,y=3"),
    ("mod(x, y)", lambda x, y: reference_ops.ELEMENTWISE["mod"](x, y), "x=7.25,y=-3"),
    ("reciprocal(x)", lambda x, y: 1 / x, "x=-3.5"),
    ("deg2rad(x)", lambda x, y: x * mpmath.pi / 180, "x=45"),
    ("rad2deg(x)", lambda x, y: x * 180 / mpmath.pi, "x=0.5"),
    ("square(x)", lambda x, y: x * x, "x=-3.5"),
    ("cbrt(x)", lambda x, y: -mpmath.cbrt(-x), "x=-3.5"),
    ("lgamma(x)", lambda x, y: reference_ops.ELEMENTWISE["lgamma"](x), "x=3.5"),
    ("lgamma(x)", lambda x, y: reference_ops.ELEMENTWISE["lgamma"](x), "x=-2.5"),
    ("gamma(x)", lambda x, y: mpmath.gamma(x), "x=3.5"),
    ("gamma(x)", lambda x, y: mpmath.gamma(x), "x=-1.5"),
    ("digamma(x)", lambda x, y: mpmath.digamma(x), "x=3.5"),
    ("digamma(x)", lambda x, y: mpmath.digamma(x), "x=-0.5"),
    ("polygamma(1, x)", lambda x, y: mpmath.polygamma(1, x), "x=3.5"),
    ("erfc(x)", lambda x, y: mpmath.erfc(x), "x=3.5"),
    ("erfinv(x)", lambda x, y: mpmath.erfinv(x), "x=0.875"),
    ("logaddexp2(x, y)", lambda x, y: mpmath.log(2 ** x + 2 ** y, 2), "x=3.5,y=-1"),
]


def _point(at: str) -> dict[str, mpmath.mpf]:
    pairs = dict(kv.split("=") for kv in at.split(","))
    return {k: mpmath.mpf(v) for k, v in pairs.items()}


@pytest.mark.parametrize("expr, ref, at", CASES, ids=[f"{c[0]} {c[2]}" for c in CASES])
def test_new_function_checks_ok_with_proven_verdicts(gradcalc, expr, ref, at) -> None:
    r = gradcalc(expr, "--at", at, "--format", "json")
    assert r.status == 0, r.err
    obj = r.json()
    p = _point(at)
    want = ref(p["x"], p.get("y"))
    assert abs(mpmath.mpf(obj["value"]) - want) <= abs(want) * 1e-14
    assert obj["check"]["status"] == "ok"
    for name, partial in obj["check"]["partials"].items():
        assert partial["status"] == "ok", (name, partial)
        assert partial.get("certified", True), (name, partial)
    # the partials against mpmath's derivative of the same reference
    for name in p:
        def along(t: mpmath.mpf, name: str = name) -> mpmath.mpf:
            q = dict(p)
            q[name] = t
            return ref(q["x"], q.get("y"))

        d = mpmath.diff(along, p[name])
        assert abs(mpmath.mpf(obj["gradient"][name]) - d) <= abs(d) * 1e-12 + 1e-300, name


# one per family (the generated second-order sweep in test_accuracy covers every record)
HESSIAN_CASES = [c for c in CASES if c[0] in ("acosh(x)", "sinc(x)", "x % y", "cbrt(x)",
                                               "erfinv(x)", "logaddexp2(x, y)")
                 or c[2] in ("x=-2.5", "x=-1.5", "x=-0.5")]


@pytest.mark.parametrize("expr, ref, at", HESSIAN_CASES,
                         ids=[f"{c[0]} {c[2]}" for c in HESSIAN_CASES])
def test_new_function_hessian_checks_ok(gradcalc, expr, ref, at) -> None:
    r = gradcalc("--at", at, "--hessian", "--format", "json", "--", expr)
    assert r.status == 0, r.err
    obj = r.json()
    assert obj["check"]["hessian"]["status"] == "ok", obj["check"]["hessian"]
    p = _point(at)
    names = list(p)
    for i in names:
        for j in names:
            orders = tuple(int(n == i) + int(n == j) for n in names)
            want = mpmath.diff(lambda *v: ref(*(list(v) + [None] * (2 - len(v)))),
                               [p[n] for n in names], orders)
            got = mpmath.mpf(obj["hessian"][i][j])
            assert abs(got - want) <= abs(want) * 1e-10 + 1e-30, (i, j)  # diff's noise


@pytest.mark.parametrize("expr, at", [
    ("acosh(x)", "x=0.5"), ("atanh(x)", "x=1"), ("erfinv(x)", "x=-1"), ("lgamma(x)", "x=-2"),
    ("gamma(x)", "x=0"), ("digamma(x)", "x=-3"), ("polygamma(0.5, x)", "x=1"),
    ("x % y", "x=1,y=0"), ("reciprocal(x)", "x=0"),
])
def test_outside_the_domain_is_never_a_number(gradcalc, expr, at) -> None:
    with warnings.catch_warnings():   # and no numpy warning reaches the user's stderr
        warnings.simplefilter("error", RuntimeWarning)
        r = gradcalc(expr, "--at", at, "--format", "json")
    assert "Warning" not in r.err, r.err
    obj = r.json()
    statuses = {p["status"] for p in obj["check"]["partials"].values()}
    assert statuses == {"undefined"}, obj["check"]


@pytest.mark.parametrize("expr, at, name", [("x % y", "x=6,y=3", "y"), ("sign(x)", "x=0", "x"),
                                            ("cbrt(x)", "x=0", "x")])
def test_kinks_are_undefined(gradcalc, expr, at, name) -> None:
    # (d/dx of x % y at a jump is judged from its one-sided slopes, 1 on both sides: the
    # judge's rule for kinks does not see the jump of the value itself)
    obj = gradcalc(expr, "--at", at, "--format", "json").json()
    assert obj["check"]["partials"][name]["status"] == "undefined"


def test_new_functions_over_points_are_checked(gradcalc, points_file) -> None:
    rows = [(0.3, 1.7), (2.5, -0.7), (-1.5, 0.9)]
    path = points_file("x,y\n" + "".join(f"{a},{b}\n" for a, b in rows))
    r = gradcalc("asinh(x) + x % y + lgamma(y^2) + erfc(x) + sign(y)*square(x)", "--points",
                 path, "--format", "json")
    assert r.status == 0, r.err
    obj = r.json()
    assert obj["check"]["status"] == "ok"
    for (x, y), gx in zip(rows, obj["gradient"]["x"], strict=True):
        want = (1 / mpmath.sqrt(1 + mpmath.mpf(x) ** 2) + 1
                - 2 / mpmath.sqrt(mpmath.pi) * mpmath.exp(-mpmath.mpf(x) ** 2)
                + 2 * mpmath.sign(y) * x)
        assert abs(gx - want) <= abs(want) * 1e-13
