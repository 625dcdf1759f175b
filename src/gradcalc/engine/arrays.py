"""The array plumbing of the Python API: indexing, reshaping, stacking, where, products of
vectors and matrices, and the gathers that numpy's shape functions record (numpy's own function
applied to the positions of the input's components gives the index map, so the gradient goes
back exactly to the components numpy took). The tape plugs these in (Tensor.__getitem__, @,
jacobian's assembly, the sum a broadcast VJP needs); numpy's functions on tensors are mapped to
them and to the op table's records in numpy_table.py.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .. import ops, ops_array, ops_matrix
from ..engine.api import Tensor, apply, plug
from ..engine.api import raw as _raw
from ..ops import Primitive

A = ops_array
M = ops_matrix


# ---------------------------------------------------------------- building blocks


def positions(shape: tuple[int, ...]) -> Any:
    """The flat positions of an array's components, in its shape."""
    return np.arange(int(np.prod(shape, dtype=np.int64)), dtype=np.intp).reshape(shape)


def gather(prim: Primitive, x: Any, arrange: Callable[[Any], Any], zeros: bool = False) -> Any:
    """x's components arranged as arrange() arranges an array (numpy's own function), recorded
    as the gather prim; with zeros, the components arrange() fills with 0 are 0."""
    pos = positions(np.shape(_raw(x)))
    index = np.asarray(arrange(pos + 1 if zeros else pos), dtype=np.intp)
    return apply(prim, x, index - 1 if zeros else index)


def join(arrange: Callable[[list[Any]], Any], arrays: Sequence[Any]) -> Any:
    """Arrays joined as arrange() joins arrays (np.concatenate, np.vstack, ...), recorded as one
    concatenate node."""
    arrays = list(arrays)
    if not arrays:
        raise ValueError("need at least one array to join")
    parts, offset = [], 0
    for a in arrays:
        shape = np.shape(_raw(a))
        parts.append(positions(shape) + offset)
        offset += int(np.prod(shape, dtype=np.int64))
    return apply(A.CONCAT, np.asarray(arrange(parts), dtype=np.intp), *arrays)


def value_of(x: Any) -> Any:
    """A tensor's value (or x) as a numpy array."""
    return np.asarray(_raw(x))


def getitem(x: Any, key: Any) -> Any:
    """x[key] with numpy's indexing rules, recorded: ints, slices, ..., None, integer arrays
    and boolean masks."""
    if not isinstance(x, Tensor):
        return np.asarray(x)[key]
    if not x.shape:
        raise TypeError("a scalar tensor cannot be indexed")
    key = _static_key(key)
    x.value[key]  # numpy's own IndexError for a bad index, before anything is recorded
    return apply(A.GETITEM, x, key)


def _static_key(key: Any) -> Any:
    """An index with tensors replaced by their values (indices are constants, as in TF)."""
    if isinstance(key, tuple):
        return tuple(_static_key(k) for k in key)
    if isinstance(key, Tensor):
        key = key.value
    if isinstance(key, list):
        key = np.asarray(key)
    if isinstance(key, (float, np.floating)) and float(key).is_integer():
        return int(key)  # a whole number held by a (float64) tensor
    if isinstance(key, np.ndarray) and key.dtype.kind == "f":
        # never read 0.0/1.0 as positions: a comparison of tensors gives such a float mask
        raise IndexError("tensors are indexed by integers, slices or boolean masks, not by "
                         "floats; a comparison of tensors gives a float mask of 0 and 1: "
                         "write x[(x > 0) != 0], or use np.where")
    return key


def reshape(x: Any, shape: Any) -> Any:
    """x with a new shape (numpy's rules, -1 allowed), recorded."""
    new = np.reshape(_raw(x), shape).shape
    if not isinstance(x, Tensor):
        return np.reshape(x, new)
    return apply(A.RESHAPE, x, new)


