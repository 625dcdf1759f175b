"""`--symbolic`: exports that run as printed.

The Python export is imported as a module and each `grad_NAME` called at the point; its numbers
must equal the tape's gradient there (`--format json`, computed by the reverse pass, a different
road from SymPy's formula). The LaTeX export is compiled by pdflatex where a TeX engine is
installed. Scalar formulas need no point, as claims need none.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

CASES = [
    # (program, --at bindings, whether the export should be in matrix notation)
    ("sum((X@w - y)^2)", ["X=[[1,2],[3,4],[5,6]]", "w=[1,-1]", "y=[0.5,1,2]"], True),
    ("logdet(A)", ["A=[[2,1],[1,3]]"], True),
    ("det(A) + trace(A@B)", ["A=[[2,1],[1,3]]", "B=[[0.5,-1],[2,0.25]]"], True),
    ("-sum(A@w)", ["A=[[2,1],[1,3]]", "w=[1,2]"], True),
    ("x*sin(y) - x^2", ["x=0.7,y=-1.3"], False),
    ("exp(-x^2)*sqrt(y) + e^x", ["x=0.3,y=2.5"], False),
    ("sum(-w*w*v)", ["w=[1,2,-0.5]", "v=[0.5,3,2]"], False),
    ("lambda*x + in^2", ["lambda=2,x=3,in=0.5"], False),
    ("c = a*b; d = c + sin(a)", ["a=1.5,b=-2"], False),
]


def _module(text: str, path: Path):
    path.write_text(text)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)   # the export, run as printed
    return module


def _args(json_obj: dict) -> list:
    return [np.asarray(v, dtype=float) for v in json_obj["at"].values()]


@pytest.mark.parametrize("program, at, matrix", CASES, ids=[c[0] for c in CASES])
def test_python_export_runs_and_gives_the_tapes_numbers(gradcalc, tmp_path, program, at,
                                                        matrix) -> None:
    argv = [program, *(w for a in at for w in ("--at", a))]
    r = gradcalc(*argv, "--symbolic", "python")
    assert r.status == 0, r.err
    text = r.out
    assert text.startswith("# The gradient of this program") and "\nimport numpy\n" in text
    assert ".dot(" not in text                       # readable numpy: @ and -x
    assert ("in matrix notation" in text) == matrix
    tape = gradcalc(*argv, "--format", "json", "--no-check").json()
    module = _module(text, tmp_path / "exported.py")
    for name, want in tape["gradient"].items():
        got = getattr(module, f"grad_{name}")(*_args(tape))
        np.testing.assert_allclose(np.asarray(got, dtype=float).reshape(np.shape(want)),
                                   np.asarray(want, dtype=float), rtol=1e-12, atol=1e-15)


def test_python_export_has_no_negation_by_dot(gradcalc) -> None:
    out = gradcalc("sum((X@w - y)^2)", "--at", "X=[[1,2],[3,4],[5,6]]", "--at", "w=[1,-1]",
                   "--at", "y=[0.5,1,2]", "--symbolic", "python").out
    assert "return numpy.ravel(2*X.T @ (X @ w - y))" in out
    assert "return 2*(X @ w - y) @ w.T" in out
    assert "return numpy.ravel(2*y - 2*X @ w)" in out


def test_python_export_without_a_point(gradcalc, tmp_path) -> None:
    r = gradcalc("x*sin(y) - x^2 + log(z)", "--symbolic", "python")
    assert r.status == 0, r.err
    module = _module(r.out, tmp_path / "nopoint.py")
    rng = np.random.default_rng(2)
    for _ in range(5):
        x, y, z = rng.uniform(0.1, 3, 3).tolist()
        tape = gradcalc("x*sin(y) - x^2 + log(z)", "--at", f"x={x!r},y={y!r},z={z!r}",
                        "--format", "json", "--no-check").json()["gradient"]
        for name in "xyz":
            assert getattr(module, f"grad_{name}")(x, y, z) == pytest.approx(tape[name],
                                                                             rel=1e-13)


def test_symbolic_without_at_for_scalars(gradcalc) -> None:
    r = gradcalc("x*abs(x)", "--symbolic", "text")
    assert r.status == 0 and r.out == "d/dx = x*sign(x) + abs(x)\n", r.out
    r = gradcalc("c = a*b; d = c + sin(a)", "--symbolic", "text", "--of", "c")
    assert r.out == "d/da = b\nd/db = a\n"
    obj = gradcalc("x^3", "--symbolic", "latex", "--format", "json").json()
    assert obj["at"] == {} and obj["symbolic"]["formulas"] == [
        "\\frac{\\partial f}{\\partial x} = 3 x^{2}"]
    r = gradcalc("x^2*y", "--symbolic", "text", "--wrt", "y")
    assert r.out == "d/dy = x^2\n"


@pytest.mark.parametrize("argv, needle", [
    (["sum(w)", "--symbolic", "text"], "--symbolic for vectors and matrices needs --at"),
    (["X@w", "--symbolic", "python"], "--symbolic for vectors and matrices needs --at"),
    (["y = w[0]", "--symbolic", "text"], "needs --at"),
    (["x^2", "--symbolic", "text", "--wrt", "q"], "--wrt names 'q', which the program does"),
    (["x^2", "--symbolic", "text", "--of", "z"], "--of names 'z', which the program never"),
    (["x^2", "--symbolic", "text", "--hessian"], "--symbolic prints the gradient's formulas"),
    (["x^2", "--symbolic", "text", "--format", "csv"], "no CSV columns"),
])
def test_symbolic_without_at_refuses_what_needs_a_point(gradcalc, argv, needle) -> None:
    r = gradcalc(*argv)
    assert r.status == 2 and r.out == "" and needle in r.err, r.err


LATEX = shutil.which("pdflatex")


@pytest.mark.skipif(LATEX is None, reason="no TeX engine (pdflatex) installed")
@pytest.mark.parametrize("program, at", [(c[0], c[1]) for c in CASES[:6]] + [
    ("atan2(y, x)*relu(x) + max(x, y)", ["x=1,y=2"])], ids=lambda v: str(v)[:30])
def test_latex_export_compiles(gradcalc, tmp_path, program, at) -> None:
    r = gradcalc(program, *(w for a in at for w in ("--at", a)), "--symbolic", "latex")
    assert r.status == 0, r.err
    body = "\n".join(f"\\[ {line} \\]" for line in r.out.splitlines())
    doc = ("\\documentclass{article}\n\\usepackage{amsmath}\n\\begin{document}\n"
           f"{body}\n\\end{{document}}\n")
    (tmp_path / "grad.tex").write_text(doc)
    proc = subprocess.run([LATEX, "-interaction=nonstopmode", "-halt-on-error", "grad.tex"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert (tmp_path / "grad.pdf").stat().st_size > 1000


def test_the_export_is_python_that_compiles_for_every_case(gradcalc) -> None:
    for program, at, _ in CASES:
        out = gradcalc(program, *(w for a in at for w in ("--at", a)),
                       "--symbolic", "python").out
        compile(out, "<export>", "exec")  # syntax only; the calls are checked above
    assert sys.version_info >= (3, 10)
