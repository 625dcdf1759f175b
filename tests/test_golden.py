"""Golden outputs: the documentation's example commands (and the -h examples) pinned byte
for byte.

Each case runs the command in-process in a fresh directory and compares stdout and the exit
status with tests/golden/NAME.txt (first line `exit N`, then stdout as written); a --graph case
also pins the file it writes (tests/golden/NAME.FILE). Nothing varies between runs in these
cases, so nothing is normalised but the temporary directory's path (shown as TMP).
To regenerate after an intended change: GOLDEN_UPDATE=1 python -m pytest -q tests/test_golden.py
(and say in the commit which outputs changed and why).
"""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path

import pytest

import docpages
from gradcalc.cli.main import main

GOLDEN = Path(__file__).parent / "golden"
SEED = ["tax*(a*an+o*on)", "--at", "a=100,an=2,o=150,on=3,tax=1.1"]
PAYMENT = ("apple_val = apple * apple_num\norange_val = orange * orange_num\n"
           "payment = tax * (apple_val + orange_val)")
CALC = ("calc(apple, n, orange, m, tax) = tax*(apple*n + orange*m)\n"
        "payment = calc(a, an, o, on, tax)")
GRAD_TXT = ("# my gradient of x^y*sin(x)\nx: y*x^(y-1)*sin(x) + x^y*cos(x)\n"
            "y: y*x^(y-1)*sin(x)     # power rule, as if y were constant\n")
POINTS = "a,an,o,on\n100,2,150,3\n1,2,3,4\n"
XY = "x,y\n1,2\n3,4\n"
ROSEN = ["(1-x)^2 + 100*(y-x^2)^2", "--at", "x=1.5,y=0.7"]
POLAR = ["r = hypot(x, y); t = atan2(y, x)", "--at", "x=1,y=2", "--of", "r,t"]

MODEL = ("import numpy as np\n\n\n"
         "def f(x):\n    return np.sum(np.abs(x) ** 3)\n\n\n"
         "def grad_f(x):\n    return 3 * x ** 2      # true: 3*x*abs(x)\n")

