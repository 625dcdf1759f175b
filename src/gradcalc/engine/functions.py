"""The functions of the op table for the Python API: each records its primitive on the active
tapes, on Variables, tensors or plain numbers alike.

    from gradcalc import Tape, Variable, functions as F
    x = Variable(0.5)
    with Tape() as tape:
        y = F.relu(x) + F.stop_gradient(x) * x
    tape.gradient(y, x)            # 1.5: stop_gradient's factor is a constant

One function per spelling of the language (sin, log, max, ...), generated from the op table
(ops.py): its docstring is the primitive's `doc`, its arguments the primitive's `params`, and
the number of arguments picks the primitive as in the language (log(x) or log(x, base),
max(a, b, ...) or max(vector)). A primitive registered later (ops.register) appears here too.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from .. import ops
from ..engine.api import Tensor, apply

# arrays.py (indexing, where, matrix products) is imported where used: not at start-up


def _as_vector(args: tuple[Any, ...]) -> tuple[Any, ...]:
    from ..engine.arrays import as_vector

    return (as_vector(args[0]),)


def _two_vectors(args: tuple[Any, ...]) -> tuple[Any, ...]:
    from ..engine.arrays import check_vectors

    check_vectors("dot", *args)
    return args


# What the Python API does to arguments before recording, beyond the language: any shape is
# read as its components (mean, prod), and dot refuses what is not two vectors of one length.
_PREPARE: dict[str, Callable[[tuple[Any, ...]], tuple[Any, ...]]] = {
    "mean": _as_vector, "prod": _as_vector, "dot": _two_vectors,
}


def _signature(by_arity: dict[int | None, ops.Primitive]) -> inspect.Signature:
    """The arguments of the longest fixed form; further ones of a shorter form default to None
    (log(x, base=None)); *args where some form is variadic (min, max)."""
    kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
    if None in by_arity:
        return inspect.Signature([inspect.Parameter("args", inspect.Parameter.VAR_POSITIONAL)],
                                 return_annotation=Tensor)
    shortest = min(a for a in by_arity if a is not None)
    longest = by_arity[max(a for a in by_arity if a is not None)]
    params = [inspect.Parameter(n, kind, **({} if k < shortest else {"default": None}))
              for k, n in enumerate(longest.argument_names())]
    return inspect.Signature(params, return_annotation=Tensor)


def _make(spelling: str, by_arity: dict[int | None, ops.Primitive]) -> Callable[..., Tensor]:
    prepare = _PREPARE.get(spelling)
    signature = _signature(by_arity)
    variadic = None in by_arity

    def function(*args: Any, **kwargs: Any) -> Tensor:
        if not variadic:
            bound = signature.bind(*args, **kwargs)
            args = tuple(v for v in bound.args if v is not None)
        elif kwargs:
            raise TypeError(f"{spelling}() takes no keyword arguments")
        prim = ops.resolve(spelling, len(args))
        if prim is None:
            raise TypeError(f"{spelling}() takes {ops.arities(spelling)} arguments, "
                            f"got {len(args)}")
        if prepare is not None:
            args = prepare(args)
        return apply(prim, *args)

    function.__name__ = function.__qualname__ = spelling
    function.__module__ = __name__
    function.__doc__ = next((p.doc for p in by_arity.values() if p.doc), f"{spelling}.")
    function.__signature__ = signature  # type: ignore[attr-defined]
    return function


def _function(spelling: str) -> Callable[..., Tensor]:
    """The API function of a spelling, made on first use (start-up makes only those it uses)."""
    made: dict[str, Callable[..., Tensor]] = ops.derived("functions.api", dict)
    fn = made.get(spelling)
    if fn is None:
        fn = made[spelling] = _make(spelling, ops.FUNCTIONS[spelling])
    return fn


def __getattr__(name: str) -> Any:
    if name == "__all__":
        return [*ops.FUNCTIONS, *_ARRAYS]
    if name in ops.FUNCTIONS:
        return _function(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *ops.FUNCTIONS, "__all__"})


# ---------------------------------------------------------------- Python API only (arrays.py)


def where(condition: Any, x: Any, y: Any) -> Tensor:
    """x where condition holds, else y (numpy broadcasting); the condition is a constant and no
    gradient reaches the branch not taken, not even a nan."""
    from ..engine import arrays

    return arrays.where(condition, x, y)


def matmul(a: Any, b: Any) -> Tensor:
    """a @ b for vectors and matrices; vector @ vector is the dot product."""
    from ..engine import arrays

    return arrays.matmul(a, b)


def stack(values: Any, axis: int = 0) -> Tensor:
    """Tensors (or numbers) of one shape stacked along a new axis."""
    from ..engine import arrays

    return arrays.stack(values, axis)


def reshape(x: Any, shape: Any) -> Tensor:
    """x with a new shape (numpy's rules, -1 allowed)."""
    from ..engine import arrays

    return arrays.reshape(x, shape)


_ARRAYS = ("where", "matmul", "stack", "reshape")
