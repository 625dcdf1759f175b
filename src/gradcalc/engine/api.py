"""The Python API: tensors, and the tape that records the primitives they run into one flat
instruction list (sweep.py's: per slot a primitive, its argument slots and its value) and takes
gradients with sweep.py's backward loops over it, with TensorFlow's GradientTape semantics
(watch, persistent, nested tapes, unconnected gradients None or zero, structured targets summed,
jacobian and batch_jacobian, Variables with assign). Indexing, @ and numpy functions on tensors
are in arrays.py. The tape's Node objects (tape.nodes, node_of, the listings) are made from the
instructions only when something reads them; tape.py has the sweep over a list of nodes.

    x = Variable(3.0)
    with Tape() as tape:
        y = x * x
    tape.gradient(y, x)            # Tensor(6.0)
"""

from __future__ import annotations

import itertools
from bisect import bisect_left
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from enum import Enum
from typing import Any

import numpy as np

from .. import ops, ops_matrix
from ..engine import sweep
from ..engine.sweep import (
    Const,
    compute,
    seed_of,
)
from ..errors import Span
from ..ops import Primitive

_uids = itertools.count()
_ACTIVE: list[Tape] = []  # tapes currently recording, innermost last

# Array operations (indexing, @, reshaping, numpy's functions) and explanations build on this
# module in arrays.py and why.py, which plug their entry points in here when imported
# (gradcalc.engine imports both), so this module never imports them.
_PLUGINS: dict[str, Callable[..., Any]] = {}


def plug(name: str, fn: Callable[..., Any]) -> None:
    """Install an entry point this module calls but does not define (see _PLUGINS)."""
    _PLUGINS[name] = fn


def real_value(value: Any, what: str = "Tensor") -> Any:
    """A user's value as a tensor holds it: a float64 scalar, or a float64 array (a float64
    array given is not copied). Anything that is not a real number or an array of them is a
    TypeError (None, a string, a complex number) or a ValueError (an integer beyond float64's
    range, ragged rows) whose message names the value, as `what(value)` (or `what` with the
    value in place of its "{}"), and the fix."""
    t = type(value)
    if t is float or t is _F64:
        return _F64(value)
    if t is np.ndarray and value.dtype.kind == "f":
        return value.astype(np.float64, copy=False)
    call = what.replace("{}", _brief(value)) if "{}" in what else f"{what}({_brief(value)})"
    if isinstance(value, (str, bytes)):
        raise _not_a_number(value, call)
    try:
        arr = np.asarray(value)
    except ValueError:  # numpy's "inhomogeneous shape"
        raise ValueError(f"{call}: rows of different lengths: an array needs rows of one "
                         "length, e.g. [[1, 2], [3, 4]]") from None
    except OverflowError:
        arr = np.asarray(value, dtype=object)
    if arr.dtype.kind == "O":
        for index, element in np.ndenumerate(arr):
            _check_element(element, call, index)
    elif arr.dtype.kind not in "fiub":
        raise _not_a_number(value, call)
    with np.errstate(all="ignore"):
        out = arr.astype(np.float64)
    return _F64(out) if out.ndim == 0 and not isinstance(value, np.ndarray) else out


