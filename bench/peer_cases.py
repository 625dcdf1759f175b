"""The six gradient functions of README's "Checking gradient code" table: five subtly wrong
hand-written gradients and one steep but correct one, each with its function and point.
tests/test_check_grad.py judges them with gradcalc (true values from closed forms);
bench/peers.py runs scipy.optimize.check_grad and torch.autograd.gradcheck on them too."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from gradcalc import functions as F


def cube_abs(x):
    return np.sum(np.abs(x) ** 3)


def cube_abs_grad_wrong_below_zero(x):
    return 3 * x ** 2                     # true: 3 x |x|; wrong only where x < 0


def half_square(w):
    return 0.5 * np.sum(w * w)


def half_square_grad_one_wrong(w):
    g = w.copy()
    g[37] *= 1 + 1e-7                     # one component of 100, off by 1e-7 relative
    return g


def sine(x):
    return np.sin(np.pi * x)


def sine_grad_short_pi(x):
    return 3.1415927 * np.cos(np.pi * x)  # pi to 8 digits


def logdet(A):
    return F.logdet(A)


def logdet_grad_no_transpose(A):
    return np.linalg.inv(A)               # true: inv(A)^T (The Matrix Cookbook (57))


RNG = np.random.default_rng(25)
X_DATA = RNG.normal(size=(200, 10))
Y_DATA = np.where(RNG.random(200) < 0.5, -1.0, 1.0)


def logistic(w, X=X_DATA, y=Y_DATA):
    return np.mean(np.log1p(np.exp(-y * (X @ w))))


def logistic_grad(w, X=X_DATA, y=Y_DATA):
    s = 1 / (1 + np.exp(y * (X @ w)))
    return -(X.T @ (y * s)) / len(y)


def logistic_grad_no_label(w, X=X_DATA, y=Y_DATA):
    s = 1 / (1 + np.exp(y * (X @ w)))
    return -(X.T @ s) / len(y)            # the label factor y_i left out


def steep(x):
    return np.sin(1e5 * x)


def steep_grad(x):
    return 1e5 * np.cos(1e5 * x)          # right


A0 = np.array([[2.0, 1.0, 0.5], [0.3, 3.0, -1.0], [1.5, 0.2, 4.0]])   # not symmetric


@dataclass
class Case:
    """One row of the table: what is wrong (or right), the function, the gradient, the point,
    and whether the gradient is right."""

    title: str
    f: Callable[..., Any]
    grad: Callable[..., Any]
    point: Any
    right: bool = False


CASES = [
    Case("gradient wrong only for x < 0 (3 x^2 for the gradient of sum(abs(x)^3))", cube_abs,
         cube_abs_grad_wrong_below_zero, np.array([0.5, 1.5, 2.0])),
    Case("one wrong component of a 100-vector (relative 1e-7)", half_square,
         half_square_grad_one_wrong, np.linspace(-2.0, 3.0, 100)),
    Case("a wrong constant: 3.1415927 for pi in d/dx sin(pi x)", sine, sine_grad_short_pi,
         0.3),
    Case("missing transpose: inv(A) for d/dA log det A, A not symmetric", logdet,
         logdet_grad_no_transpose, A0),
    Case("logistic regression gradient without the label factor", logistic,
         logistic_grad_no_label, np.linspace(-0.5, 0.5, 10)),
    Case("steep but correct: d/dx sin(1e5 x) = 1e5 cos(1e5 x)", steep, steep_grad, 0.7,
         right=True),
]
