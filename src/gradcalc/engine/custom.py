"""Hand-written gradients: TensorFlow's custom_gradient and JAX's custom_vjp. A decorated
function records as ONE tape node whose vector-Jacobian product is the user's; what the
function computes inside is not recorded.

    @custom_gradient
    def log1pexp(x):
        e = np.exp(x)
        def grad_fn(upstream):
            return upstream * (1 - 1 / (1 + e))
        return np.log(1 + e), grad_fn

As in TensorFlow: f runs with recording paused on every tape; grad_fn receives the upstream
gradient (a tensor of the output's shape) and returns one gradient per positional argument (a
single one for one argument; None for no gradient); while a tape records the backward pass (a
higher derivative), grad_fn's own operations are recorded, so its derivative is taken through
what it computes from the arguments, while tensors f computed (e above) are constants there.
Keyword arguments are passed on and not differentiated; Variables f uses without taking them
as arguments get no gradient through it (TensorFlow's `variables=` is not supported).

Nothing symbolic can see inside a Python function: the node's record has no SymPy counterpart
and saying so is all any check can do with it (never a verdict of `ok`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..engine.api import Tensor, apply, paused, real_value, recording
from ..engine.api import raw as _raw
from ..engine.functional import function_name
from ..ops import Primitive


def custom_gradient(f: Callable[..., Any]) -> Callable[..., Tensor]:
    """Decorator: f(*args) returns (y, grad_fn); the decorated function returns y, recorded as
    one node whose VJP is grad_fn (tf.custom_gradient)."""
    name = function_name(f)

    @functools.wraps(f)
    def decorated(*args: Any, **kwargs: Any) -> Tensor:
        def split(*values: Any) -> tuple[Any, Callable[..., Any]]:
            out = f(*values, **kwargs)
            if not (isinstance(out, (tuple, list)) and len(out) == 2 and callable(out[1])):
                raise TypeError(f"custom_gradient: {name} must return a pair (y, grad_fn), "
                                f"not {type(out).__name__}: return the value and the function "
                                "of the upstream gradient")
            return out[0], out[1]

        return _record(name, split, args)

    return decorated


class custom_vjp:  # noqa: N801  (JAX's name)
    """JAX's custom_vjp: f = custom_vjp(fun); f.defvjp(fwd, bwd), where fwd(*args) returns
    (fun(*args), residuals) and bwd(residuals, g) a tuple of one gradient per argument. Called
    while a tape records, f is one node whose VJP is bwd (fwd computes its value); otherwise
    it is fun."""

    def __init__(self, fun: Callable[..., Any]):
        functools.update_wrapper(self, fun)
        self.fun = fun
        self.fwd: Callable[..., Any] | None = None
        self.bwd: Callable[..., Any] | None = None

    def defvjp(self, fwd: Callable[..., Any], bwd: Callable[..., Any]) -> None:
        """Give the forward (value and residuals) and backward (residuals, g) rules."""
        self.fwd, self.bwd = fwd, bwd

    def __call__(self, *args: Any) -> Any:
        name = function_name(self.fun)
        fwd, bwd = self.fwd, self.bwd
        if fwd is None or bwd is None:
            raise TypeError(f"custom_vjp: {name} has no rules yet: call "
                            f"{name}.defvjp(fwd, bwd) first")
        if not recording():
            return self.fun(*args)

        def split(*values: Any) -> tuple[Any, Callable[..., Any]]:
            out = fwd(*values)
            if not (isinstance(out, (tuple, list)) and len(out) == 2):
                raise TypeError(f"custom_vjp: the fwd of {name} must return a pair (value, "
                                f"residuals), not {type(out).__name__}")
            value, res = out
            return value, lambda g: bwd(res, g)

        return _record(name, split, args)


# --------------------------------------------------------------- the node


def _record(name: str, split: Callable[..., tuple[Any, Callable[..., Any]]],
            args: tuple[Any, ...]) -> Tensor:
    """Run split (the user's function: value and backward) paused, and record its value as
    one node on the tapes that track an argument."""
    with paused():
        y, grad_fn = split(*args)
    value = _value(y, name)
    point = _Point(name, split, args, grad_fn)

    def forward(*values: Any) -> Any:
        # the recorded call's value; at other values (a replay of the tape) f runs again
        if point.same_values(values):
            return value
        with paused():
            return _value(split(*values)[0], name)

    def rule(i: int, g: Any, ans: Any, *at: Any) -> Any:
        return point.gradients(g, at)[i]

    if not args:  # nothing to differentiate with respect to
        return Tensor(value)
    prim = Primitive(f"custom:{name}", len(args), forward,
                     tuple(functools.partial(rule, i) for i in range(len(args))),
                     _no_symbolic(name), doc=f"{name}, with a hand-written gradient")
    return apply(prim, *args)


class _Point:
    """The user's backward function at the recorded call, and at any other point a replay of
    the tape differentiates at (f runs again there, paused)."""

    def __init__(self, name: str, split: Callable[..., Any], args: tuple[Any, ...],
                 grad_fn: Callable[..., Any]):
        self.name, self.split, self.args, self.grad_fn = name, split, args, grad_fn
        self.values = [_raw(a) for a in args]
        self.last: tuple[Any, tuple[Any, ...], list[Any]] | None = None

    def same_values(self, values: Sequence[Any]) -> bool:
        return all(v is w or _equal(v, w) for v, w in zip(values, self.values, strict=True))

    def same(self, at: Sequence[Any]) -> bool:
        """Whether a backward pass differentiates at the recorded call: its own argument
        tensors (recorded backward), or their values (plain backward)."""
        for a, original in zip(at, self.args, strict=True):
            if isinstance(a, Tensor):
                if a is not original:
                    return False
            elif not (a is _raw(original) or _equal(a, _raw(original))):
                return False
        return True

    def gradients(self, g: Any, at: tuple[Any, ...]) -> list[Any]:
        """One gradient per argument for the upstream gradient g (computed once for all the
        arguments of a node in one backward pass)."""
        last = self.last
        if last is not None and last[0] is g and len(last[1]) == len(at) and all(
                a is b for a, b in zip(last[1], at, strict=True)):
            return last[2]
        if self.same(at):
            grad_fn = self.grad_fn
        else:
            with paused():
                grad_fn = self.split(*at)[1]
        graph = isinstance(g, Tensor) or any(isinstance(a, Tensor) for a in at)
        upstream = g if isinstance(g, Tensor) else Tensor(np.asarray(g, dtype=np.float64)
                                                          if np.ndim(g) else np.float64(g))
        out = grad_fn(upstream)
        grads = self._check(out, at)
        if not graph:  # a plain backward pass: numbers, not tensors
            grads = [_raw(c) for c in grads]
        self.last = (g, at, grads)
        return grads

    def _check(self, out: Any, at: Sequence[Any]) -> list[Any]:
        n = len(at)
        many = isinstance(out, (tuple, list))
        grads = list(out) if many else [out]
        if len(grads) != n:
            raise ValueError(f"custom gradient of {self.name}: the backward function returned "
                             f"{len(grads)} gradient{'' if len(grads) == 1 else 's'} for {n} "
                             f"argument{'' if n == 1 else 's'}: return one per positional "
                             "argument (None for none)")
        for i, (c, a) in enumerate(zip(grads, at, strict=True)):
            shape = np.shape(_raw(a))
            if c is None:
                grads[i] = np.zeros(shape) if shape else np.float64(0.0)
            elif np.shape(_raw(c)) != shape:
                raise ValueError(f"custom gradient of {self.name}: the gradient for argument "
                                 f"{i} has shape {np.shape(_raw(c))}, but the argument has "
                                 f"shape {shape}: return an array of the argument's shape")
        return grads


def _value(y: Any, name: str) -> Any:
    return real_value(_raw(y), f"custom gradient of {name}: its value is {{}}")


def _equal(a: Any, b: Any) -> bool:
    return np.shape(a) == np.shape(b) and bool(np.array_equal(a, b, equal_nan=True))


def _no_symbolic(name: str) -> Callable[..., Any]:
    def sympy(sp: Any, *args: Any) -> Any:
        raise TypeError(f"{name} has a hand-written gradient (custom_gradient) and no SymPy "
                        "counterpart: SymPy cannot see inside a Python function, so it cannot "
                        "be checked symbolically")
    return sympy