def _brief(value: Any) -> str:
    """A value as messages quote it: its repr, or a summary of a long one."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10 ** 30:
        return f"an integer of {len(str(abs(value)))} digits"
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:40]}... ({len(text):,} characters)"


def _check_element(element: Any, call: str, index: tuple[int, ...]) -> None:
    """Refuse one element of an object array that is not a real number."""
    if isinstance(element, (float, np.floating, bool, np.bool_, np.integer)):
        return
    at = f" at {list(index)}" if index else ""
    if isinstance(element, int):
        try:
            float(element)
        except OverflowError:
            raise ValueError(f"{call}: {_brief(element)}{at} is too large for float64 (the "
                             "largest is about 1.8e308): scale it down, or pass float('inf') "
                             "where infinity is meant") from None
        return
    if element is None or isinstance(element, (str, bytes, complex, np.complexfloating)):
        raise _not_a_number(element, call, at)
    raise TypeError(f"{call}: {type(element).__name__} {_brief(element)}{at} is not a number: "
                    "a tensor holds a real number or an array of them")


def _not_a_number(value: Any, call: str, at: str = "") -> TypeError:
    shown = _brief(value)
    if value is None:
        return TypeError(f"{call}: None{at} is not a number: a tensor holds a real number or "
                         "an array of them; give a start value, e.g. 0.0")
    if isinstance(value, (str, bytes)) or np.asarray(value).dtype.kind in "US":
        return TypeError(f"{call}: {shown}{at} is a string, not a number: convert it first, "
                         f"e.g. float({shown})")
    if isinstance(value, (complex, np.complexfloating)) or \
            np.asarray(value).dtype.kind == "c":
        return TypeError(f"{call}: complex values{at} are not supported: gradcalc "
                         "differentiates real functions of real float64 values; pass the real "
                         "part (z.real), or the real and imaginary parts as two real tensors")
    return TypeError(f"{call}: {type(value).__name__}{at} is not a number: a tensor holds a "
                     "real number or an array of them")


class Tensor:
    """A value that tapes can record: a float64 scalar or array with an identity."""

    __slots__ = ("value", "uid", "name", "parents")
    __array_priority__ = 1000
    __hash__ = object.__hash__

    def __init__(self, value: Any, name: str | None = None):
        self.value = value.value if isinstance(value, Tensor) else \
            real_value(value, type(self).__name__)
        self.uid = next(_uids)
        self.name = name
        # the arguments this one was computed from (tensors, recorded or not, and numbers):
        # lets explain() tell work done outside a tape from a true lack of dependence
        self.parents: tuple[Any, ...] = ()

    def numpy(self) -> Any:
        """The plain numpy value (a float64 scalar or array), not recorded."""
        if _SEALED[0]:
            _read(self, "t.numpy()")
        return self.value

    @property
    def shape(self) -> tuple[int, ...]:
        return np.shape(self.value)

    @property
    def ndim(self) -> int:
        return np.ndim(self.value)

    @property
    def dtype(self) -> np.dtype:
        return np.result_type(self.value)

    def __float__(self) -> float:
        if _SEALED[0]:
            _read(self, "float(t)")
        return float(self.value)

    def __int__(self) -> int:
        if _SEALED[0]:
            _read(self, "int(t)")
        return int(self.value)

    def __bool__(self) -> bool:
        if _SEALED[0]:
            _read(self, "the truth of a tensor (if t:, while t:, and, or, not)")
        return bool(self.value)

    def __format__(self, spec: str) -> str:
        if spec and _SEALED[0]:
            _read(self, f"format(t, {spec!r})")
        return format(self.value, spec) if spec else str(self)

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        if _SEALED[0]:
            _read(self, "np.asarray(t) (or a numpy function that reads the value)")
        # np.asarray(t) gives the value, as for a TensorFlow tensor (not recorded); but not of
        # a tensor a tape is recording: numpy calls this for np.array([x, y]) and for a list
        # handed to any numpy function, and the array it builds would silently cut the
        # gradient (JAX refuses it too)
        if _ACTIVE and _recorded_by_a_tape(self):
            raise TypeError("np.array / np.asarray of a tensor that a tape is recording (also "
                            "a list of tensors given to a numpy function, as in "
                            "np.array([x, y]) or np.linalg.norm([x, y])) would take its value "
                            "out and cut the gradient: build arrays of tensors with "
                            "np.stack([...]) (or F.stack), and take a value out with "
                            "t.numpy()")
        return np.array(self.value, dtype=dtype, copy=True if copy else None)

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of a scalar tensor: it has no components")
        return self.shape[0]

    def __iter__(self) -> Iterator[Any]:
        n = len(self) if self.shape else None
        if n is None:
            raise TypeError("cannot iterate over a scalar tensor")
        return (self[i] for i in range(n))

    def __getitem__(self, key: Any) -> Any:
        return _PLUGINS["getitem"](self, key)

    def __matmul__(self, o: Any) -> Any:
        return _PLUGINS["matmul"](self, o)

    def __rmatmul__(self, o: Any) -> Any:
        return _PLUGINS["matmul"](o, self)

    # numpy's methods, as the numpy functions record them (arrays.py), and values out
    @property
    def T(self) -> Tensor:
        """The transpose (axes reversed; a scalar or a vector is itself), recorded."""
        return self if self.ndim < 2 else apply(ops_matrix.TRANSPOSE, self)

    def transpose(self, *axes: Any) -> Tensor:
        """The axes permuted as numpy's transpose (no axes: reversed), recorded."""
        order = tuple(axes[0]) if len(axes) == 1 and isinstance(axes[0], (tuple, list)) \
            else axes
        if not order or order == tuple(range(self.ndim))[::-1]:
            return self.T
        if order == tuple(range(self.ndim)):
            return self
        return np.transpose(self, order)

    def sum(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        """np.sum(self, axis, keepdims=keepdims)."""
        return np.sum(self, axis=axis, keepdims=keepdims)

    def mean(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        """np.mean(self, axis, keepdims=keepdims)."""
        return np.mean(self, axis=axis, keepdims=keepdims)

    def max(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        """np.max(self, axis, keepdims=keepdims)."""
        return np.max(self, axis=axis, keepdims=keepdims)

    def min(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        """np.min(self, axis, keepdims=keepdims)."""
        return np.min(self, axis=axis, keepdims=keepdims)

    def prod(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        """np.prod(self, axis, keepdims=keepdims)."""
        return np.prod(self, axis=axis, keepdims=keepdims)

    def dot(self, other: Any) -> Tensor:
        """np.dot(self, other)."""
        return np.dot(self, other)

    def reshape(self, *shape: Any) -> Tensor:
        """np.reshape(self, shape); the shape as one tuple or as separate ints."""
        return _PLUGINS["reshape"](self, shape[0] if len(shape) == 1 else shape)

    def flatten(self) -> Tensor:
        """The components as a vector, row by row (a recorded reshape)."""
        return _PLUGINS["reshape"](self, -1)

    ravel = flatten

    def item(self) -> float:
        """The value of a one-component tensor as a Python float (not recorded)."""
        if _SEALED[0]:
            _read(self, "t.item()")
        return self.value.item()

    def tolist(self) -> Any:
        """The value as (nested lists of) Python floats (not recorded)."""
        if _SEALED[0]:
            _read(self, "t.tolist()")
        return self.value.tolist()

    def __repr__(self) -> str:
        label = f", name={self.name!r}" if self.name else ""
        return f"{type(self).__name__}({self.value.tolist()!r}{label})"

    # arithmetic records primitives
    def __add__(self, o: Any) -> Tensor: return apply(ops.ADD, self, o)
    def __radd__(self, o: Any) -> Tensor: return apply(ops.ADD, o, self)
    def __sub__(self, o: Any) -> Tensor: return apply(ops.SUB, self, o)
    def __rsub__(self, o: Any) -> Tensor: return apply(ops.SUB, o, self)
    def __mul__(self, o: Any) -> Tensor: return apply(ops.MUL, self, o)
    def __rmul__(self, o: Any) -> Tensor: return apply(ops.MUL, o, self)
    def __truediv__(self, o: Any) -> Tensor: return apply(ops.DIV, self, o)
    def __rtruediv__(self, o: Any) -> Tensor: return apply(ops.DIV, o, self)
    def __mod__(self, o: Any) -> Tensor: return apply(ops.MOD, self, o)
    def __rmod__(self, o: Any) -> Tensor: return apply(ops.MOD, o, self)
    def __pow__(self, o: Any) -> Tensor: return apply(ops.POW, self, o)
    def __rpow__(self, o: Any) -> Tensor: return apply(ops.POW, o, self)
    def __neg__(self) -> Tensor: return apply(ops.NEG, self)
    def __pos__(self) -> Tensor: return self
    def __abs__(self) -> Tensor: return apply(ops.ABS, self)

    # comparisons are piecewise constant: plain float arrays, never recorded
    def __eq__(self, o: Any) -> Any: return _cmp(np.equal, self, o)  # type: ignore[override]
    def __ne__(self, o: Any) -> Any: return _cmp(np.not_equal, self, o)  # type: ignore[override]
    def __lt__(self, o: Any) -> Any: return _cmp(np.less, self, o)
    def __le__(self, o: Any) -> Any: return _cmp(np.less_equal, self, o)
    def __gt__(self, o: Any) -> Any: return _cmp(np.greater, self, o)
    def __ge__(self, o: Any) -> Any: return _cmp(np.greater_equal, self, o)

    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        if method == "__call__" and not kwargs:
            prim = _ufuncs().get(ufunc)
            if prim is not None:
                return apply(prim, *inputs)
            if ufunc in _PIECEWISE_CONSTANT:
                return _cmp(ufunc, *inputs)
            if ufunc is np.positive:
                return inputs[0]
        # np.matmul, or a TypeError naming what is recorded
        return _PLUGINS["array_ufunc"](ufunc, method, inputs, kwargs)

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        if not all(issubclass(t, (Tensor, np.ndarray)) for t in types):
            return NotImplemented
        if _SEALED[0] and func in _READERS:
            reading(func, args)
        elementwise = _functions().get(func)
        if elementwise is not None and not kwargs:   # np.sinc: a primitive's
            prim, arguments = elementwise
            return apply(prim, *arguments(*args))
        # recorded, value-only, or a TypeError
        return _PLUGINS["array_function"](func, args, kwargs)


class Variable(Tensor):
    """A tensor with state: tapes watch it automatically when it is used (unless it is not
    trainable or the tape is told not to), and assign() changes its value in place."""

    __slots__ = ("trainable",)

    def __init__(self, value: Any, name: str | None = None, trainable: bool = True):
        super().__init__(value, name)
        self.trainable = trainable

    def assign(self, value: Any) -> Variable:
        """Set a new value of the same shape; returns the Variable. Tapes that recorded the old
        value keep differentiating at it."""
        # a copy: never an alias of the caller's array
        new = np.array(real_value(_raw(value), "assign"), dtype=np.float64)
        if new.shape != self.shape:
            raise ValueError(f"cannot assign a value of shape {new.shape} to {self._label()} of "
                             f"shape {self.shape}: a Variable keeps its shape (make a new one)")
        for tape in _ACTIVE:
            if self.uid in tape._index:
                raise RuntimeError(f"cannot assign to {self._label()} inside the with block of a "
                                   "tape that has used it: the tape would differentiate later "
                                   "uses at the old value; assign after the block")
        self.value = np.float64(new) if new.ndim == 0 else new
        return self

    def assign_add(self, delta: Any) -> Variable:
        """Add delta to the value (see assign); returns the Variable."""
        return self.assign(self.value + _raw(delta))

    def assign_sub(self, delta: Any) -> Variable:
        """Subtract delta from the value (see assign); returns the Variable."""
        return self.assign(self.value - _raw(delta))

    def _label(self) -> str:
        return f"Variable {self.name!r}" if self.name else "a Variable"


def _recorded_by_a_tape(t: Tensor) -> bool:
    """Whether a recording tape tracks t, or would watch it when used (a trainable Variable)."""
    for tape in _ACTIVE:
        if tape._recording and (t.uid in tape._index or isinstance(t, Variable)
                                and t.trainable and tape.watch_accessed_variables):
            return True
    return False


def constant(value: Any, name: str | None = None) -> Tensor:
    """A tensor that no tape watches unless asked to."""
    return Tensor(value if isinstance(value, Tensor) else real_value(value, "constant"), name)


def raw(x: Any) -> Any:
    """A tensor's value, or x itself."""
    return x.value if isinstance(x, Tensor) else x


_raw = raw


def _cmp(ufunc: Any, *args: Any) -> Any:
    if _ACTIVE:
        _accessed(args)
    out = np.asarray(ufunc(*(_raw(a) for a in args)), dtype=np.float64)
    if _SEALED[0] and _tracked(args):
        _THRESHOLDS.extend(float(a) for a in args if isinstance(a, (int, float, np.floating))
                           and not isinstance(a, bool))
        return out.view(Condition)
    return out


# ---------------------------------------------------------------- sealed recording
# Inside sealed() (check_grad records the user's function so), a number read out of a tensor
# that a recording tape tracks would be a constant the tape cannot differentiate, and a branch
# on it (`if x > 0:`) a program that holds at this point only: both are refused, naming what
# read the value. Comparisons still give masks for np.where, as Condition arrays whose truth
# cannot be taken.

_SEALED = [0]
_THRESHOLDS: list[float] = []   # the numbers recorded values were compared with, while sealed


class ValueRead(TypeError):
    """A number was read out of a recorded tensor while recording was sealed. how: what read
    it (float(t), the truth of a comparison, np.any, ...)."""

    def __init__(self, how: str):
        super().__init__(
            f"{how} reads the value of a recorded tensor: the tape would see a constant (or a "
            "branch that holds at this point only), not a function of the arguments; compute "
            "with operators and numpy functions instead (np.where(x > 0, a, b) for a branch, "
            "np.maximum for max, np.abs for abs)")
        self.how = how


@contextmanager
def sealed() -> Iterator[list[float]]:
    """Refuse, inside the block, every read of a recorded tensor's value (ValueRead); yields
    the list of the numbers recorded values are compared with inside it (x > 25 gives 25:
    where a mask for np.where changes)."""
    _SEALED[0] += 1
    start = len(_THRESHOLDS)
    found: list[float] = []
    try:
        yield found
    finally:
        _SEALED[0] -= 1
        found.extend(_THRESHOLDS[start:])
        del _THRESHOLDS[start:]


def _tracked(args: Sequence[Any]) -> bool:
    for a in args:
        if isinstance(a, Condition):
            return True
        if isinstance(a, Tensor):
            for tape in _ACTIVE:
                if tape._recording and a.uid in tape._index:
                    return True
    return False


def _read(t: Any, how: str) -> None:
    if _tracked((t,)):
        raise ValueRead(how)


def reading(func: Any, args: Sequence[Any]) -> None:
    """A numpy function that reads values (np.any, np.allclose, np.argmax, ...) applied to
    args: refused inside sealed() when one of them is recorded."""
    if _SEALED[0]:
        flat = [a for x in args for a in (x if isinstance(x, (list, tuple)) else (x,))]
        if _tracked(flat):
            raise ValueRead(f"np.{func.__name__}")


class Condition(np.ndarray):
    """A comparison of recorded tensors inside sealed(): a mask of 0 and 1 for np.where and
    arithmetic, whose truth (if, while, and, any, all) cannot be taken."""

    def __bool__(self) -> bool:
        raise ValueRead("the truth of a comparison (if x > 0:, while, and, or, Python's max)")

    def _refused(self, *args: Any, **kwargs: Any) -> Any:
        raise ValueRead("a comparison's any(), all(), item() or tolist()")

    any = all = item = tolist = __int__ = __float__ = __index__ = _refused

    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        if any(isinstance(a, Tensor) for a in inputs):
            return NotImplemented   # the tensor's protocol records it, with this as a constant
        plain = [a.view(np.ndarray) if isinstance(a, Condition) else a for a in inputs]
        run = ufunc if method == "__call__" else {
            "reduce": ufunc.reduce, "accumulate": ufunc.accumulate, "reduceat": ufunc.reduceat,
            "outer": ufunc.outer, "at": ufunc.at}[method]
        return run(*plain, **kwargs)

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        if func in _READERS:
            reading(func, (self,))
        if any(issubclass(t, Tensor) for t in types):
            return NotImplemented
        return func(*_plain_args(args), **_plain_args(kwargs))


def _plain_args(x: Any) -> Any:
    if isinstance(x, Condition):
        return x.view(np.ndarray)
    if isinstance(x, (list, tuple)):
        return type(x)(_plain_args(a) for a in x)
    if isinstance(x, dict):
        return {k: _plain_args(v) for k, v in x.items()}
    return x


# numpy functions whose result is a fact about values, the stuff of control flow
_READERS = {np.any, np.all, np.allclose, np.array_equal, np.array_equiv, np.argmax, np.argmin,
            np.nonzero, np.count_nonzero, np.flatnonzero, np.argwhere, np.isclose}


def _accessed(args: Sequence[Any]) -> None:
    """A comparison reads its Variables without recording an operation: as TensorFlow does for
    any read, the tapes that watch accessed variables watch them from now on (so Python's
    max(a, b, c) of Variables, which compares them and returns one, has a gradient with respect
    to the one it returns)."""
    for tape in _ACTIVE:
        if tape._recording and tape.watch_accessed_variables:
            for a in args:
                if isinstance(a, Variable) and a.trainable and a.uid not in tape._index:
                    tape._leaf(a)


def _ufuncs() -> dict[Any, Primitive]:
    """numpy ufunc -> the primitive it records on a tensor (Primitive.numpy_ufuncs)."""
    return ops.derived("tape.ufuncs", lambda: {u: p for p in ops.PRIMITIVES
                                               for u in p.numpy_ufuncs()})


def _functions() -> dict[Any, tuple[Primitive, Callable[..., tuple[Any, ...]]]]:
    """numpy function (not a ufunc) -> the primitive it records on a tensor, and the map from
    its arguments to the primitive's (Primitive.functions)."""
    return ops.derived("tape.functions", lambda: {f: (p, arguments) for p in ops.PRIMITIVES
                                                  for f, arguments in p.functions})


# (np.sign is a primitive: its derivative is a recorded 0, with a kink at 0)
_PIECEWISE_CONSTANT = {np.equal, np.not_equal, np.less, np.less_equal, np.greater,
                       np.greater_equal, np.isfinite, np.isnan, np.floor, np.ceil}


# ---------------------------------------------------------------- recording


class Node:
    """One tape entry: `id = prim(inputs)`; leaves (watched sources) have prim None.

    A class with slots and a positional constructor, not a dataclass: a tape makes one per
    recorded operation, and this is made about 1.4x faster."""

    __slots__ = ("id", "prim", "inputs", "value", "tensor", "label", "span")

    def __init__(self, id: int, prim: Primitive | None, inputs: tuple[int | Const, ...],
                 value: Any, tensor: Tensor, label: str | None = None,
                 span: Span | None = None):
        self.id = id
        self.prim = prim
        self.inputs = inputs
        self.value = value
        self.tensor = tensor
        self.label = label
        self.span = span

    def __repr__(self) -> str:
        return (f"Node(id={self.id!r}, prim={self.prim!r}, inputs={self.inputs!r}, "
                f"value={self.value!r}, label={self.label!r})")

    @property
    def op(self) -> str:
        """The op name: a primitive's name, or 'input' for a watched source."""
        return self.prim.name if self.prim is not None else "input"

    @property
    def ref(self) -> str:
        """The node's id as the tape listing and graphs show it: t<id>."""
        return ref(self.id)

    @property
    def title(self) -> str:
        """How messages name the node: its label (an assigned name, or call/t<id> inside a
        function call), else t<id>."""
        return self.label or ref(self.id)


def ref(node_id: int) -> str:
    """How every listing, graph and message writes a tape node's id: t<id>."""
    return f"t{node_id}"


def apply(prim: Primitive, *args: Any, span: Span | None = None) -> Tensor:
    """Run a primitive on tensors or numbers, recording it on every active tape that tracks an
    input."""
    n = len(args)
    if n == 2:  # most operations: no list comprehension (a call of its own)
        a, b = args
        values = [a.value if isinstance(a, Tensor) else a, b.value if isinstance(b, Tensor)
                  else b]
    elif n == 1:
        a = args[0]
        values = [a.value if isinstance(a, Tensor) else a]
    else:
        values = [a.value if isinstance(a, Tensor) else a for a in args]
    value = compute(prim, values)
    out = _new(Tensor)
    out.value = value
    out.uid = next(_uids)
    out.name = None
    out.parents = args
    if _ACTIVE:
        for tape in _ACTIVE:
            if tape._recording:
                tape._record(prim, args, out, span)
    return out


_F64 = np.float64
_new = object.__new__


ops.use_recorder(apply)


class Tape:
    """Records operations on watched tensors so that gradients can be taken in reverse mode.

    The record is one flat instruction list, sweep.py's: per slot a primitive (None for a
    leaf: a watched tensor, or a constant argument), its argument slots and its value. Its
    gradients are sweep.py's backward loops over it; its nodes are made when read (nodes).

    persistent: allow more than one gradient() call. watch_accessed_variables: watch every
    Variable used while recording (as TensorFlow does). unconnected: what gradient() gives for
    a source the target does not depend on, "none" (None) or "zero" (zeros of its shape).
    """

    def __init__(self, persistent: bool = False, watch_accessed_variables: bool = True,
                 unconnected: str = "none"):
        _check_unconnected(unconnected)
        self.persistent = persistent
        self.watch_accessed_variables = watch_accessed_variables
        self.unconnected = unconnected
        # the flat instruction list: per slot
        self._prims: list[Primitive | None] = []   # its primitive; None for a leaf
        self._args: list[tuple[Any, ...]] = []     # its argument slots
        self._vals: list[Any] = []                 # its recorded value
        self._tensors: list[Any] = []   # its Tensor; a constant's: the argument (a Const once
        #                                 its node is made)
        self._index: dict[int, int] = {}           # tensor uid -> slot
        self._labels: dict[int, str] = {}          # slot -> label, until its node is made
        self._spans: dict[int, Span] = {}          # slot -> where the language wrote it
        self._floats = True   # every value is a float64 scalar (the Python-float sweep)
        self._consts: list[int] = []    # the constants' slots
        self._plan: sweep.Plan = []     # the instructions as sweep.Plan entries, made when used
        self._planned = 0               # (the slots the plan covers)
        # the nodes, made from the slots when something reads them
        self._nodes: list[Node] = []
        self._node_ids: list[int] = []   # slot -> node id (-1: a constant's slot)
        self._recording = False
        self._used = False

    @classmethod
    def of_nodes(cls, nodes: list[Node]) -> Tape:
        """A persistent tape, not recording, holding these nodes (made elsewhere: the tape of
        a flat run, views.py); node k's inputs are node ids or Consts."""
        tape = cls(persistent=True, watch_accessed_variables=False)
        for node in nodes:
            tape._prims.append(node.prim)
            tape._args.append(node.inputs)
            tape._vals.append(node.value)
            tape._tensors.append(node.tensor)
            tape._index[node.tensor.uid] = node.id
        tape._nodes = nodes
        tape._node_ids = list(range(len(nodes)))
        tape._floats = False   # (Const arguments: the general sweep)
        return tape

    def __enter__(self) -> Tape:
        if self._recording or self in _ACTIVE:
            raise ValueError("this Tape is already recording (its with block has not ended): "
                             "it cannot be entered again, as in TensorFlow; use a new Tape() "
                             "for a nested one")
        _ACTIVE.append(self)
        self._recording = True
        return self

    def __exit__(self, *exc: object) -> None:
        self._recording = False
        if self in _ACTIVE:  # a used non-persistent tape has already left (_use)
            _ACTIVE.remove(self)

    def _use(self) -> None:
        # as in TensorFlow, a non-persistent tape stops recording once it is used, even inside
        # its with block: an optimizer step there (v.assign_sub(...)) is not on any tape
        self._used = True
        if not self.persistent:
            self._recording = False
            if self in _ACTIVE:
                _ACTIVE.remove(self)

    @contextmanager
    def stop_recording(self) -> Iterator[None]:
        """Operations inside this block are not recorded on this tape."""
        was, self._recording = self._recording, False
        try:
            yield
        finally:
            self._recording = was

    def watch(self, *tensors: Any) -> None:
        """Track these tensors (or lists, tuples and dicts of them): operations on them are
        recorded and they can be sources."""
        flat: list[Any] = []
        for t in tensors:
            flat.extend(_flatten(t)[0])
        for t in flat:
            if not isinstance(t, Tensor):
                raise TypeError(f"can only watch Tensors and Variables, not {type(t).__name__} "
                                f"{t!r}: wrap a number with constant(value)")
            if t.uid not in self._index:
                self._leaf(t)

    def _leaves(self) -> list[Tensor]:
        """The watched tensors, in the order they were watched (or used)."""
        tensors, consts = self._tensors, set(self._consts)
        return [tensors[k] for k, prim in enumerate(self._prims)
                if prim is None and k not in consts]

    def watched_variables(self) -> tuple[Variable, ...]:
        """The Variables this tape watches, in the order they were first watched or used."""
        return tuple(t for t in self._leaves() if isinstance(t, Variable))

    def reset(self) -> None:
        """Forget everything recorded, as if the with block were entered with a new tape."""
        for part in (self._prims, self._args, self._vals, self._tensors, self._nodes,
                     self._node_ids, self._consts, self._plan):
            part.clear()
        for table in (self._index, self._labels, self._spans):
            table.clear()
        self._floats = True
        self._planned = 0
        self._used = False

    def watched(self) -> list[Tensor]:
        """The watched source tensors, in the order they were watched."""
        return self._leaves()

    @property
    def nodes(self) -> list[Node]:
        """The recorded operations as tape nodes (`id = prim(inputs)`, the watched tensors as
        leaves; a constant argument is a Const of the node that uses it), made from the flat
        instructions on first read and kept (later reads add only what was recorded since)."""
        if len(self._node_ids) < len(self._prims):
            self._make_nodes()
        return self._nodes

    def _make_nodes(self) -> None:
        nodes, ids, tensors = self._nodes, self._node_ids, self._tensors
        prims, args, vals, labels, spans = (self._prims, self._args, self._vals, self._labels,
                                            self._spans)
        start = len(ids)
        consts = set(self._consts[bisect_left(self._consts, start):])  # (those from start on)
        for k in range(start, len(prims)):
            t = tensors[k]
            if k in consts:  # a constant argument: a Const of the nodes that use it
                tensors[k] = Const(vals[k], t.name if isinstance(t, Tensor) else None)
                ids.append(-1)
                continue
            i = len(nodes)
            ids.append(i)
            inputs = tuple(r if type(r) is not int else ids[r] if ids[r] >= 0 else tensors[r]
                           for r in args[k])
            nodes.append(Node(i, prims[k], inputs, vals[k], t, labels.pop(k, None),
                              spans.get(k)))

    def node_of(self, t: Tensor) -> Node | None:
        """The tape node that produced (or watches) this tensor, if any."""
        k = self._index.get(t.uid) if isinstance(t, Tensor) else None
        if k is None:
            return None
        return self.nodes[self._node_ids[k]]

    def _slot(self, prim: Primitive | None, args: tuple[Any, ...], value: Any,
              tensor: Any) -> int:
        """Append one instruction; returns its slot."""
        k = len(self._prims)
        self._prims.append(prim)
        self._args.append(args)
        self._vals.append(value)
        self._tensors.append(tensor)
        if self._floats and type(value) is not _F64:
            self._floats = type(value) in (float, int)
        return k

    def _leaf(self, t: Tensor) -> int:
        """Watch t: a leaf slot (returned)."""
        k = self._index[t.uid] = self._slot(None, (), t.value, t)
        if t.name is not None:
            self._labels[k] = t.name
        return k

    def _record(self, prim: Primitive, args: Sequence[Any], out: Tensor, span: Span | None) -> None:
        get = self._index.get
        n = len(args)
        slots: tuple[int, ...] | None = None
        if n == 2:  # most operations: both arguments recorded
            a, b = args
            i = get(a.uid) if isinstance(a, Tensor) else None
            j = get(b.uid) if isinstance(b, Tensor) else None
            if i is not None and j is not None:
                slots = (i, j)
            elif i is not None and not isinstance(b, Tensor):   # x * 2.0
                slots = (i, self._constant(b))
            elif j is not None and not isinstance(a, Tensor):   # 2.0 * x
                slots = (self._constant(a), j)
        elif n == 1:
            a = args[0]
            i = get(a.uid) if isinstance(a, Tensor) else None
            if i is not None:
                slots = (i,)
        if slots is None:
            slots = self._slots(args)
            if slots is None:  # nothing this tape tracks
                return
        # self._slot(prim, slots, out.value, out), written out: this runs once per operation
        prims = self._prims
        k = self._index[out.uid] = len(prims)
        prims.append(prim)
        self._args.append(slots)
        value = out.value
        self._vals.append(value)
        self._tensors.append(out)
        if type(value) is not _F64:
            self._floats = False
        if span is not None:
            self._spans[k] = span

    def _slots(self, args: Sequence[Any]) -> tuple[int, ...] | None:
        """The argument slots of an operation (None if it uses nothing this tape tracks): a
        Variable used for the first time is watched (watch_accessed_variables), and a constant
        argument (a number, or a tensor no tape watches) takes a slot of its own, a leaf that
        is no source."""
        get = self._index.get
        found: list[int | None] = []
        for a in args:
            i = None
            if isinstance(a, Tensor):
                i = get(a.uid)
                if i is None and self.watch_accessed_variables and isinstance(a, Variable) \
                        and a.trainable:
                    i = self._leaf(a)
            found.append(i)
        if all(i is None for i in found):
            return None
        for m, i in enumerate(found):
            if i is None:
                found[m] = self._constant(args[m])
        return tuple(found)  # type: ignore[arg-type]

    def _constant(self, a: Any) -> int:
        """A slot for a constant argument (a number, or a tensor no tape watches): a leaf that
        is no source, holding the argument itself until its node is made (then a Const)."""
        k = self._slot(None, (), raw(a), a)
        self._consts.append(k)
        return k

    def name(self, t: Tensor, label: str) -> None:
        """Give the node that produced t a user-facing label (first label wins)."""
        k = self._index.get(t.uid)
        if k is not None:
            if k < len(self._node_ids):
                node = self._nodes[self._node_ids[k]]
                if node.label is None:
                    node.label = label
            else:
                self._labels.setdefault(k, label)
        if t.name is None:
            t.name = label

    def gradient(self, target: Any, sources: Any, output_gradients: Any = None,
                 unconnected_gradients: str | None = None, *,
                 unconnected: str | None = None) -> Any:
        """d target / d sources, in the structure of sources (a tensor, or lists, tuples and
        dicts of tensors).

        A target that is a list, tuple or dict of tensors, or a tensor with several components,
        gives the gradient of the sum of all its components (TensorFlow's rule);
        output_gradients weights them (one array of the target's shape per target). A source
        the target does not depend on gets None, or zeros with unconnected="zero"
        (TensorFlow's spelling unconnected_gradients= works too; the default is the tape's).
        If another tape is recording, or this persistent tape is still recording, the
        computation is itself recorded there, so gradients can be differentiated again.
        explain(target, source) says why a gradient is None or 0.
        """
        mode = self._mode(unconnected, unconnected_gradients)
        self._check_usable()
        if target is None:
            raise TypeError("target must be a Tensor, or a list, tuple or dict of Tensors, not "
                            "None")
        targets = _flatten(target)[0]
        seeds = _seeds(target, targets, output_gradients)
        flat, rebuild = _sources(sources)
        self._use()
        grads = self._adjoints(targets, seeds, flat)
        out = [None if g is None else g if isinstance(g, Tensor) else Tensor(g) for g in grads]
        if mode == "zero":
            out = [Tensor(np.zeros_like(s.value)) if g is None else g
                   for g, s in zip(out, flat, strict=True)]
        return rebuild(out)

    def jacobian(self, target: Tensor, sources: Any, unconnected_gradients: str | None = None,
                 parallel_iterations: int | None = None, experimental_use_pfor: bool = True,
                 *, unconnected: str | None = None) -> Any:
        """d target[i...] / d source[j...] for each source, of shape target.shape +
        source.shape, in the structure of sources; None for an unconnected source (zeros with
        unconnected="zero"). One backward pass per component of the target; recorded on a
        recording tape as gradient() is. The last two arguments are TensorFlow's and ignored.
        """
        mode = self._mode(unconnected, unconnected_gradients)
        self._check_usable()
        if not isinstance(target, Tensor):
            raise TypeError("jacobian needs one Tensor target, not "
                            f"{type(target).__name__}: call it once per target on a "
                            "Tape(persistent=True)")
        flat, rebuild = _sources(sources)
        self._use()
        shape = target.shape
        rows = self._rows(target, flat, [np.unravel_index(k, shape)
                                         for k in range(_size(shape))])
        out = [_assemble(r, shape, s.shape, 0, mode) for r, s in zip(rows, flat, strict=True)]
        return rebuild(out)

    def batch_jacobian(self, target: Tensor, source: Tensor,
                       unconnected_gradients: str | None = None,
                       parallel_iterations: int | None = None,
                       experimental_use_pfor: bool = True, *,
                       unconnected: str | None = None) -> Any:
        """Per-example Jacobians: for a target of shape (b, y...) whose row i depends only on
        row i of a source of shape (b, x...), the (b, y..., x...) tensor of d target[i, y] /
        d source[i, x]. As in TensorFlow, that independence is the caller's promise: it is not
        checked. One backward pass per component of a target row."""
        mode = self._mode(unconnected, unconnected_gradients)
        self._check_usable()
        if not isinstance(target, Tensor) or not isinstance(source, Tensor):
            raise TypeError("batch_jacobian needs a Tensor target and a Tensor source")
        tshape, sshape = target.shape, source.shape
        if len(tshape) < 2 or len(sshape) < 2:
            raise ValueError(f"batch_jacobian needs a target and a source of rank 2 or more "
                             f"(a batch of rows), got shapes {tshape} and {sshape}: use "
                             "jacobian for one example")
        if tshape[0] != sshape[0]:
            raise ValueError(f"batch_jacobian: the first dimension (the batch) of the target "
                             f"{tshape} and of the source {sshape} must match")
        self._use()
        inner = tshape[1:]
        rows = self._rows(target, [source],
                          [(slice(None),) + np.unravel_index(k, inner)
                           for k in range(_size(inner))])[0]
        return _assemble(rows, inner, sshape, 1, mode)

    def _rows(self, target: Tensor, flat: list[Tensor], keys: list[Any]) -> list[list[Any]]:
        """Per source, the gradient of target[key] for each key (None where unconnected)."""
        rows: list[list[Any]] = [[] for _ in flat]
        for key in keys:
            seed = np.zeros(target.shape)
            seed[key] = 1.0
            for row, g in zip(rows, self._adjoints([target], [seed], flat), strict=True):
                row.append(g)
        return rows

    def _adjoints(self, targets: list[Any], seeds: list[Any], flat: list[Tensor]) -> list[Any]:
        """One backward sweep from all targets at once; the adjoint of each source or None."""
        starts: list[tuple[int, Any]] = []
        for t, seed in zip(targets, seeds, strict=True):
            i = self._index.get(t.uid) if isinstance(t, Tensor) else None
            if i is not None:
                starts.append((i, seed_of(t.value) if seed is None else seed))
        if not starts:
            return [None] * len(flat)
        source_ids = [self._index.get(s.uid) for s in flat]
        own = self.persistent and self._recording
        graph = own or any(t is not self and t._recording for t in _ACTIVE)
        if graph:
            self._check_unassigned()
        (first, seed), more = starts[0], starts[1:]
        sources = [i for i in source_ids if i is not None]
        if own:  # recorded on this tape too: the caller can differentiate the gradient
            adjoints = self._sweep(first, sources, seed, True, more)
        else:
            with self.stop_recording():
                adjoints = self._sweep(first, sources, seed, graph, more)
        return [None if i is None else _F64(adjoints[i]) if type(adjoints[i]) is float
                else adjoints[i] for i in source_ids]

    def _sweep(self, target: int, sources: list[int], seed: Any, graph: bool,
               more: list[tuple[int, Any]]) -> list[Any]:
        """The adjoints of the slots, from sweep.backward over the flat instructions (the
        recorded tensors as values in graph mode, so that a recording tape records the pass)."""
        prims, args = self._prims, self._args
        if not graph and not more and self._floats and type(seed) is _F64 and seed == 1.0:
            try:
                return self._float_sweep(target)
            except (sweep.SymbolicZero, OverflowError):
                pass   # a rule's symbolic zero, or an integer constant beyond float64
        if graph:
            values = list(self._tensors)
            for k in self._consts:
                values[k] = self._vals[k]
        else:
            values = self._vals
        return sweep.backward(prims, args, values, target, sources, seed, graph, more,
                              graph_unbroadcast=graph_unbroadcast).adjoints

    def _float_sweep(self, target: int) -> list[Any]:
        """The adjoints of the slots (Python floats, None where no gradient reached) from
        sweep.scalar_backward, for a tape whose values are all float64 scalars and a seed of 1:
        the same bits as sweep.backward (tests/test_flat.py), with the arithmetic inlined."""
        plan, prims, args = self._plan, self._prims, self._args
        done = self._planned
        new = prims[done:]
        kinds = {id(p): p for p in new if p is not None}
        opcode = {i: sweep.GENERAL if p.reduction else sweep.opcode(p, p.arity or 0)
                  for i, p in kinds.items()}
        # (a GENERAL entry's argument fields are not read: the rules take the slot's args)
        plan += [(opcode[id(p)], k, a[0], a[-1], p)
                 for k, p, a in zip(range(done, len(prims)), new, args[done:], strict=True)
                 if p is not None]
        self._planned = len(prims)
        live = bytearray(b"\x01") * len(prims)
        for k in self._consts:
            live[k] = 0
        values = list(map(float, self._vals))
        with np.errstate(all="ignore"):
            return sweep.scalar_backward(plan, prims, args, values, live, target)

    def _check_unassigned(self) -> None:
        # a recorded gradient computes with the source tensors themselves, not the values
        # the tape recorded: a Variable assigned since then would give wrong numbers
        vals = self._vals
        for t in self._leaves():
            if t.value is not vals[self._index[t.uid]]:
                label = t._label() if isinstance(t, Variable) else "a tensor"
                raise RuntimeError(f"{label} was assigned after this tape used it, so a "
                                   "recorded (higher-order) gradient would use the new value: "
                                   "record the computation again on a new tape")
    def _check_usable(self) -> None:
        if self._used and not self.persistent:
            raise RuntimeError("a non-persistent Tape can only compute one gradient (or "
                               "jacobian); use Tape(persistent=True)")

    def _mode(self, unconnected: str | None, unconnected_gradients: str | None) -> str:
        if unconnected is not None and unconnected_gradients is not None \
                and unconnected != unconnected_gradients:
            raise ValueError("give unconnected or unconnected_gradients, not both")
        mode = unconnected or unconnected_gradients or self.unconnected
        _check_unconnected(mode)
        return mode

    def explain(self, target: Any, source: Any) -> str | None:
        """Why d target / d source is None or exactly 0 on this tape, in one line; None when
        the gradient is neither. Does not count as a gradient() call."""
        reason = _PLUGINS["explain"](self, target, source)
        return None if reason is None else reason.text


GradientTape = Tape  # the name TensorFlow users type


class UnconnectedGradients(str, Enum):
    """TensorFlow's names for what an unconnected source gets; equal to "none" and "zero"."""

    NONE = "none"
    ZERO = "zero"


def _check_unconnected(mode: str) -> None:
    if mode not in ("none", "zero"):
        raise ValueError(f"unconnected must be 'none' or 'zero', not {mode!r}")


def recording() -> bool:
    """Whether a tape is recording now (operations on tensors it tracks are recorded)."""
    return any(t._recording for t in _ACTIVE)


@contextmanager
def paused() -> Iterator[None]:
    """No tape records inside this block (every recording tape's stop_recording at once)."""
    tapes = [t for t in _ACTIVE if t._recording]
    for t in tapes:
        t._recording = False
    try:
        yield
    finally:
        for t in tapes:
            if t in _ACTIVE:
                t._recording = True


def flatten(obj: Any) -> tuple[list[Any], Any]:
    """The leaves of nested lists, tuples and dicts (anything else is a leaf), and a function
    that rebuilds the structure from new leaves (JAX's pytrees, as gradient() takes sources)."""
    return _flatten(obj)


def _flatten(obj: Any) -> tuple[list[Any], Any]:
    """The leaves of nested lists, tuples and dicts (anything else is a leaf), and a function
    that rebuilds the structure from new leaves."""
    if isinstance(obj, dict):
        keys = list(obj)
        parts = [_flatten(obj[k]) for k in keys]
    elif isinstance(obj, (list, tuple)):
        keys = None
        parts = [_flatten(o) for o in obj]
    else:
        return [obj], lambda leaves: leaves[0]
    sizes = [len(p[0]) for p in parts]
    leaves = [leaf for p in parts for leaf in p[0]]

    def rebuild(new: list[Any]) -> Any:
        out, k = [], 0
        for (_, build), n in zip(parts, sizes, strict=True):
            out.append(build(new[k:k + n]))
            k += n
        if keys is not None:
            return dict(zip(keys, out, strict=True))
        if isinstance(obj, tuple):
            return type(obj)(*out) if hasattr(obj, "_fields") else type(obj)(out)
        return out

    return leaves, rebuild


def _sources(sources: Any) -> tuple[list[Tensor], Any]:
    flat, rebuild = _flatten(sources)
    for s in flat:
        if not isinstance(s, Tensor):
            raise TypeError("sources must be Tensors or Variables (or a list, tuple or dict of "
                            f"them), not {type(s).__name__} {s!r}: differentiate with respect "
                            "to a Variable, or a constant(...) passed to tape.watch()")
    return flat, rebuild


def _seeds(target: Any, targets: list[Any], output_gradients: Any) -> list[Any]:
    """One seed per target (None: ones), each checked against its target's shape."""
    if output_gradients is None:
        return [None] * len(targets)
    if isinstance(target, Tensor):
        og = output_gradients
        if isinstance(og, (list, tuple)) and len(og) == 1 and \
                np.shape(_raw(og[0])) == target.shape:
            og = og[0]  # TF's list of one gradient per target
        given = [og]
    else:
        given = _flatten(output_gradients)[0]
        if len(given) != len(targets):
            raise ValueError(f"output_gradients has {len(given)} arrays for {len(targets)} "
                             "targets: give one per target, in the target's structure")
    seeds: list[Any] = []
    graph = any(t._recording for t in _ACTIVE)
    for t, g in zip(targets, given, strict=True):
        if g is None or not isinstance(t, Tensor):
            seeds.append(None)
            continue
        if not isinstance(g, Tensor) or not graph:
            g = np.asarray(_raw(g), dtype=np.float64)
        if np.shape(_raw(g)) != t.shape:
            raise ValueError(f"output_gradients has shape {np.shape(_raw(g))}, but the target "
                             f"has shape {t.shape}: give an array of the target's shape "
                             f"(the default is np.ones({t.shape}))")
        seeds.append(g)
    return seeds


def _size(shape: tuple[int, ...]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def _assemble(rows: list[Any], tshape: tuple[int, ...], sshape: tuple[int, ...], axis: int,
              mode: str) -> Any:
    """Gradient rows (one per target component) as one Jacobian tensor of shape
    tshape + sshape, or (batch,) + tshape + sshape[1:] when stacked along axis 1."""
    reshape, stack = _PLUGINS["reshape"], _PLUGINS["stack"]
    if axis == 0:
        shape = tshape + sshape
        zero_shape = sshape
    else:
        shape = sshape[:1] + tshape + sshape[1:]
        zero_shape = sshape
    if not rows:  # a target with no components
        return Tensor(np.zeros(shape))
    if all(g is None for g in rows):
        return Tensor(np.zeros(shape)) if mode == "zero" else None
    rows = [np.zeros(zero_shape) if g is None else g for g in rows]
    j = stack(rows, axis=axis)
    return j if j.shape == shape else reshape(j, shape)


# ---------------------------------------------------------------- the sweep (sweep.py) on nodes


def graph_unbroadcast(c: Any, shape: tuple[int, ...]) -> Any:
    """Sum a contribution over the axes that broadcasting added to an input of this shape
    (a recorded contribution with a recorded operation: graph mode)."""
    if isinstance(c, Tensor):
        if c.shape == shape:
            return c
        return _PLUGINS["sum_to"](c, shape)
    return sweep.unbroadcast_plain(c, shape)
