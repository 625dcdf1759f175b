"""The exit status: 0 only when everything asked was verified (ok, cut, null); 1 a check
disagrees; 2 bad input; 3 a value or partial is not finite; 4 nothing disagrees but something
could not be verified (a partial undefined, a check skipped, a claim undecided); --strict adds
`not certified` to 4; --no-check asked for no verification and exits 0."""

from __future__ import annotations

import pytest

from gradcalc.judge import verdict


@pytest.mark.parametrize("argv, status", [
    (["x^2", "--at", "x=3"], 0),                                 # ok
    (["stop_gradient(x)*x", "--at", "x=3"], 0),                  # cut counts as verified
    (["x*y", "--at", "x=3,y=2", "--wrt", "x"], 0),
    (["y + 0*x", "--at", "x=1,y=2"], 0),                         # null
    (["abs(x)", "--at", "x=0"], 4),                              # a partial undefined
    (["log(x)", "--at", "x=-1"], 3),                             # nan: 3 wins over 4
    (["x^2", "--claim", "x: 2*x"], 0),                           # proved
    (["x^2", "--claim", "x: x"], 1),                             # differs
    (["sqrt(-x^2 - 1)", "--claim", "x: 0", "--claim-points", "5"], 4),   # undecided
    (["abs(x)", "--at", "x=0", "--no-check"], 0),                # nothing was asked
    (["x^2", "--at", "x=3", "--check-timeout", "0"], 4),         # the check skipped
])
def test_exit_status(gradcalc, argv, status) -> None:
    r = gradcalc(*argv)
    assert r.status == status, (r.out, r.err)


def test_an_undefined_partial_beside_a_mismatch_exits_1(gradcalc, monkeypatch) -> None:
    from gradcalc import ops

    wrong = ops.Primitive("mul", 2, ops.MUL.forward,
                          (lambda g, ans, x, y: 2 * g * y, ops.MUL.vjps[1]), ops.MUL.sympy)
    monkeypatch.setitem(ops.BINARY, "*", wrong)
    r = gradcalc("x*y + abs(z)", "--at", "x=1,y=2,z=0")
    assert r.status == 1


def test_strict_counts_not_certified_as_not_verified(gradcalc) -> None:
    # a matrix program beyond SymPy's size is compared with numeric differences: no verdict
    # is certified, so --strict says 4 where the plain call says 0
    at = "A=@" + _big_matrix_file(gradcalc)
    plain = gradcalc("sum(A*A)", "--at", at)
    strict = gradcalc("sum(A*A)", "--at", at, "--strict")
    assert "not certified" in plain.out
    assert plain.status == 0 and strict.status == 4
    assert gradcalc("x^2", "--at", "x=3", "--strict").status == 0


_FILES: dict[str, str] = {}


def _big_matrix_file(gradcalc) -> str:
    import os
    import tempfile

    import numpy as np

    if "m" not in _FILES:
        path = os.path.join(tempfile.mkdtemp(), "a.npy")
        np.save(path, np.arange(2_500, dtype=float).reshape(50, 50) / 100)
        _FILES["m"] = path
    return _FILES["m"]


def test_the_skipped_check_says_time_limit(gradcalc) -> None:
    r = gradcalc("x^2", "--at", "x=3", "--check-timeout", "0", "--format", "json")
    check = r.json()["check"]
    assert check["status"] == "skipped" and check["reason"].startswith("time limit")
    text = gradcalc("x^2", "--at", "x=3", "--check-timeout", "0")
    assert "skipped (time limit)" in text.out


def test_help_names_every_exit_status(gradcalc) -> None:
    text = " ".join(gradcalc("--help").out.split())
    for words in ("0 everything asked was verified", "1 a check disagrees", "2 bad input",
                  "3 a value or partial is not finite", "4 nothing disagrees",
                  "--strict"):
        assert words in text, words


@pytest.mark.parametrize("statuses, nonfinite, strict, uncertified, want", [
    ([], False, False, False, 0),
    (["ok", "cut", "null"], False, False, False, 0),
    (["ok", "mismatch", "undefined"], True, False, False, 1),
    (["ok", "undecided"], False, False, False, 4),
    (["ok", "skipped"], False, False, False, 4),
    (["ok", "undefined"], True, False, False, 3),
    (["ok"], False, False, True, 0),
    (["ok"], False, True, True, 4),
    (["mismatch"], False, True, True, 1),
])
def test_one_function_decides_the_exit_status(statuses, nonfinite, strict, uncertified,
                                              want) -> None:
    assert verdict.exit_status([verdict.Status(s) for s in statuses], nonfinite,
                               uncertified=uncertified, strict=strict) == want


def test_a_time_limit_inside_the_domain_check_is_skipped_never_undefined(monkeypatch) -> None:
    # the sixteen parallel `x^3+y`: the deadline passed while the domain check
    # evaluated the guards, and every partial became `undefined: at the edge of the domain`
    from gradcalc.engine.evaluate import run
    from gradcalc.judge import check, reference
    from gradcalc.lang.syntax import parse

    def late(*args, **kwargs):
        raise TimeoutError   # what reference.evaluate raises past the deadline
    monkeypatch.setattr(reference, "evaluate", late)   # (the forked child inherits it)
    chk = check.check(run(parse("x^3+y"), {"x": 3.0, "y": 1.0}), cache=False)
    assert chk.status == "skipped" and chk.reason.startswith("time limit")
    assert all(p.status == "skipped" for p in chk.partials.values())
