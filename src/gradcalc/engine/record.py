"""A user's numpy function recorded on the tape, for check_grad: the arguments as watched
tensors, the function run with recording sealed (tape.sealed: no number may leave a recorded
tensor, so a branch on a value is refused instead of recorded as the one branch taken), and
the recorded program's structure, so that recordings at different points can be compared.

    rec = record(f, [np.array([1.0, 2.0])], names=["w"])
    rec.nodes, rec.leaves, rec.output, rec.value

Whatever goes wrong is a RecordError that names the user's line: a numpy function or value
the tape refuses (tape.ValueRead, the TypeError of arrays.py), the function raising, or an
output that is not a scalar computed from the arguments.
"""

from __future__ import annotations

import hashlib
import os
import sys
import traceback
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import ops
from .tape import Const, Node, Tape, Tensor, ValueRead, real_value, sealed


class RecordError(Exception):
    """The function could not be recorded. kind: refused (something the tape cannot record),
    raised (the function raised), output (its result is not a scalar tensor computed from the
    arguments), argument (an argument is not an array of real numbers). where: the user's
    line, `file.py line 12: if x > 0:`, when known."""

    def __init__(self, kind: str, message: str, where: str = ""):
        super().__init__(message + (f" ({where})" if where else ""))
        self.kind = kind
        self.message = message
        self.where = where


@dataclass
class Recording:
    """One run of the function on the tape: its nodes, the node of each argument (in order),
    the output node (None: the output is a constant), the value, and the structure's key
    (equal keys: the same primitives on the same inputs and constants)."""

    nodes: list[Node]
    leaves: list[int]
    shapes: list[tuple[int, ...]]
    output: int | None
    value: float
    key: bytes
    thresholds: list[float]


_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# not the user's code: gradcalc, numpy, and Python's own library (of a virtual environment
# and of the Python it was made from)
_NOT_USERS = (_PACKAGE, os.path.dirname(np.__file__),
              *{os.path.join(p, "lib") + os.sep for p in (sys.prefix, sys.base_prefix)})


def user_line(tb: Any) -> str:
    """The innermost frame of a traceback that is the user's code (not gradcalc's, numpy's or
    Python's own), as `file.py line 12: source`; "" if there is none."""
    found = ""
    for frame in traceback.extract_tb(tb):
        path = os.path.abspath(frame.filename)
        if path.startswith(_NOT_USERS):
            continue
        text = (frame.line or "").strip()
        found = f"{os.path.basename(path)} line {frame.lineno}" + (f": {text}" if text else "")
    return found


def as_argument(value: Any, name: str) -> Any:
    """An argument as the tape holds it (a float64 scalar or array), or a RecordError naming
    it."""
    try:
        return real_value(value, f"argument {name} = {{}}")
    except (TypeError, ValueError) as exc:
        raise RecordError("argument", str(exc)) from None


def record(f: Callable[..., Any], args: Sequence[Any], names: Sequence[str],
           constants: dict[int, Any] | None = None, label: str = "f") -> Recording:
    """f(*args) recorded with each argument a watched tensor (constants: positions whose
    value is passed as it is, not differentiated); names: the arguments' names for messages;
    label: the function's name for messages."""
    constants = constants or {}
    tape = Tape(persistent=True, watch_accessed_variables=False)
    leaves: list[Tensor] = []
    call: list[Any] = []
    for k, a in enumerate(args):
        if k in constants:
            call.append(constants[k])
            continue
        t = Tensor(as_argument(a, names[k]), names[k])
        leaves.append(t)
        call.append(t)
    try:
        with tape, sealed() as thresholds, warnings.catch_warnings():
            # a complex constant is cast to its real part on the tape, with a warning: here,
            # a refusal
            warnings.simplefilter("error", np.exceptions.ComplexWarning)
            tape.watch(leaves)
            out = f(*call)
    except np.exceptions.ComplexWarning:
        raise RecordError("refused", f"{label}: complex values are not supported: gradcalc "
                          "differentiates real functions of real float64 values; write the "
                          "real and imaginary parts as two real computations",
                          user_line(sys.exc_info()[2])) from None
    except ValueRead as exc:
        raise RecordError("refused", f"{label}: {exc}", user_line(exc.__traceback__)) from None
    except TypeError as exc:
        text = str(exc)
        if "no gradient rule in gradcalc" in text or "complex values" in text:
            raise RecordError("refused", f"{label}: {text}",
                              user_line(exc.__traceback__)) from None
        raise _raised(label, exc) from None
    except Exception as exc:  # the user's own code failed: named, never a traceback of ours
        raise _raised(label, exc) from None
    if not isinstance(out, Tensor):
        shown = repr(out)
        shown = shown if len(shown) <= 40 else shown[:37] + "..."
        raise RecordError("output", f"{label} returned {type(out).__name__} {shown}, not a "
                          "value computed from its arguments: compute it with operators and "
                          "numpy functions of the arguments")
    if out.shape != ():
        raise RecordError("output", f"{label} must return a scalar, but it returned an array "
                          f"of shape {out.shape}: a gradient is of a scalar function (reduce "
                          "it, e.g. np.sum(y))")
    ids = [tape.node_of(t) for t in leaves]
    node = tape.node_of(out)
    return Recording(list(tape.nodes), [n.id for n in ids if n is not None],
                     [t.shape for t in leaves], None if node is None else node.id,
                     float(out.value), structure_key(tape.nodes), thresholds)


def _raised(label: str, exc: BaseException) -> RecordError:
    text = str(exc).split("\n")[0]
    return RecordError("raised", f"{label} raised {type(exc).__name__}"
                       + (f": {text}" if text else ""), user_line(exc.__traceback__))


def structure_key(nodes: Sequence[Node]) -> bytes:
    """A digest of the recorded program: each node's primitive, its inputs and the exact value
    of every constant input (the point's own values are not part of it)."""
    h = hashlib.blake2b(digest_size=16)
    for node in nodes:
        prim = node.prim
        # (a primitive made for one call, outside the table, is known by its name only)
        h.update(b"input" if prim is None else prim.name.encode()
                 + (b"" if ops.BY_NAME.get(prim.name) is prim else b"#"))
        for r in node.inputs:
            if type(r) is int:
                h.update(b"@%d" % r)
            else:
                h.update(_constant_bytes(r))
        h.update(b";")
    return h.digest()


def _constant_bytes(c: Const) -> bytes:
    v = c.value
    if isinstance(v, np.ndarray):
        return b"a" + str((v.dtype.str, v.shape)).encode() + np.ascontiguousarray(v).tobytes()
    if isinstance(v, (float, np.floating)):
        return b"f" + np.float64(v).tobytes()
    return b"o" + repr(v).encode()


def differences(a: Recording, b: Recording) -> str:
    """Where two recordings differ, in words ("" if they are the same program)."""
    if a.key == b.key:
        return ""
    for x, y in zip(a.nodes, b.nodes, strict=False):
        if x.op != y.op:
            return f"node t{x.id} is {x.op} in one and {y.op} in the other"
        if len(x.inputs) != len(y.inputs) or any(
                (type(p) is int) != (type(q) is int) or (type(p) is int and p != q)
                for p, q in zip(x.inputs, y.inputs, strict=False)):
            return f"node t{x.id} ({x.op}) has other inputs"
        for p, q in zip(x.inputs, y.inputs, strict=True):
            if type(p) is not int and _constant_bytes(p) != _constant_bytes(q):
                return f"node t{x.id} ({x.op}) has another constant input"
    return f"one records {len(a.nodes)} nodes, the other {len(b.nodes)}"