# name -> (argv, stdin, files written first, files the command writes)
CASES: dict[str, tuple[list[str], str | None, dict[str, str], list[str]]] = {
    "seed_text": (SEED, None, {}, []),
    "seed_json": ([*SEED, "--format", "json"], None, {}, []),
    "seed_jsonl": ([*SEED, "--format", "jsonl"], None, {}, []),
    "seed_csv": ([*SEED, "--format", "csv"], None, {}, []),
    "seed_no_check": ([*SEED, "--no-check"], None, {}, []),
    "seed_no_check_json": ([*SEED, "--no-check", "--format", "json"], None, {}, []),
    "calc_function": ([CALC, "--at", "a=100,an=2,o=150,on=3,tax=1.1"], None, {}, []),
    "payment_tape": ([PAYMENT, "--at", "apple=100,apple_num=2,orange=150,orange_num=3,tax=1.1",
                      "--tape"], None, {}, []),
    "payment_tape_json": ([PAYMENT, "--at",
                           "apple=100,apple_num=2,orange=150,orange_num=3,tax=1.1",
                           "--tape", "--format", "json"], None, {}, []),
    "calc_collapse": ([CALC, "--at", "a=100,an=2,o=150,on=3,tax=1.1", "--tape", "--collapse"],
                      None, {}, []),
    "points_csv": (["tax*(a*an+o*on)", "--points", "-", "--at", "tax=1.1", "--format", "csv"],
                   POINTS, {}, []),
    "points_text": (["tax*(a*an+o*on)", "--points", "-", "--at", "tax=1.1"], POINTS, {}, []),
    "points_json": (["tax*(a*an+o*on)", "--points", "p.csv", "--at", "tax=1.1",
                     "--format", "json"], None, {"p.csv": POINTS}, []),
    "points_xy_csv": (["x*sin(y)", "--points", "-", "--format", "csv"], XY, {}, []),
    "points_of_csv": ([POLAR[0], "--points", "-", "--of", "r,t", "--format", "csv"], XY, {},
                      []),
    "points_of_text": ([POLAR[0], "--points", "-", "--of", "r,t"], XY, {}, []),
    "points_hessian_csv": (["x^2*y", "--points", "-", "--hessian", "--format", "csv"], XY, {},
                           []),
    "points_hessian_text": (["x^2*y", "--points", "-", "--hessian"], XY, {}, []),
    "points_expect_text": (["x^2*y", "--points", "-", "--expect", "x=4,y=1"], XY, {}, []),
    "points_no_check": (["x*sin(y)", "--points", "p.csv", "--no-check"], None,
                        {"p.csv": XY}, []),
    "points_kept_csv": (["x^2", "--points", "-", "--format", "csv"],
                        "id,name,x\n7,alpha,1.5\n8,beta,3\n", {}, []),
    "points_jsonl": (["tax*x^2", "--points", "-", "--at", "tax=1.1", "--format", "jsonl"],
                     "id,x\n7,1.5\n", {}, []),
    "claims_text": (["x^y*sin(x)", "--claims", "grad.txt"], None, {"grad.txt": GRAD_TXT}, []),
    "claims_json": (["x^y*sin(x)", "--claims", "grad.txt", "--format", "json"], None,
                    {"grad.txt": GRAD_TXT}, []),
    "claim_long": (["x^3*sin(x)", "--claim",
                    "x: 3*x^2*sin(x) + x^3*cos(x) + 0*x*sin(x)*cos(x)*exp(x)"], None, {}, []),
    "jacobian_long": (["r = exp(sin(x)*cos(y))*log(x^2+y^2+1); t = atan2(y, x)", "--at",
                       "x=1,y=2", "--of", "r,t"], None, {}, []),
    "claim_abs": (["x*abs(x)", "--claim", "x: 2*abs(x)"], None, {}, []),
    "expect_numeric": (["x^y*sin(x)", "--at", "x=2,y=3", "--expect", "x=7.58,y=5.04",
                        "--numeric", "--rtol", "1e-3"], None, {}, []),
    "expect_numeric_json": (["x^y*sin(x)", "--at", "x=2,y=3", "--expect", "x=7.58,y=5.04",
                             "--numeric", "--rtol", "1e-3", "--format", "json"], None, {}, []),
    "expect_csv": (["a*b", "--at", "a=2,b=3", "--expect", "a=3,b=2", "--numeric",
                    "--format", "csv"], None, {}, []),
    "claim_at_point": (["x^y*sin(x)", "--at", "x=2,y=3", "--claims", "grad.txt"], None,
                       {"grad.txt": GRAD_TXT}, []),
    "stop_gradient": (["stop_gradient(x) * x", "--at", "x=3"], None, {}, []),
    "stop_gradient_json": (["stop_gradient(x) * x", "--at", "x=3", "--format", "json"], None,
                           {}, []),
    "hessian_text": ([*SEED, "--hessian"], None, {}, []),
    "hessian_json": ([*SEED, "--hessian", "--format", "json"], None, {}, []),
    "hessian_csv": ([*ROSEN, "--hessian", "--format", "csv"], None, {}, []),
    "rosenbrock_hessian": ([*ROSEN, "--hessian"], None, {}, []),
    "hessian_vector_text": (["sum(w^2*x)", "--at", "w=[1,2],x=3", "--hessian"], None, {}, []),
    "jacobian_text": (POLAR, None, {}, []),
    "jacobian_json": ([*POLAR, "--format", "json"], None, {}, []),
    "jacobian_csv": ([*POLAR, "--format", "csv"], None, {}, []),
    "of_one": (["r = hypot(x, y); t = atan2(y, x)", "--at", "x=1,y=2", "--of", "r"],
               None, {}, []),
    "graph_mermaid": ([*SEED, "--graph", "seed.mmd"], None, {}, ["seed.mmd"]),
    "graph_dot": ([*SEED, "--graph", "seed.dot"], None, {}, ["seed.dot"]),
    "x2_json": (["x^2", "--at", "x=5", "--format", "json"], None, {}, []),
    "sin_wrt_tape": (["sin(x)*y", "--at", "x=pi/4", "--at", "y=2", "--wrt", "x", "--tape"],
                     None, {}, []),
    "program_csv": (["c = a*b; d = c + sin(a)", "--at", "a=1,b=2", "--format", "csv"], None,
                    {}, []),
    "stdin_expr": (["-", "--at", "x=0.5"], "exp(-x^2)", {}, []),
    "vectors": (["sq(t) = t*t; loss = sum(sq(w*x - y))", "--at", "w=[0.5,-1],x=[1,2],y=[1,0]"],
                None, {}, []),
    "vectors_json": (["sq(t) = t*t; loss = sum(sq(w*x - y))", "--at",
                      "w=[0.5,-1],x=[1,2],y=[1,0]", "--format", "json"], None, {}, []),
    "vectors_csv": (["sq(t) = t*t; loss = sum(sq(w*x - y))", "--at",
                     "w=[0.5,-1],x=[1,2],y=[1,0]", "--format", "csv"], None, {}, []),
    "dash_expr": (["-x^3", "--at", "x=2"], None, {}, []),
    "why_null": (["x^2", "--at", "x=3,y=2"], None, {}, []),
    "why_cancel": (["x - x + y", "--at", "x=1,y=2"], None, {}, []),
    "nonfinite": (["log(x)", "--at", "x=-1"], None, {}, []),
    "nonfinite_json": (["log(x)", "--at", "x=-1", "--format", "json"], None, {}, []),
    "mismatch_relu": (["relu(x)-relu(-x)", "--at", "x=0"], None, {}, []),
    "mismatch_relu_json": (["relu(x)-relu(-x)", "--at", "x=0", "--format", "json"], None, {},
                           []),
    "steps_seed": ([*SEED, "--steps"], None, {}, []),
    "steps_seed_json": ([*SEED, "--steps", "--format", "json"], None, {}, []),
    "steps_calc_collapse": ([CALC, "--at", "a=100,an=2,o=150,on=3,tax=1.1", "--steps",
                             "--collapse", "--wrt", "a"], None, {}, []),
    "mistake_product": (["x^2*sin(x)", "--claim", "x: 2*x*sin(x)"], None, {}, []),
    "mistake_chain": (["sin(x^2)", "--claim", "x: cos(x^2)"], None, {}, []),
    "mistake_sign": (["x*cos(x)", "--claim", "x: cos(x) + x*sin(x)"], None, {}, []),
    "mistake_expect": (["y*cos(x)", "--at", "x=1,y=2", "--expect",
                        "x=1.68294196961579,y=0.54030230586814"], None, {}, []),
    "code_text": (["--function", "model.py:f", "--grad", "model.py:grad_f", "--at",
                   "x=[0.5,1.5,2]"], None, {"model.py": MODEL}, []),
}

