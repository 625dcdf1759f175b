"""Forward over reverse: a scalar program's Hessian in one forward and one backward sweep, with
all n tangents carried as one numpy block.

Every slot's value gets a tangent block of shape (n,): its derivatives in the n differentiated
names (forward mode). The backward pass then runs the op table's rules on Duals, values with
their tangent blocks, so each adjoint comes out with its own block: the derivatives of the
adjoint, i.e. one row of the Hessian per source. Nothing is declared twice: a primitive's
tangent is its VJP applied to the tangent block (for an elementwise primitive the Jacobian is
diagonal, so the VJP is also the JVP), and a rule run on Duals is differentiated by the same
token, one ufunc at a time. Cost: one backward pass whose operations are numpy operations on
blocks of n numbers, instead of n backward passes.

What the block method cannot carry (a reduction, a matrix, a custom rule, a numpy function
that is not elementwise) raises Unsupported, and the caller falls back to reverse over reverse
(engine/higher.py). No recursion: both sweeps are loops over the slots.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import ops
from ..engine import matrices
from ..engine.sweep import compute, needs_of, quiet

_F64 = np.float64


class Unsupported(Exception):
    """The block method cannot carry this program (the caller takes reverse over reverse)."""


# numpy functions that only read a value (shapes, masks): asked of the value
_READERS = frozenset({np.any, np.all, np.shape, np.ndim, np.size})


def elementwise(prim: ops.Primitive) -> bool:
    """Whether the block method carries this primitive: an elementwise record of the op table
    (not a reduction, not a matrix primitive, not a custom rule made at run time)."""
    known: dict[int, bool] = ops.derived("tangents.elementwise", dict)
    ok = known.get(id(prim))
    if ok is None:
        ok = known[id(prim)] = (not prim.reduction and not matrices.is_matrix_primitive(prim)
                                and ops.BY_NAME.get(prim.name) is prim)
    return ok


def tangent(prim: ops.Primitive, ans: Any, values: Sequence[Any],
            dots: Sequence[Any]) -> Any:
    """The tangent block of prim's value (ans) at these argument values, from the arguments'
    tangent blocks (None: no tangent): sum over the arguments of its VJP applied to the
    argument's block (the JVP of an elementwise primitive). None if no tangent."""
    if not elementwise(prim):
        raise Unsupported(prim.name)
    out = None
    for i, d in enumerate(dots):
        if d is None:
            continue
        rule = prim.vjp(i)
        if rule is None:
            continue
        c = rule(d, ans, *values)
        if c is None:   # a symbolic zero
            continue
        out = c if out is None else out + c
    return out


def apply(prim: ops.Primitive, *args: Any) -> Any:
    """prim on values and Duals: a Dual when a tangent flows, else the plain value."""
    values = [a.value if type(a) is Dual else a for a in args]
    ans = compute(prim, values)
    dot = tangent(prim, ans, values, [a.dot if type(a) is Dual else None for a in args])
    return ans if dot is None else Dual(ans, dot)


