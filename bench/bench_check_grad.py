"""check_grad's time: a 100-parameter logistic regression on 1,000 rows, judged with the default
search (the given point and 20 random points), against one scipy.optimize.check_grad call on
the same function and gradient (a forward-difference gradient and one norm), alternately in
the same run, medians. Needs scipy (pip install scipy): skipped without it.

    BENCH_REPEATS=3 python bench/run.py check_grad
"""

from __future__ import annotations

import numpy as np

from common import REPEATS, Row, paired_times, print_table

ROWS, PARAMS = 1_000, 100


def _problem():
    rng = np.random.default_rng(100)
    X = rng.normal(size=(ROWS, PARAMS))
    y = np.where(rng.random(ROWS) < 0.5, -1.0, 1.0)
    w = rng.normal(size=PARAMS) * 0.1

    def loss(w):
        return np.mean(np.log1p(np.exp(-y * (X @ w))))

    def grad_loss(w):
        s = 1 / (1 + np.exp(y * (X @ w)))
        return -(X.T @ (y * s)) / len(y)

    return loss, grad_loss, w


def main() -> None:
    try:
        from scipy.optimize import check_grad as scipy_check_grad
    except ImportError:
        print("\n### check_grad: skipped (scipy is not installed)")
        return
    import gradcalc

    loss, grad_loss, w = _problem()
    report = gradcalc.check_grad(loss, grad_loss, w)
    assert report.status == "ok", str(report)
    repeats = min(REPEATS, 3)   # (a run takes seconds)
    ours, theirs = paired_times(lambda: gradcalc.check_grad(loss, grad_loss, w),
                                lambda: scipy_check_grad(loss, grad_loss, w), repeats)
    print_table("check_grad: 100-parameter logistic regression, 1,000 rows", [
        Row(f"gradcalc.check_grad, default search ({report.searched} random points, "
            f"{sum(not v.certified for v in report.components)} of {PARAMS} components "
            "vouched for by the screen at the given point)", ours,
            "one scipy.optimize.check_grad", theirs, "seconds, for a test suite")])


if __name__ == "__main__":
    main()