def stack(values: Sequence[Any], axis: int = 0) -> Tensor:
    """The tensors (or numbers) of one shape stacked along a new axis, recorded."""
    values = list(values)
    if not values:
        raise ValueError("stack needs at least one tensor")
    shapes = {np.shape(_raw(v)) for v in values}
    if len(shapes) != 1:
        raise ValueError(f"stack needs tensors of one shape, got shapes {sorted(shapes)}")
    ndim = len(shapes.pop()) + 1
    if not -ndim <= axis < ndim:
        raise ValueError(f"axis {axis} is out of bounds for a stack of {ndim} dimensions")
    return join(lambda parts: np.stack(parts, axis=axis), values)


def sum_to(c: Tensor, shape: tuple[int, ...]) -> Tensor:
    """A recorded cotangent summed over the axes broadcasting added to an input of this shape."""
    return apply(A.SUM_TO, c, shape)


def where(condition: Any, x: Any, y: Any) -> Tensor:
    """x where condition holds, else y (numpy broadcasting); the condition is a constant."""
    mask = np.asarray(_raw(condition)) != 0
    return apply(A.WHERE, mask.astype(np.float64), x, y)


# ---------------------------------------------------------------- products


def matmul(a: Any, b: Any, name: str = "@") -> Any:
    """a @ b: vectors and matrices as one matmul node (vector @ vector is the dot product),
    stacks of matrices (numpy's broadcasting) as one einsum node."""
    av, bv = value_of(a), value_of(b)
    if av.ndim == 0 or bv.ndim == 0:
        raise TypeError(f"{name} needs vectors or matrices, not a scalar: multiply by a scalar "
                        "with *")
    ka = av.shape[-1]
    kb = bv.shape[0] if bv.ndim == 1 else bv.shape[-2]
    if ka != kb:
        raise ValueError(f"{name}: shapes {av.shape} and {bv.shape} do not fit: "
                         f"{ka} columns against {kb} rows")
    if av.ndim <= 2 and bv.ndim <= 2:
        return apply(M.MATMUL, a, b)
    left = "...ij" if av.ndim > 1 else "j"
    right = "...jk" if bv.ndim > 1 else "j"
    out = "..." + ("i" if av.ndim > 1 else "") + ("k" if bv.ndim > 1 else "")
    np.broadcast_shapes(av.shape[:-2], bv.shape[:-2])  # numpy's error for stacks that differ
    return apply(A.EINSUM, f"{left},{right}->{out}", a, b)


def check_vectors(name: str, u: Any, v: Any) -> None:
    """Refuse anything but two vectors of one length (broadcasting would give a wrong sum)."""
    su, sv = np.shape(_raw(u)), np.shape(_raw(v))
    if len(su) != 1 or len(sv) != 1:
        raise TypeError(f"{name} takes two vectors, not shapes {su} and {sv}: use * with a "
                        "scalar and matmul (@) with a matrix")
    if su != sv:
        raise ValueError(f"{name} takes two vectors of one length, not {su[0]} and {sv[0]}")


def dot(a: Any, b: Any) -> Any:
    """np.dot: a product with a scalar, the dot product of vectors, a matrix product, or for
    n-d arrays the sum over a's last axis and b's second-to-last."""
    av, bv = value_of(a), value_of(b)
    if av.ndim == 0 or bv.ndim == 0:
        return apply(ops.MUL, a, b)
    if av.ndim <= 2 and bv.ndim <= 2:
        return matmul(a, b, "np.dot")
    la = LETTERS[: av.ndim - 1]
    lb = LETTERS[av.ndim - 1: av.ndim - 1 + bv.ndim - 1]
    left = la + "z"
    right = (lb[:-1] + "z" + lb[-1:]) if bv.ndim > 1 else "z"
    return apply(A.EINSUM, f"{left},{right}->{la + lb}", a, b)


LETTERS = "abcdefghijklmnopqrstuvwxy"


# ---------------------------------------------------------------- reductions


def as_vector(x: Any) -> Any:
    """x itself if it is a vector, else its components as one (recorded reshape)."""
    return x if np.ndim(_raw(x)) == 1 else reshape(x, (-1,))



for _name, _fn in (("getitem", getitem), ("matmul", matmul), ("reshape", reshape),
                   ("stack", stack), ("sum_to", sum_to)):
    plug(_name, _fn)