class Dual:
    """A value and its tangent block (shape (n,) + the value's shape). The op table's rules run
    on it as on a recorded tensor: ufuncs and operators apply the primitive they are, reading
    its value for masks (uid marks it so; ops.call applies a primitive called inside a rule
    with apply(), registered below)."""

    __slots__ = ("value", "dot")
    uid = None

    def __init__(self, value: Any, dot: Any):
        self.value = value
        self.dot = dot

    # + - * of two Duals or a Dual and a float64: add's, sub's and mul's rules applied to the
    # blocks, written out (tests/test_hessian_block.py checks them against apply() bit for bit)
    def __add__(self, o: Any) -> Any:
        if type(o) is Dual:
            return Dual(self.value + o.value, self.dot + o.dot)
        return Dual(self.value + o, self.dot) if type(o) is _F64 else apply(ops.ADD, self, o)

    def __radd__(self, o: Any) -> Any:
        return Dual(o + self.value, self.dot) if type(o) is _F64 else apply(ops.ADD, o, self)

    def __sub__(self, o: Any) -> Any:
        if type(o) is Dual:
            return Dual(self.value - o.value, self.dot + -o.dot)
        return Dual(self.value - o, self.dot) if type(o) is _F64 else apply(ops.SUB, self, o)

    def __rsub__(self, o: Any) -> Any:
        return Dual(o - self.value, -self.dot) if type(o) is _F64 else apply(ops.SUB, o, self)

    def __mul__(self, o: Any) -> Any:
        if type(o) is Dual:
            return Dual(self.value * o.value, self.dot * o.value + o.dot * self.value)
        return Dual(self.value * o, self.dot * o) if type(o) is _F64 else apply(ops.MUL, self, o)

    def __rmul__(self, o: Any) -> Any:
        return Dual(o * self.value, self.dot * o) if type(o) is _F64 else apply(ops.MUL, o, self)

    def __truediv__(self, o: Any) -> Any: return apply(ops.DIV, self, o)
    def __rtruediv__(self, o: Any) -> Any: return apply(ops.DIV, o, self)
    def __mod__(self, o: Any) -> Any: return apply(ops.MOD, self, o)
    def __rmod__(self, o: Any) -> Any: return apply(ops.MOD, o, self)
    def __pow__(self, o: Any) -> Any: return apply(ops.POW, self, o)
    def __rpow__(self, o: Any) -> Any: return apply(ops.POW, o, self)
    def __neg__(self) -> Any: return Dual(-self.value, -self.dot)
    def __pos__(self) -> Any: return self
    def __abs__(self) -> Any: return apply(ops.ABS, self)

    def __eq__(self, o: Any) -> Any: return _cmp(np.equal, self, o)  # type: ignore[override]
    def __ne__(self, o: Any) -> Any: return _cmp(np.not_equal, self, o)  # type: ignore[override]
    def __lt__(self, o: Any) -> Any: return _cmp(np.less, self, o)
    def __le__(self, o: Any) -> Any: return _cmp(np.less_equal, self, o)
    def __gt__(self, o: Any) -> Any: return _cmp(np.greater, self, o)
    def __ge__(self, o: Any) -> Any: return _cmp(np.greater_equal, self, o)

    __hash__ = None  # type: ignore[assignment]

    def __bool__(self) -> bool:
        raise Unsupported("a branch on a value with a tangent")

    def __float__(self) -> float:
        raise Unsupported("a value with a tangent read as a number")

    __int__ = __index__ = __float__  # type: ignore[assignment]

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        raise Unsupported("a numpy array of values with tangents")

    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        if method == "__call__" and not kwargs:
            prim = ops.by_ufunc().get(ufunc)
            if prim is not None:
                return apply(prim, *inputs)
            if ufunc in ops.PIECEWISE_CONSTANT:   # a plain float array, as on a tensor
                return _cmp(ufunc, *inputs)
            if ufunc is np.positive:
                return inputs[0]
        raise Unsupported(f"numpy's {ufunc.__name__}")

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        if func in _READERS:
            return func(*[_value(a) for a in args], **kwargs)
        if func is np.where and len(args) == 3 and not kwargs:
            return _where(*args)
        raise Unsupported(f"numpy's {func.__name__}")


ops.use_applier(Dual, apply)


def _value(x: Any) -> Any:
    return x.value if type(x) is Dual else x


def _cmp(ufunc: Any, *args: Any) -> Any:
    return np.asarray(ufunc(*[_value(a) for a in args]), dtype=np.float64)


def _where(cond: Any, a: Any, b: Any) -> Any:
    """np.where on Duals: the value and the tangent of the branch taken (the other branch's
    tangent is not multiplied by anything: no 0 * inf)."""
    c = _value(cond)
    value = np.where(c, _value(a), _value(b))
    value = value[()] if value.ndim == 0 else value
    da, db = (x.dot if type(x) is Dual else None for x in (a, b))
    if da is None and db is None:
        return value
    n = (da if da is not None else db).shape[0]
    shape = (n, *np.shape(value))
    da = np.zeros(shape) if da is None else da
    db = np.zeros(shape) if db is None else db
    return Dual(value, np.where(c, da, db))


