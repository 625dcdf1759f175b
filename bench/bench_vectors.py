"""Vectors and user-defined functions (issue 8): the tape on a least-squares loss against numpy's
closed-form gradient, and the command line with its (sampled) SymPy check against --no-check.

    python bench/run.py vectors
"""

from __future__ import annotations

import numpy as np

from common import Row, command_time, gradcalc_argv, median_time, print_table
from gradcalc import Tape, Variable, functions


def _tape_least_squares(w: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    v = Variable(w)
    with Tape() as tape:
        loss = functions.sum((v * x - y) ** 2)
    return tape.gradient(loss, v).value


def _vec(v: np.ndarray) -> str:
    return "[" + ",".join(repr(float(c)) for c in v) + "]"


def main() -> None:
    rng = np.random.default_rng(0)
    rows = []
    for n in (10, 1_000, 100_000):
        w, x, y = (rng.uniform(-1, 1, n) for _ in range(3))
        got = _tape_least_squares(w, x, y)
        np.testing.assert_allclose(got, 2 * x * (w * x - y), rtol=1e-12)
        rows.append(Row(f"tape: gradient of sum((w*x - y)^2), n = {n:,}",
                        median_time(lambda w=w, x=x, y=y: _tape_least_squares(w, x, y)),
                        "numpy closed form", median_time(lambda w=w, x=x, y=y: 2 * x * (w * x - y)),
                        "overhead of a few tape nodes"))
    for n in (3, 1_000):
        w, x, y = (rng.uniform(-1, 1, n) for _ in range(3))
        at = f"w={_vec(w)},x={_vec(x)},y={_vec(y)}"
        argv = gradcalc_argv("sum((w*x - y)^2)", "--at", at, "--wrt", "w")
        rows.append(Row(f"CLI with SymPy check (sampled above 40), n = {n:,}",
                        command_time(argv, repeats=3), "same, --no-check",
                        command_time([*argv, "--no-check"], repeats=3), "check under 10 s"))
    seed = "a=100,an=2,o=150,on=3,tax=1.1"
    program = ("calc(apple, n, orange, m, tax) = tax*(apple*n + orange*m)\n"
               "payment = calc(a, an, o, on, tax)")
    rows.append(Row("CLI: seed payment through a function, checked",
                    command_time(gradcalc_argv(program, "--at", seed), repeats=3),
                    "the one-liner", command_time(gradcalc_argv("tax*(a*an+o*on)", "--at", seed),
                                                  repeats=3), "about 1x"))
    print_table("Vectors and user-defined functions", rows)
