"""Matrices (issue 17): `sum((X@w - y)^2) + logdet(A)` with X 1000x100 and A 100x100, on the
tape (Python API) and on the command line, against numpy-only yardsticks in the same run: the
closed-form gradients 2 X^T (Xw - y) and inv(A)^T, in-process and as a `python -c` script that
loads the same .npy files.

    python bench/run.py matrix
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

from common import Row, command_time, gradcalc_argv, median_time, print_table
from gradcalc import Tape, Variable, functions

EXPR = "sum((X@w - y)^2) + logdet(A)"


def _tape(X: np.ndarray, w: np.ndarray, y: np.ndarray, A: np.ndarray) -> list[np.ndarray]:
    vs = [Variable(a) for a in (X, w, y, A)]
    with Tape() as tape:
        r = vs[0] @ vs[1] - vs[2]
        loss = functions.sum(r * r) + functions.logdet(vs[3])
    return [g.value for g in tape.gradient(loss, vs)]


def _numpy(X: np.ndarray, w: np.ndarray, y: np.ndarray, A: np.ndarray) -> list[np.ndarray]:
    r = X @ w - y
    return [2 * np.outer(r, w), 2 * X.T @ r, -2 * r, np.linalg.inv(A).T]


YARDSTICK = """
import sys, numpy as np
X, w, y, A = (np.load(f"{sys.argv[1]}/{n}.npy") for n in "Xwy" + "A")
r = X @ w - y
_, ld = np.linalg.slogdet(A)
grads = [2 * np.outer(r, w), 2 * X.T @ r, -2 * r, np.linalg.inv(A).T]
print(float(r @ r + ld), [g.shape for g in grads])
"""


def main() -> None:
    rng = np.random.default_rng(0)
    X, w, y = rng.normal(size=(1000, 100)), rng.normal(size=100), rng.normal(size=1000)
    m = rng.normal(size=(100, 100))
    A = m @ m.T + 100 * np.eye(100)
    for got, want in zip(_tape(X, w, y, A), _numpy(X, w, y, A), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)
    rows = [Row("tape: gradient of " + EXPR + ", X 1000x100, A 100x100",
                median_time(lambda: _tape(X, w, y, A)), "numpy closed form",
                median_time(lambda: _numpy(X, w, y, A)), "a few tape nodes")]
    with tempfile.TemporaryDirectory() as tmp:
        for name, value in zip("XwyA", (X, w, y, A), strict=True):
            np.save(Path(tmp) / f"{name}.npy", value)
        at = [a for n in "XwyA" for a in ("--at", f"{n}=@{tmp}/{n}.npy")]
        numpy_script = [sys.executable, "-c", YARDSTICK, tmp]
        rows.append(Row("CLI --no-check, text (110,100 partials)",
                        command_time(gradcalc_argv(EXPR, *at, "--no-check"), repeats=3),
                        "python -c: numpy loads and solves", command_time(numpy_script, repeats=3),
                        "under 1 s"))
        rows.append(Row("CLI --no-check, json",
                        command_time(gradcalc_argv(EXPR, *at, "--no-check", "--format", "json"),
                                     repeats=3),
                        "python -c: numpy loads and solves", command_time(numpy_script, repeats=3),
                        "under 1 s"))
        no_check = command_time(gradcalc_argv(EXPR, *at, "--no-check", "--format", "json"),
                                repeats=3)
        rows.append(Row("CLI checked (sampled, numeric reference), json",
                        command_time(gradcalc_argv(EXPR, *at, "--format", "json"), repeats=3),
                        "the same call with --no-check", no_check,
                        "within the 10 s budget"))
    print_table("Matrices", rows)