class _Zero:
    """An adjoint reached only by symbolic zeros (a rule returned None)."""


_ZERO = _Zero()


def block_second_order(prims: Sequence[ops.Primitive | None], args: Sequence[Sequence[Any]],
                       values: Sequence[Any], target: int, sources: Sequence[int]
                       ) -> tuple[list[Any], np.ndarray]:
    """The gradient and Hessian of slot target of a program of scalar values (Python floats or
    float64s; an argument that is no slot is a sweep.Const) with respect to the scalar slots
    sources, by forward over reverse: (gradient per source, None where the target does not
    depend on it; the n x n Hessian, row i the tangent block of source i's adjoint, zeros for
    a source the gradient does not reach). An entry that comes out non-finite may be nan where
    reverse over reverse's exact zeros give inf or a number: the caller falls back there.

    Raises Unsupported for an instruction the block method cannot carry."""
    n = len(sources)
    needs = needs_of(prims, args, sources, target)
    f64 = _F64
    # each slot's value as the rules see it: a float64, or a Dual where a tangent flows
    vd: list[Any] = [None] * (target + 1)
    for k in range(target + 1):
        v = values[k]
        if type(v) is float or type(v) is f64:
            vd[k] = f64(v)
        elif v is not None:
            if np.ndim(v):
                raise Unsupported("a value that is not a scalar")
            vd[k] = f64(v)
    eye = np.eye(n)
    for p, s in enumerate(sources):
        if s <= target:
            vd[s] = Dual(vd[s], eye[p].copy())
    operators = _operators()
    with quiet():
        for k in range(target + 1):
            prim = prims[k]
            if prim is None or not needs[k]:
                continue
            ins = [vd[r] if type(r) is int else f64(r.value) for r in args[k]]
            op = operators.get(id(prim))
            if op is not None:   # + - * of the blocks (Dual's arithmetic), not apply()
                out = op(*ins)
                if type(out) is Dual:
                    vd[k] = Dual(vd[k], out.dot)
                continue
            dot = tangent(prim, vd[k], [_value(x) for x in ins],
                          [x.dot if type(x) is Dual else None for x in ins])
            if dot is not None:
                vd[k] = Dual(vd[k], dot)
        adj: list[Any] = [None] * (target + 1)
        adj[target] = f64(1.0)
        for j in range(target, -1, -1):
            g = adj[j]
            prim = prims[j]
            if g is None or prim is None or g is _ZERO:
                if g is _ZERO and prim is not None:
                    for i, r in enumerate(args[j]):
                        if type(r) is int and needs[r] and adj[r] is None \
                                and prim.vjp(i) is not None:
                            adj[r] = _ZERO
                continue
            refs = args[j]
            ins = [vd[r] if type(r) is int else f64(r.value) for r in refs]
            ans = vd[j]
            fixed = prim.vjps if prim.arity is not None else None
            for i, r in enumerate(refs):
                if type(r) is not int or not needs[r]:
                    continue
                rule = fixed[i] if fixed is not None else prim.vjp(i)
                if rule is None:
                    continue
                c = rule(g, ans, *ins)
                if c is None:
                    if adj[r] is None:
                        adj[r] = _ZERO
                    continue
                prev = adj[r]
                adj[r] = c if prev is None or prev is _ZERO else prev + c
    gradient: list[Any] = []
    hessian = np.zeros((n, n))
    for p, s in enumerate(sources):
        a = adj[s] if s <= target else None
        if a is None:
            gradient.append(None)
        elif a is _ZERO:
            gradient.append(f64(0.0))
        elif type(a) is Dual:
            gradient.append(f64(a.value))
            hessian[p] = a.dot
        else:
            gradient.append(f64(a))
    return gradient, hessian


def _operators() -> dict[int, Any]:
    """id of add, sub, mul and neg -> the Duals' operator (whose blocks are the records' rules
    applied, tests/test_hessian_block.py)."""
    return ops.derived("tangents.operators", lambda: {
        id(ops.ADD): operator.add, id(ops.SUB): operator.sub, id(ops.MUL): operator.mul,
        id(ops.NEG): operator.neg})