# blocks of README.md and docs/*.md that show a golden output: case -> the command line the
# block starts with (every block that starts so, in every page, must be the golden output)
README_BLOCKS = {
    "seed_text": '$ gradcalc "tax*(a*an+o*on)" --at a=100,an=2,o=150,on=3,tax=1.1\n',
    "vectors": "$ gradcalc 'sq(t) = t*t; loss = sum(sq(w*x - y))' --at 'w=[0.5,-1],x=[1,2],"
               "y=[1,0]'\n",
    "hessian_vector_text": "$ gradcalc 'sum(w^2*x)' --at 'w=[1,2],x=3' --hessian\n",
    "steps_seed": '$ gradcalc "tax*(a*an+o*on)" --at a=100,an=2,o=150,on=3,tax=1.1 --steps\n',
    "steps_calc_collapse": "--steps --collapse --wrt a\n",
    "mistake_product": '$ gradcalc "x^2*sin(x)" --claim "x: 2*x*sin(x)"\n',
    "mistake_chain": '$ gradcalc "sin(x^2)" --claim "x: cos(x^2)"\n',
    "mistake_sign": '$ gradcalc "x*cos(x)" --claim "x: cos(x) + x*sin(x)"\n',
    "mistake_expect": '$ gradcalc "y*cos(x)" --at x=1,y=2 --expect '
                      'x=1.68294196961579,y=0.54030230586814\n',
    "code_text": '$ gradcalc --function model.py:f --grad model.py:grad_f --at "x=[0.5,1.5,2]"\n',
}


def _run(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
         capsys: pytest.CaptureFixture[str]) -> tuple[str, dict[str, str]]:
    argv, stdin, files, written = CASES[name]
    for fname, body in files.items():
        (tmp_path / fname).write_text(body)
    monkeypatch.chdir(tmp_path)
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin.encode())))
    capsys.readouterr()
    status = main(argv)
    out = capsys.readouterr().out.replace(str(tmp_path), "TMP")
    made = {f: (tmp_path / f).read_text().replace(str(tmp_path), "TMP") for f in written}
    return f"exit {status}\n{out}", made


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                capsys: pytest.CaptureFixture[str]) -> None:
    got, made = _run(name, tmp_path, monkeypatch, capsys)
    pinned = {f"{name}.txt": got, **{f"{name}.{f}": body for f, body in made.items()}}
    if os.environ.get("GOLDEN_UPDATE"):
        GOLDEN.mkdir(exist_ok=True)
        for fname, body in pinned.items():
            (GOLDEN / fname).write_text(body)
    for fname, body in pinned.items():
        assert body == (GOLDEN / fname).read_text(), f"{fname} differs from the golden file"


def doc_blocks(name: str) -> list[tuple[str, str]]:
    """(page, shown output) of every block of the documentation that shows case name."""
    shown = []
    for page in docpages.PAGES:
        for block in page.read_text().split(README_BLOCKS[name])[1:]:
            shown.append((docpages.name(page), block.split("```", 1)[0]))
    return shown


@pytest.mark.parametrize("name", sorted(README_BLOCKS))
def test_doc_blocks_are_the_golden_outputs(name: str) -> None:
    shown = doc_blocks(name)
    assert shown, f"no page of the documentation has a block for {name}"
    golden = (GOLDEN / f"{name}.txt").read_text().split("\n", 1)[1]
    for page, block in shown:
        assert block == golden, f"{page}: the block of {name} is not its golden output"
