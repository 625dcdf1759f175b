"""check_grads for the ports of HIPS autograd's tests (test_numpy.py, test_linalg.py): our own
code, after autograd's test_util.check_grads in reverse mode. The reference is always central
differences of plain numpy: the function called on arrays, never on tensors."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from gradcalc import Tape, Variable

RNG = np.random.default_rng(7)


def _outputs(out: Any) -> list[Any]:
    return list(out) if isinstance(out, tuple) else [out]


def _central(f: Callable[[np.ndarray], float], x: np.ndarray, h: float) -> np.ndarray:
    out = np.zeros_like(x)
    for k in np.ndindex(*x.shape):
        up, down = x.copy(), x.copy()
        up[k] += h
        down[k] -= h
        out[k] = (f(up) - f(down)) / (2 * h)
    return out


def check_grads(fun: Callable[..., Any], *args: Any, argnum: Sequence[int] = (0,),
                order: int = 2, rtol: float = 1e-5, **kwargs: Any) -> None:
    """The gradient of a random projection of fun's outputs with respect to the arguments
    argnum, against central differences of fun on plain arrays; with order 2 also the
    gradient of a random projection of that gradient (recorded on an outer tape) against
    central differences of the first-order gradient just verified."""
    xs = [np.asarray(a, dtype=float) for a in args]
    weights = [RNG.normal(size=np.shape(o)) for o in _outputs(fun(*xs, **kwargs))]

    def scalar(*vs: Any) -> Any:
        total: Any = 0.0
        for out, w in zip(_outputs(fun(*vs, **kwargs)), weights, strict=True):
            total = total + np.sum(out * w)
        return total

    def with_arg(i: int, x: np.ndarray) -> list[Any]:
        return [x if k == i else a for k, a in enumerate(xs)]

    def grad_at(i: int, x: np.ndarray) -> np.ndarray:
        v = Variable(x)
        with Tape() as tape:
            y = scalar(*[v if k == i else a for k, a in enumerate(xs)])
        g = tape.gradient(y, v, unconnected_gradients="zero")
        return g.numpy()

    for i in argnum:
        h = 1e-6 * max(1.0, float(np.max(np.abs(xs[i]))) if xs[i].size else 1.0)
        want = _central(lambda x, i=i: float(scalar(*with_arg(i, x))), xs[i], h)
        scale = max(1.0, float(np.max(np.abs(want))) if want.size else 1.0)
        np.testing.assert_allclose(grad_at(i, xs[i]), want, rtol=rtol, atol=rtol * scale,
                                   err_msg=f"first order, argument {i}")
        if order < 2:
            continue
        u = RNG.normal(size=xs[i].shape)
        v = Variable(xs[i])
        with Tape() as outer:
            with Tape() as inner:
                y = scalar(*[v if k == i else a for k, a in enumerate(xs)])
            g = inner.gradient(y, v, unconnected_gradients="zero")
            z = np.sum(g * u)
        second = outer.gradient(z, v, unconnected_gradients="zero").numpy()
        want2 = _central(lambda x, i=i, u=u: float(np.sum(grad_at(i, x) * u)), xs[i], 1e-5)
        scale = max(1.0, float(np.max(np.abs(want2))) if want2.size else 1.0)
        np.testing.assert_allclose(second, want2, rtol=1e-4, atol=1e-4 * scale,
                                   err_msg=f"second order, argument {i}")
