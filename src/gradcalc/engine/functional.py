"""The functional forms of the Python API, as JAX and autograd users write them: grad,
value_and_grad, jacobian and hessian transform a numpy-style function of floats and arrays.

    from gradcalc import grad
    import numpy as np
    grad(lambda x: x * np.sin(x))(3.0)      # np.float64(3*cos(3) + sin(3))

The transformed function calls f with fresh tensors in place of the differentiated arguments
(argnums: an int or a tuple of ints; an argument may be a list, tuple or dict of numbers and
arrays, JAX's pytree, and its gradient has the same structure), records f on a tape and takes
the gradient. Results are plain numpy values (a float64 scalar or array), as jax.grad returns
arrays, not tracers; called while a tape records (inside another transformation, or a user's
`with Tape()` block) they are tensors recorded there instead, so that grad(grad(f)) and a
gradient of a gradient on a tape are second derivatives (nested tapes, as everywhere).

What JAX would turn into a zero the tape cannot see is refused: f must return a tensor computed
on the tape, so a function that returned a plain number (a constant, or a value taken out with
float(x), x.numpy() or np.asarray(x)) is a TypeError rather than a silent zero gradient. An
output that is a tensor but does not depend on the arguments has the gradient 0, as in JAX.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .. import ops
from ..engine.api import Tape, Tensor, apply, flatten, real_value, recording

# --------------------------------------------------------------- the transformations


def grad(fun: Callable[..., Any], argnums: int | Sequence[int] = 0,
         has_aux: bool = False) -> Callable[..., Any]:
    """The function computing the gradient of fun (which returns a scalar) with respect to its
    positional argument(s) argnums: one gradient of that argument's shape and structure, or a
    tuple of them when argnums is a tuple. has_aux: fun returns (scalar, aux), and the
    transformed function returns (gradient, aux)."""
    both = _value_and_grad(fun, argnums, has_aux, "grad")

    @functools.wraps(fun)
    def gradient(*args: Any, **kwargs: Any) -> Any:
        value, g = both(*args, **kwargs)
        return (g, value[1]) if has_aux else g

    return gradient


def value_and_grad(fun: Callable[..., Any], argnums: int | Sequence[int] = 0,
                   has_aux: bool = False) -> Callable[..., Any]:
    """The function computing (fun's value, its gradient) in one forward and one backward pass
    (see grad); with has_aux, ((value, aux), gradient)."""
    return _value_and_grad(fun, argnums, has_aux, "value_and_grad")


def jacobian(fun: Callable[..., Any], argnums: int | Sequence[int] = 0,
             has_aux: bool = False) -> Callable[..., Any]:
    """The function computing the Jacobian of fun (reverse mode, one backward pass per output
    component, as jax.jacrev): for an output of shape S and an argument of shape A, an array of
    shape S + A. fun may return a tensor or a list, tuple or dict of them (the Jacobians come
    back in that structure, each of the arguments' structure); has_aux as for grad."""
    return _jacobian(fun, argnums, has_aux, "jacobian")


def hessian(fun: Callable[..., Any], argnums: int | Sequence[int] = 0,
            has_aux: bool = False) -> Callable[..., Any]:
    """The function computing the Hessian of fun: the Jacobian of its Jacobian (reverse over
    reverse on nested tapes). For a scalar output and an argument of shape A, an array of shape
    A + A; for argnums (i, j), the blocks ((H_ii, H_ij), (H_ji, H_jj)) as in JAX."""
    return _jacobian(_jacobian(fun, argnums, has_aux, "hessian"), argnums, has_aux, "hessian")


def _value_and_grad(fun: Callable[..., Any], argnums: int | Sequence[int], has_aux: bool,
                    name: str) -> Callable[..., Any]:
    @functools.wraps(fun)
    def value_and_gradient(*args: Any, **kwargs: Any) -> Any:
        call = _Call(fun, name, args, kwargs, argnums)
        out, aux = call.run(has_aux)
        if not isinstance(out, Tensor):
            raise _not_a_tensor(name, fun, out)
        if out.shape != ():
            raise TypeError(f"{name}: {function_name(fun)} must return a scalar, but it "
                            f"returned a tensor of shape {out.shape}: reduce it (np.sum(y), "
                            "y.sum(), y.mean()), or take every component's gradient with "
                            "jacobian(f)")
        grads = call.tape.gradient(out, call.leaves, unconnected="zero")
        value = out if call.nested else _value(out)
        return ((value, call.out(aux)) if has_aux else value), call.result(grads)

    return value_and_gradient


def _jacobian(fun: Callable[..., Any], argnums: int | Sequence[int], has_aux: bool,
              name: str) -> Callable[..., Any]:
    @functools.wraps(fun)
    def jac(*args: Any, **kwargs: Any) -> Any:
        call = _Call(fun, name, args, kwargs, argnums)
        out, aux = call.run(has_aux)
        outputs, rebuild = flatten(out)
        for o in outputs:
            if not isinstance(o, Tensor):
                raise _not_a_tensor(name, fun, o)
        rows = [call.result(call.tape.jacobian(o, call.leaves, unconnected="zero"))
                for o in outputs]
        result = rebuild(rows)
        return (result, call.out(aux)) if has_aux else result

    return jac


# --------------------------------------------------------------- one call of a transformation


class _Call:
    """One call of a transformed function: the differentiated arguments replaced by fresh
    tensors (the leaves) that a new tape watches."""

    def __init__(self, fun: Callable[..., Any], name: str, args: tuple[Any, ...],
                 kwargs: dict[str, Any], argnums: int | Sequence[int]):
        self.fun, self.name, self.kwargs = fun, name, kwargs
        self.single = isinstance(argnums, (int, np.integer)) and not isinstance(argnums, bool)
        self.nums = _argnums(argnums, len(args), name, fun)
        # called while a tape records: the results stay on it (a tensor computed from the
        # arguments), so that the caller can differentiate them again
        self.nested = recording()
        self.args = list(args)
        self.leaves: list[Tensor] = []
        self.rebuilds: list[tuple[int, Any]] = []
        for k in self.nums:
            flat, rebuild = flatten(args[k])
            leaves = [self._leaf(a, k) for a in flat]
            self.args[k] = rebuild(leaves)
            self.rebuilds.append((len(leaves), rebuild))
            self.leaves += leaves
        self.tape = Tape(persistent=True, watch_accessed_variables=False)

    def _leaf(self, a: Any, k: int) -> Tensor:
        if isinstance(a, Tensor):
            # a copy recorded where a is (x * 1 is x exactly, signed zeros and nan included):
            # the same tensor passed twice still gets two separate gradients
            return apply(ops.MUL, a, 1.0) if self.nested else Tensor(a.value)
        what = f"{self.name}({function_name(self.fun)}): argument {k} is {{}}"
        return Tensor(real_value(a, what))

    def run(self, has_aux: bool) -> tuple[Any, Any]:
        """Call fun on the leaves under the tape: (output, aux or None)."""
        with self.tape:
            self.tape.watch(self.leaves)
            out = self.fun(*self.args, **self.kwargs)
        if not has_aux:
            return out, None
        if not isinstance(out, (tuple, list)) or len(out) != 2:
            raise TypeError(f"{self.name}(..., has_aux=True): {function_name(self.fun)} must "
                            f"return a pair (output, aux), not {type(out).__name__}")
        return out[0], out[1]

    def result(self, grads: Sequence[Any]) -> Any:
        """Gradients per leaf as the arguments' structures: numpy values, or tensors when
        nested; one structure, or a tuple of them for a tuple of argnums."""
        out, k = [], 0
        for n, rebuild in self.rebuilds:
            out.append(rebuild([self.out(g) for g in grads[k:k + n]]))
            k += n
        return out[0] if self.single else tuple(out)

    def out(self, x: Any) -> Any:
        """A result as the caller gets it: tensors stay tensors when nested, else their
        values (in any structure of lists, tuples and dicts)."""
        if self.nested:
            return x
        leaves, rebuild = flatten(x)
        return rebuild([_value(v) if isinstance(v, Tensor) else v for v in leaves])


def _value(t: Tensor) -> Any:
    """A tensor's value as a transformation returns it: a float64 scalar for a scalar."""
    v = t.value
    return np.float64(v) if isinstance(v, np.ndarray) and v.ndim == 0 else v


def _argnums(argnums: Any, nargs: int, name: str, fun: Callable[..., Any]) -> list[int]:
    """The positions of the differentiated arguments, checked."""
    single = isinstance(argnums, (int, np.integer)) and not isinstance(argnums, bool)
    nums = [argnums] if single else argnums
    if not isinstance(nums, (tuple, list)) or not all(
            isinstance(k, (int, np.integer)) and not isinstance(k, bool) for k in nums):
        raise TypeError(f"{name}: argnums must be an int or a tuple of ints, not {argnums!r}")
    out = []
    for k in nums:
        if not -nargs <= k < nargs:
            raise TypeError(f"{name}: argnums={argnums!r} asks for argument {k}, but "
                            f"{function_name(fun)} was called with {nargs} positional argument"
                            f"{'' if nargs == 1 else 's'}")
        out.append(int(k) % nargs)
    if len(set(out)) != len(out):
        raise ValueError(f"{name}: argnums={argnums!r} names an argument twice")
    return out


def _not_a_tensor(name: str, fun: Callable[..., Any], out: Any) -> TypeError:
    shown = repr(out)
    shown = shown if len(shown) <= 40 else shown[:37] + "..."
    return TypeError(f"{name}: {function_name(fun)} returned {type(out).__name__} {shown}, not a "
                     "tensor computed from its arguments, so the tape has nothing to "
                     "differentiate: compute the result from the arguments with operators and "
                     "numpy functions (float(x), x.numpy() and np.asarray(x) take a number off "
                     "the tape; a constant function's gradient is 0: return 0 * x + c)")


def function_name(fun: Callable[..., Any]) -> str:
    """How messages name a user's function: its __name__, or its type's for a callable
    object."""
    name = fun.__name__ if hasattr(fun, "__name__") else ""
    return name if isinstance(name, str) and name else type(fun).__name__
