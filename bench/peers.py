"""README's "Checking gradient code" table: scipy.optimize.check_grad, torch.autograd.gradcheck
and gradcalc.check_grad side by side on the cases of bench/peer_cases.py.

The peers are not dependencies of gradcalc or of its tests; run this in an environment of
its own:

    python -m venv .venv-peers
    .venv-peers/bin/pip install torch==2.13.0 scipy sympy mpmath numpy
    PYTHONPATH=src .venv-peers/bin/python bench/peers.py

scipy's check_grad returns the 2-norm of (your gradient - a forward difference, step
1.49e-8); torch's gradcheck compares your gradient (as the backward of a
torch.autograd.Function) with central differences (eps 1e-6, atol 1e-5, rtol 1e-3) at the
point given, and says True or False; gradcalc says ok or mismatch, with a counterexample.
"""

from __future__ import annotations

import os
import sys
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import gradcalc  # noqa: E402
from peer_cases import CASES, Case  # noqa: E402


def scipy_says(case: Case) -> str:
    from scipy.optimize import check_grad

    shape = np.shape(case.point)
    x0 = np.ravel(np.asarray(case.point, dtype=float))

    def func(v):
        return float(case.f(v.reshape(shape) if shape else v[0]))

    def grad(v):
        return np.ravel(np.asarray(case.grad(v.reshape(shape) if shape else v[0]), dtype=float))

    return f"{check_grad(func, grad, x0):.3g}"


def torch_says(case: Case) -> str:
    import torch

    class Hand(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return torch.tensor(float(case.f(x.detach().numpy() if x.ndim else
                                             float(x))), dtype=torch.float64)

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            mine = case.grad(x.detach().numpy() if x.ndim else float(x))
            return g * torch.as_tensor(np.asarray(mine, dtype=float), dtype=torch.float64)

    x = torch.tensor(np.asarray(case.point, dtype=float), dtype=torch.float64,
                     requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ok = torch.autograd.gradcheck(Hand.apply, (x,), raise_exception=False)
    return "passes" if ok else "fails"


def gradcalc_says(case: Case) -> str:
    report = gradcalc.check_grad(case.f, case.grad, case.point)
    if report.status != "mismatch":
        return report.status
    c = report.counterexample
    where = "at the given point" if c.given else (
        "at " + ", ".join(f"x={np.round(v, 3).tolist()}" for v in c.at))
    return f"mismatch: d/d{c.label} {where} (yours {c.yours:.10g}, true {c.true:.10g})"


def main() -> None:
    print("| case | right? | scipy.optimize.check_grad | torch.autograd.gradcheck | "
          "gradcalc.check_grad |")
    print("|---|---|---:|---|---|")
    for case in CASES:
        print(f"| {case.title} | {'yes' if case.right else 'no'} | {scipy_says(case)} | "
              f"{torch_says(case)} | {gradcalc_says(case)} |")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
