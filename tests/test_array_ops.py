"""numpy on tensors, generated from the table of handlers (engine/numpy_table.py HANDLERS): every
recorded numpy function is called on Variables of several shapes (0-size and 1-size axes,
negative axes, broadcasting) and its value and gradient are compared with numpy's own function
on plain arrays and central differences of it (never gradcalc). The gradient taken on a
recording tape (the VJPs run on tensors) must give the same numbers, and each array record's
SymPy counterpart must give numpy's numbers on rational inputs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from gradcalc import Tape, Variable, ops_array
from gradcalc.engine import numpy_table

RNG = np.random.default_rng(24)


def _psd(n: int, *lead: int) -> np.ndarray:
    m = RNG.normal(size=(*lead, n, n))
    return m @ np.swapaxes(m, -1, -2) + n * np.eye(n)


def _spaced(*shape: int) -> np.ndarray:
    """Random values with no two equal (no ties for max, sort, norms)."""
    n = int(np.prod(shape))
    return (RNG.permutation(n) + RNG.uniform(0.1, 0.9, size=n)).reshape(shape) - n / 2


# A case: (inputs to differentiate, the call on them). Every input is a float array; the call
# is numpy's own function, run once on Variables and once on plain arrays.
Case = tuple[list[np.ndarray], Callable[..., Any]]


def _cases() -> dict[Any, list[Case]]:
    n = RNG.normal
    return {
        np.sum: [([n(size=(2, 3))], lambda x: np.sum(x, axis=1)),
                 ([n(size=(2, 3, 4))], lambda x: np.sum(x, axis=(0, -1), keepdims=True)),
                 ([n(size=(0, 3))], lambda x: np.sum(x, axis=0)),
                 ([n(size=(1, 4))], lambda x: np.sum(x, -2)), ([n(size=3)], np.sum)],
        np.mean: [([n(size=(2, 3))], lambda x: np.mean(x, axis=-1)),
                  ([n(size=(3, 1, 2))], lambda x: np.mean(x, axis=(0, 1), keepdims=True))],
        np.prod: [([n(size=(2, 3))], lambda x: np.prod(x, axis=1)),
                  ([n(size=(2, 3, 2))], lambda x: np.prod(x, axis=(0, 2), keepdims=True)),
                  ([np.array([[0.0, 2.0], [3.0, 0.0], [1.5, -2.0]])],
                   lambda x: np.prod(x, axis=-1)), ([n(size=(3, 0))], lambda x: np.prod(x, 1))],
        np.max: [([_spaced(2, 3)], lambda x: np.max(x, axis=0)),
                 ([_spaced(2, 3, 2)], lambda x: np.max(x, axis=(-1, 0), keepdims=True))],
        np.amax: [([_spaced(3, 2)], lambda x: np.amax(x, 1))],
        np.min: [([_spaced(2, 3)], lambda x: np.min(x, axis=-1))],
        np.amin: [([_spaced(4)], np.amin)],
        np.var: [([n(size=(3, 4))], lambda x: np.var(x, axis=1)),
                 ([n(size=(2, 3))], lambda x: np.var(x, ddof=1)),
                 ([n(size=(2, 3, 2))], lambda x: np.var(x, axis=(0, 2), keepdims=True))],
        np.std: [([n(size=(3, 4))], lambda x: np.std(x, axis=0, ddof=1)),
                 ([n(size=5)], np.std)],
        np.average: [([n(size=(2, 3))], lambda x: np.average(x, axis=1)),
                     ([n(size=(2, 3)), RNG.uniform(0.5, 2, size=3)],
                      lambda x, w: np.average(x, axis=1, weights=w))],
        np.cumsum: [([n(size=(2, 3))], lambda x: np.cumsum(x, axis=-1)),
                    ([n(size=(2, 2))], np.cumsum), ([n(size=(0, 2))], lambda x: np.cumsum(x, 0))],
        np.diff: [([n(size=5)], np.diff), ([n(size=(3, 4))], lambda x: np.diff(x, n=2, axis=0)),
                  ([n(size=4)], lambda x: np.diff(x, prepend=1.5, append=[2.0, 3.0]))],
        np.trace: [([n(size=(3, 3))], np.trace),
                   ([n(size=(2, 3, 4))], lambda x: np.trace(x, 1, axis1=1, axis2=2))],
        np.reshape: [([n(size=(2, 3))], lambda x: np.reshape(x, (3, -1))),
                     ([n(size=(0, 3))], lambda x: np.reshape(x, (3, 0)))],
        np.ravel: [([n(size=(2, 3))], np.ravel)],
        np.squeeze: [([n(size=(1, 3, 1))], np.squeeze),
                     ([n(size=(1, 3, 1))], lambda x: np.squeeze(x, axis=-1))],
        np.expand_dims: [([n(size=(2, 3))], lambda x: np.expand_dims(x, -1))],
        np.atleast_1d: [([n(size=())], np.atleast_1d)],
        np.atleast_2d: [([n(size=3)], np.atleast_2d)],
        np.atleast_3d: [([n(size=(2, 3))], np.atleast_3d)],
        np.transpose: [([n(size=(2, 3))], np.transpose),
                       ([n(size=(2, 3, 4))], lambda x: np.transpose(x, (1, -1, 0)))],
        np.swapaxes: [([n(size=(2, 3, 4))], lambda x: np.swapaxes(x, 0, -1))],
        np.moveaxis: [([n(size=(2, 3, 4))], lambda x: np.moveaxis(x, 0, -1))],
        np.broadcast_to: [([n(size=(3, 1))], lambda x: np.broadcast_to(x, (2, 3, 4)))],
        np.flip: [([n(size=(2, 3))], np.flip), ([n(size=(2, 3))], lambda x: np.flip(x, -1))],
        np.flipud: [([n(size=(2, 3))], np.flipud)],
        np.fliplr: [([n(size=(2, 3))], np.fliplr)],
        np.rot90: [([n(size=(2, 3))], lambda x: np.rot90(x, 3))],
        np.roll: [([n(size=(2, 3))], lambda x: np.roll(x, 2)),
                  ([n(size=(2, 3))], lambda x: np.roll(x, -1, axis=1))],
        np.tile: [([n(size=(2, 3))], lambda x: np.tile(x, (2, 1, 2)))],
        np.repeat: [([n(size=(2, 3))], lambda x: np.repeat(x, 2)),
                    ([n(size=(2, 3))], lambda x: np.repeat(x, [1, 0, 2], axis=1))],
        np.pad: [([n(size=(2, 3))], lambda x: np.pad(x, 1)),
                 ([n(size=(2, 3))], lambda x: np.pad(x, ((1, 0), (0, 2)), constant_values=2.5)),
                 ([n(size=4)], lambda x: np.pad(x, 3, mode="reflect")),
                 ([n(size=(2, 3))], lambda x: np.pad(x, 2, mode="wrap")),
                 ([n(size=(2, 3))], lambda x: np.pad(x, 1, mode="edge")),
                 ([n(size=3)], lambda x: np.pad(x, (2, 1), mode="symmetric"))],
        np.take: [([n(size=(2, 3))], lambda x: np.take(x, [0, 0, 5])),
                  ([n(size=(2, 3))], lambda x: np.take(x, [2, 0], axis=-1))],
        np.take_along_axis: [([n(size=(2, 3))], lambda x: np.take_along_axis(
            x, np.array([[2, 2], [0, 1]]), axis=1))],
        np.diagonal: [([n(size=(3, 4))], lambda x: np.diagonal(x, 1)),
                      ([n(size=(2, 3, 3))], lambda x: np.diagonal(x, 0, 1, 2))],
        np.diag: [([n(size=3)], np.diag), ([n(size=3)], lambda x: np.diag(x, -1)),
                  ([n(size=(3, 4))], lambda x: np.diag(x, 1))],
        np.tril: [([n(size=(3, 4))], np.tril), ([n(size=(2, 3, 3))], lambda x: np.tril(x, -1))],
        np.triu: [([n(size=(3, 4))], lambda x: np.triu(x, 1))],
        np.concatenate: [([n(size=(2, 3)), n(size=(1, 3))], lambda a, b: np.concatenate([a, b])),
                         ([n(size=(2, 3)), n(size=(2, 1))],
                          lambda a, b: np.concatenate((a, b), axis=-1)),
                         ([n(size=(2, 3)), n(size=4)],
                          lambda a, b: np.concatenate([a, b], axis=None))],
        np.stack: [([n(size=3), n(size=3)], lambda a, b: np.stack([a, b], axis=1))],
        np.vstack: [([n(size=3), n(size=(2, 3))], lambda a, b: np.vstack([a, b]))],
        np.hstack: [([n(size=(2, 1)), n(size=(2, 3))], lambda a, b: np.hstack([a, b])),
                    ([n(size=()), n(size=2)], lambda a, b: np.hstack([a, b]))],
        np.dstack: [([n(size=(2, 3)), n(size=(2, 3))], lambda a, b: np.dstack([a, b]))],
        np.column_stack: [([n(size=3), n(size=(3, 2))], lambda a, b: np.column_stack([a, b]))],
        np.append: [([n(size=(2, 3)), n(size=(1, 3))], lambda a, b: np.append(a, b, axis=0)),
                    ([n(size=2), n(size=(2, 2))], np.append)],
        np.sort: [([_spaced(2, 4)], np.sort), ([_spaced(3, 2)], lambda x: np.sort(x, axis=0)),
                  ([_spaced(2, 3)], lambda x: np.sort(x, axis=None))],
        np.clip: [([_spaced(2, 3)], lambda x: np.clip(x, -0.55, 0.45)),
                  ([_spaced(2, 3), np.array([-1.05, 0.05, 0.15])],
                   lambda x, lo: np.clip(x, lo, None))],
        np.where: [([n(size=(2, 3)), n(size=3)], lambda a, b: np.where(
            np.array([[True, False, True], [False, False, True]]), a, b))],
        np.real: [([n(size=3)], np.real)],
        np.imag: [([n(size=3)], np.imag)],
        np.dot: [([n(size=(2, 3)), n(size=3)], np.dot), ([n(size=(2, 3, 4)), n(size=(5, 4, 2))],
                                                         np.dot),
                 ([n(size=()), n(size=3)], np.dot)],
        np.matmul: [([n(size=(2, 3, 4)), n(size=(4, 2))], np.matmul),
                    ([n(size=(3,)), n(size=(2, 3, 4))], np.matmul),
                    ([n(size=(2, 1, 2, 3)), n(size=(4, 3, 2))], np.matmul)],
        np.outer: [([n(size=3), n(size=(2, 1))], np.outer)],
        np.inner: [([n(size=(2, 3)), n(size=(4, 3))], np.inner)],
        np.vdot: [([n(size=(2, 3)), n(size=6)], np.vdot)],
        np.tensordot: [([n(size=(2, 3, 4)), n(size=(3, 4, 5))], np.tensordot),
                       ([n(size=(2, 3)), n(size=(3, 2))],
                        lambda a, b: np.tensordot(a, b, axes=([0, 1], [1, 0]))),
                       ([n(size=(2, 3)), n(size=4)], lambda a, b: np.tensordot(a, b, 0))],
        np.einsum: [([n(size=(2, 3)), n(size=(3, 4))], lambda a, b: np.einsum("ij,jk", a, b)),
                    ([n(size=(3, 3))], lambda a: np.einsum("ii", a)),
                    ([n(size=(3, 3))], lambda a: np.einsum("ii->i", a)),
                    ([n(size=(2, 3, 4)), n(size=(2, 4, 1))],
                     lambda a, b: np.einsum("...ij,...jk->...ik", a, b)),
                    ([n(size=2), n(size=3), n(size=(2, 3))],
                     lambda a, b, c: np.einsum("i,j,ij->", a, b, c)),
                    ([n(size=(2, 3))], lambda a: np.einsum("ij->", a)),
                    ([n(size=(2, 2, 3))], lambda a: np.einsum("iij->j", a))],
        np.kron: [([n(size=(2, 2)), n(size=(3, 1))], np.kron), ([n(size=2), n(size=3)], np.kron)],
        np.cross: [([n(size=3), n(size=3)], np.cross),
                   ([n(size=(2, 3)), n(size=(1, 3))], np.cross),
                   ([n(size=(3, 2)), n(size=(3, 2))], lambda a, b: np.cross(a, b, axis=0))],
        np.linalg.inv: [([_psd(3) + n(size=(3, 3))], np.linalg.inv),
                        ([_psd(3, 2) + n(size=(2, 3, 3))], np.linalg.inv)],
        np.linalg.det: [([n(size=(3, 3))], np.linalg.det), ([n(size=(2, 3, 3))], np.linalg.det)],
        np.linalg.slogdet: [([n(size=(3, 3)) - 4 * np.eye(3)], lambda a: np.linalg.slogdet(a)[1]),
                            ([_psd(3, 2)], lambda a: np.linalg.slogdet(a).logabsdet)],
        np.linalg.solve: [([_psd(3) + n(size=(3, 3)), n(size=3)], np.linalg.solve),
                          ([_psd(3, 2), n(size=3)], np.linalg.solve),
                          ([_psd(3, 2), n(size=(2, 3, 2))], np.linalg.solve)],
        np.linalg.cholesky: [([_psd(3) + np.triu(n(size=(3, 3)), 1)], np.linalg.cholesky),
                             ([_psd(3, 2)], lambda a: np.linalg.cholesky(a, upper=True))],
        np.linalg.eigh: [([_psd(3) + np.triu(n(size=(3, 3)), 1)],
                          lambda a: np.linalg.eigh(a)[0]),
                         ([_psd(3) + np.tril(n(size=(3, 3)), -1)],
                          lambda a: np.linalg.eigh(a, "U")[1] ** 2),
                         ([_psd(3, 2)], lambda a: np.linalg.eigh(a).eigenvectors ** 2)],
        np.linalg.eigvalsh: [([_psd(4)], np.linalg.eigvalsh)],
        np.linalg.svd: [([n(size=(3, 2))], lambda a: np.linalg.svd(a, compute_uv=False)),
                        ([n(size=(2, 3))], lambda a: np.linalg.svd(a, full_matrices=False)[0]
                         * np.linalg.svd(a, full_matrices=False)[2][:, :1]),
                        ([n(size=(2, 3, 3))], lambda a: np.linalg.svd(a)[1]),
                        ([n(size=(4, 2))], lambda a: np.abs(np.linalg.svd(
                            a, full_matrices=False).Vh))],
        np.linalg.svdvals: [([n(size=(3, 4))], np.linalg.svdvals)],
        np.linalg.pinv: [([n(size=(4, 2))], np.linalg.pinv), ([n(size=(2, 2, 3))], np.linalg.pinv)],
        np.linalg.norm: [([n(size=4)], np.linalg.norm),
                         ([n(size=(2, 3))], np.linalg.norm),
                         ([_spaced(4)], lambda x: np.linalg.norm(x, np.inf)),
                         ([_spaced(4)], lambda x: np.linalg.norm(x, -np.inf)),
                         ([n(size=5)], lambda x: np.linalg.norm(x, 1)),
                         ([n(size=5)], lambda x: np.linalg.norm(x, 3)),
                         ([n(size=(3, 4))], lambda x: np.linalg.norm(x, axis=0)),
                         ([n(size=(3, 4, 2))], lambda x: np.linalg.norm(x, axis=(0, 1))),
                         ([_spaced(3, 4)], lambda x: np.linalg.norm(x, 1)),
                         ([_spaced(3, 4)], lambda x: np.linalg.norm(x, -np.inf)),
                         ([n(size=(3, 4))], lambda x: np.linalg.norm(x, "nuc")),
                         ([n(size=(3, 4))], lambda x: np.linalg.norm(x, 2)),
                         ([n(size=(2, 3, 4))], lambda x: np.linalg.norm(x, -2, axis=(2, 1),
                                                                        keepdims=True)),
                         ([n(size=(3, 2))], lambda x: np.linalg.norm(x, "fro", keepdims=True))],
        np.linalg.matrix_norm: [([n(size=(2, 3, 3))], np.linalg.matrix_norm),
                                ([_spaced(3, 3)], lambda x: np.linalg.matrix_norm(x, ord=np.inf))],
        np.linalg.vector_norm: [([n(size=(2, 3))], np.linalg.vector_norm),
                                ([n(size=(2, 3))], lambda x: np.linalg.vector_norm(
                                    x, axis=-1, ord=1.5))],
        np.linalg.trace: [([n(size=(2, 3, 3))], np.linalg.trace)],
        np.linalg.diagonal: [([n(size=(2, 3, 3))], lambda x: np.linalg.diagonal(x, offset=-1))],
        np.linalg.matmul: [([n(size=(2, 3)), n(size=3)], np.linalg.matmul)],
        np.linalg.outer: [([n(size=3), n(size=2)], np.linalg.outer)],
    }


CASES = _cases()
FLAT = [(f, i, c) for f, cs in CASES.items() for i, c in enumerate(cs)]
IDS = [f"{'np.linalg.' if 'linalg' in f.__module__ else 'np.'}{f.__name__}-{i}"
       for f, i, _ in FLAT]


def test_every_recorded_numpy_function_has_cases() -> None:
    assert set(CASES) == set(numpy_table.HANDLERS)


def _weighted(call: Callable[..., Any], xs: list[np.ndarray], w: np.ndarray) -> float:
    return float(np.sum(np.asarray(call(*xs)) * w))


def _central(call: Callable[..., Any], xs: list[np.ndarray], w: np.ndarray, i: int) -> Any:
    x = xs[i]
    out = np.zeros_like(x)
    for k in np.ndindex(*x.shape):
        h = 1e-6 * max(1.0, abs(x[k]))
        up = [a.copy() for a in xs]
        down = [a.copy() for a in xs]
        up[i][k] += h
        down[i][k] -= h
        out[k] = (_weighted(call, up, w) - _weighted(call, down, w)) / (2 * h)
    return out


@pytest.mark.parametrize("case", FLAT, ids=IDS)
def test_value_and_gradient_match_numpy_and_central_differences(case) -> None:
    _, _, (inputs, call) = case
    want = np.asarray(call(*inputs))
    w = RNG.normal(size=want.shape)
    vs = [Variable(x) for x in inputs]
    with Tape(persistent=True) as tape:
        out = call(*vs)
        y = np.sum(out * w)
    np.testing.assert_allclose(out.numpy(), want, rtol=1e-12, atol=1e-12)
    grads = tape.gradient(y, vs, unconnected_gradients="zero")
    for i, (x, g) in enumerate(zip(inputs, grads, strict=True)):
        ref = _central(call, inputs, w, i)
        scale = max(1.0, float(np.max(np.abs(ref))) if ref.size else 1.0)
        np.testing.assert_allclose(g.numpy(), ref, rtol=1e-5, atol=1e-6 * scale,
                                   err_msg=f"argument {i}")
        assert g.shape == x.shape


@pytest.mark.parametrize("case", FLAT, ids=IDS)
def test_the_recorded_gradient_gives_the_same_numbers(case) -> None:
    # the VJPs run on recorded tensors (under an outer tape, as for a Hessian): same numbers
    _, _, (inputs, call) = case
    want = np.asarray(call(*inputs))
    w = RNG.normal(size=want.shape)
    vs = [Variable(x) for x in inputs]
    with Tape(persistent=True) as plain_tape:
        y = np.sum(call(*vs) * w)
    plain = plain_tape.gradient(y, vs, unconnected_gradients="zero")
    with Tape() as outer:
        with Tape() as inner:
            y = np.sum(call(*vs) * w)
        recorded = inner.gradient(y, vs, unconnected_gradients="zero")
    for p, r in zip(plain, recorded, strict=True):
        np.testing.assert_allclose(r.numpy(), p.numpy(), rtol=1e-12, atol=1e-14)
    assert outer.nodes  # the backward pass was recorded


# second derivatives through the records: a Hessian by nested tapes against central differences
# of the gradient's closed form (numpy only)
SECOND = [
    ("var", lambda x: np.var(x, axis=0) @ np.array([1.0, 2.0]), (3, 2),
     lambda x: np.var(x, axis=0) @ np.array([1.0, 2.0])),
    ("einsum", lambda x: np.einsum("ij,jk,ki->", x, x, x), (2, 2),
     lambda x: np.trace(x @ x @ x)),
    ("norm3", lambda x: np.linalg.norm(x, 3), (4,), lambda x: np.sum(np.abs(x) ** 3) ** (1 / 3)),
    ("cumsum", lambda x: np.sum(np.cumsum(x) ** 2), (4,), lambda x: np.sum(np.cumsum(x) ** 2)),
    ("prod_axis", lambda x: np.sum(np.prod(x, axis=1) ** 2), (2, 3),
     lambda x: np.sum(np.prod(x, axis=1) ** 2)),
    ("pad_roll", lambda x: np.sum(np.roll(np.pad(x, 1), 1) ** 3), (3,),
     lambda x: np.sum(x ** 3)),
]


def _hessian_fd(f: Callable[..., float], x0: np.ndarray) -> np.ndarray:
    n = x0.size
    h = 1e-4
    out = np.zeros((n, n))
    flat = x0.ravel()
    def at(i: int, j: int, di: float, dj: float) -> float:
        x = flat.copy()
        x[i] += di
        x[j] += dj
        return float(f(x.reshape(x0.shape)))

    for i in range(n):
        for j in range(n):
            out[i, j] = (at(i, j, h, h) - at(i, j, h, -h) - at(i, j, -h, h)
                         + at(i, j, -h, -h)) / (4 * h * h)
    return out


@pytest.mark.parametrize("name, call, shape, reference", SECOND, ids=[s[0] for s in SECOND])
def test_hessians_through_array_records(name, call, shape, reference) -> None:
    x0 = RNG.uniform(0.5, 1.5, size=shape)
    x = Variable(x0)
    with Tape() as outer:
        with Tape() as inner:
            y = call(x)
        g = inner.gradient(y, x)
    hess = outer.jacobian(g, x).numpy().reshape(x0.size, x0.size)
    np.testing.assert_allclose(hess, _hessian_fd(reference, x0), rtol=1e-4, atol=1e-5)


# ---------------------------------------------------------------- the records themselves

ARRAY_REFERENCE: dict[str, tuple[list[Any], Callable[..., Any]]] = {
    # per record: arguments, and numpy's own definition of what the record computes
    "gather": ([np.array([1.5, -2.0, 3.25]), np.array([[2, -1], [0, 0]])],
               lambda x, i: np.where(i >= 0, x[np.maximum(i, 0)], 0.0)),
    "scatter": ([np.array([1.0, 2.0, 3.0]), np.array([1, 1, -1]), (2,)],
                lambda g, i, s: np.array([0.0, 3.0])),
    "axes": ([np.arange(6.0).reshape(2, 3), np.array([[0, 3], [1, 4], [2, 5]])],
             lambda x, i: x.T),
    "flip": ([np.arange(3.0), np.array([2, 1, 0])], lambda x, i: x[::-1]),
    "roll": ([np.arange(3.0), np.array([2, 0, 1])], lambda x, i: np.roll(x, 1)),
    "tile": ([np.arange(2.0), np.array([0, 1, 0, 1])], lambda x, i: np.tile(x, 2)),
    "pad": ([np.arange(2.0) + 1, np.array([-1, 0, 1, -1])], lambda x, i: np.pad(x, 1)),
    "diagonal": ([np.arange(4.0).reshape(2, 2), np.array([0, 3])], lambda x, i: np.diag(x)),
    "triangle": ([np.arange(4.0).reshape(2, 2), np.array([[0, -1], [2, 3]])],
                 lambda x, i: np.tril(x)),
    "take": ([np.arange(3.0), np.array([2, 2])], lambda x, i: x[[2, 2]]),
    "concatenate": ([np.array([0, 2, 1]), np.array([1.5]), np.array([2.5, -1.0])],
                    lambda i, a, b: np.array([1.5, -1.0, 2.5])),
    "reshape": ([np.arange(6.0), (2, 3)], np.reshape),
    "broadcast_to": ([np.arange(2.0), (3, 2)], np.broadcast_to),
    "sum_to": ([np.arange(6.0).reshape(3, 2), (2,)], lambda c, s: c.sum(axis=0)),
    "sum_axes": ([np.arange(6.0).reshape(3, 2), (0,), True],
                 lambda x, a, k: np.sum(x, axis=a, keepdims=k)),
    "where": ([np.array([1.0, 0.0]), np.array([1.0, 2.0]), np.array([3.0, 4.0])],
              lambda c, a, b: np.where(c != 0, a, b)),
    "max_axes": ([np.array([[1.0, 5.0], [3.0, 2.0]]), (1,), False],
                 lambda x, a, k: np.max(x, axis=a, keepdims=k)),
    "min_axes": ([np.array([[1.0, 5.0], [3.0, 2.0]]), (0,), True],
                 lambda x, a, k: np.min(x, axis=a, keepdims=k)),
    "var": ([np.array([[1.0, 5.0, 2.0], [3.0, 2.0, 7.0]]), (1,), 1.0, False],
            lambda x, a, d, k: np.var(x, axis=a, ddof=d, keepdims=k)),
    "cumsum": ([np.array([[1.0, 5.0], [3.0, 2.0]]), 0], lambda x, a: np.cumsum(x, axis=a)),
    "revcumsum": ([np.array([1.0, 5.0, 3.0]), 0], lambda x, a: np.array([9.0, 8.0, 3.0])),
    "group_mean": ([np.array([1.0, 5.0, 3.0]), np.array([0, 1, 0])],
                   lambda g, lab: np.array([2.0, 5.0, 2.0])),
    "sort": ([np.array([3.0, 1.0, 2.0]), np.array([1, 2, 0]), None], lambda x, i, lab: np.sort(x)),
    "einsum": (["ij,jk->ik", np.arange(6.0).reshape(2, 3), np.arange(3.0).reshape(3, 1)],
               lambda s, a, b: a @ b),
    "vector_norm": ([np.array([[3.0, -4.0], [1.0, 2.0]]), 3.0, (1,), False],
                    lambda x, p, a, k: np.sum(np.abs(x) ** 3, axis=1) ** (1 / 3)),
    "getitem": ([np.arange(6.0).reshape(2, 3), (slice(None), 1)], lambda x, k: x[:, 1]),
    "put": ([np.array([1.0, 2.0]), (slice(None), 1), (2, 2)],
            lambda g, k, s: np.array([[0.0, 1.0], [0.0, 2.0]])),
    "stack": ([1, np.array([1.0, 2.0]), np.array([3.0, 4.0])],
              lambda axis, a, b: np.stack([a, b], axis=1)),
}


def test_every_array_record_has_a_reference() -> None:
    assert {p.name for p in ops_array.ARRAY_PRIMITIVES} == set(ARRAY_REFERENCE)


@pytest.mark.parametrize("prim", ops_array.ARRAY_PRIMITIVES, ids=lambda p: p.name)
def test_array_record_forward_and_sympy_counterpart(prim) -> None:
    import sympy

    args, reference = ARRAY_REFERENCE[prim.name]
    want = reference(*args)
    np.testing.assert_allclose(prim.forward(*args), want, rtol=1e-14)
    sym = [ops_array.from_object(np.vectorize(lambda v: sympy.Rational(str(v)),
                                              otypes=[object])(a))
           if isinstance(a, np.ndarray) and a.dtype.kind == "f" else a for a in args]
    got = np.array(ops_array.to_object(prim.sympy(sympy, *sym)).tolist(), dtype=float)
    np.testing.assert_allclose(got, want, rtol=1e-14)


# ---------------------------------------------------------------- conventions and refusals


def test_sort_and_max_split_a_tie_the_same_way() -> None:
    x = Variable(np.array([1.0, 3.0, 3.0, 2.0]))
    with Tape(persistent=True) as tape:
        top = np.sort(x)[-1]
        mx = np.max(x)
    np.testing.assert_array_equal(tape.gradient(top, x).numpy(), [0, 0.5, 0.5, 0])
    np.testing.assert_array_equal(tape.gradient(mx, x).numpy(), [0, 0.5, 0.5, 0])
    with Tape() as tape:  # a symmetric function of the tied group: its true gradient
        y = np.sum(np.sort(x) * np.array([0.0, 0.0, 1.0, 1.0]))
    np.testing.assert_array_equal(tape.gradient(y, x).numpy(), [0, 1, 1, 0])


def test_clip_at_its_bounds_splits_as_max_and_min_do() -> None:
    x = Variable(np.array([-1.0, 0.0, 0.5, 1.0, 2.0]))
    with Tape() as tape:
        y = np.sum(np.clip(x, 0.0, 1.0))
    np.testing.assert_array_equal(tape.gradient(y, x).numpy(), [0, 0.5, 1, 0.5, 0])


@pytest.mark.parametrize("call, words", [
    (lambda x: np.cumprod(x), r"np\.cumprod.*np\.prod"),
    (lambda x: np.linalg.eig(np.outer(x, x)), r"np\.linalg\.eigh"),
    (lambda x: np.linalg.lstsq(np.outer(x, x), x), r"pinv"),
    (lambda x: np.median(x), r"np\.sort"),
    (lambda x: np.pad(x, 1, mode="mean"), r"modes recorded"),
    (lambda x: np.einsum(x, [0], [0]), r"string"),
    (lambda x: np.sum(x, out=np.empty(())), r"out="),
])
def test_unsupported_numpy_is_a_type_error_naming_the_supported_spelling(call, words) -> None:
    x = Variable(np.array([1.0, 2.0, 3.0]))
    with Tape(), pytest.raises(TypeError, match=words):
        call(x)


def test_real_and_imag_of_a_real_tensor() -> None:
    x = Variable(np.array([1.0, -2.0]))
    with Tape(persistent=True) as tape:
        re, im, cj = np.real(x), np.imag(x), np.conj(x)
    assert re is x and cj is x
    np.testing.assert_array_equal(im.numpy(), [0.0, 0.0])
    np.testing.assert_array_equal(tape.gradient(im, x).numpy(), [0.0, 0.0])


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # numpy 2 deprecates 2-vectors
def test_cross_of_2_vectors_and_a_2_vector_with_a_3_vector() -> None:
    a0, b0, c0 = RNG.normal(size=(4, 2)), RNG.normal(size=(4, 2)), RNG.normal(size=(4, 3))
    a, b = Variable(a0), Variable(b0)
    with Tape(persistent=True) as tape:
        z = np.cross(a, b)
        m = np.cross(a, c0)
    np.testing.assert_allclose(z.numpy(), a0[:, 0] * b0[:, 1] - a0[:, 1] * b0[:, 0])
    np.testing.assert_allclose(tape.gradient(z, a).numpy(), np.stack([b0[:, 1], -b0[:, 0]], 1))
    a3 = np.concatenate([a0, np.zeros((4, 1))], axis=1)
    np.testing.assert_allclose(m.numpy(), np.cross(a3, c0))
    w = RNG.normal(size=(4, 3))
    with Tape() as tape:
        y = np.sum(np.cross(a, c0) * w)
    # d/da sum(w * (a x c)) = (c x w) restricted to the first two components
    np.testing.assert_allclose(tape.gradient(y, a).numpy(), np.cross(c0, w)[:, :2], rtol=1e-12)


# ---------------------------------------------------------------- random shapes


def _random_shape(rng: np.random.Generator, low: int = 0) -> tuple[int, ...]:
    """1 to 3 axes of 0 to 3 components (0-size and 1-size axes included)."""
    return tuple(int(n) for n in rng.integers(low, 4, size=int(rng.integers(1, 4))))


def _random_axes(rng: np.random.Generator, ndim: int) -> Any:
    """None, one axis (negative half the time) or a tuple of distinct axes."""
    kind = rng.integers(3)
    if kind == 0:
        return None
    if kind == 1:
        a = int(rng.integers(ndim))
        return a - ndim if rng.integers(2) else a
    k = int(rng.integers(1, ndim + 1))
    return tuple(int(a) - ndim * int(rng.integers(2)) for a in rng.permutation(ndim)[:k])


def _axis(rng: np.random.Generator, s: tuple[int, ...]) -> int:
    return int(rng.integers(-len(s), len(s)))


def _draw(name: str, rng: np.random.Generator, s: tuple[int, ...]) -> Callable[..., Any]:
    """numpy's function `name` with its parameters drawn for an input of shape s."""
    axes, axis, flag = _random_axes(rng, len(s)), _axis(rng, s), bool(rng.integers(2))
    other, count = _axis(rng, s), int(rng.integers(0, 3))
    perm = tuple(int(a) for a in rng.permutation(len(s)))
    reps = tuple(int(n) for n in rng.integers(1, 3, size=len(s)))
    widths = [(int(a), int(b)) for a, b in rng.integers(0, 3, size=(len(s), 2))]
    new_axis, shift = int(rng.integers(-len(s) - 1, len(s) + 1)), int(rng.integers(-3, 4))
    sub = "abc"[: len(s)]
    calls: dict[str, Callable[..., Any]] = {
        "sum": lambda x: np.sum(x, axis=axes, keepdims=flag),
        "mean": lambda x: np.mean(x, axis=axes),
        "prod": lambda x: np.prod(x, axis=axes),
        "var": lambda x: np.var(x, axis=axes),
        "max": lambda x: np.max(x, axis=axes, keepdims=flag),
        "cumsum": lambda x: np.cumsum(x, axis=axis),
        "flip": lambda x: np.flip(x, axes),
        "roll": lambda x: np.roll(x, shift, axis=axis),
        "transpose": lambda x: np.transpose(x, perm),
        "expand_dims": lambda x: np.expand_dims(x, new_axis),
        "tile": lambda x: np.tile(x, reps),
        "repeat": lambda x: np.repeat(x, count, axis=axis),
        "pad": lambda x: np.pad(x, widths, constant_values=0.5),
        "sort": lambda x: np.sort(x, axis=axis),
        "broadcast_to": lambda x: np.broadcast_to(x, (count + 1,) + tuple(s)),
        "concatenate": lambda x: np.concatenate([x, 2 * x, x], axis=axis),
        "moveaxis": lambda x: np.moveaxis(x, axis, other),
        "einsum": lambda x: np.einsum(f"{sub},{sub}->{sub[:1]}", x, x),
    }
    return calls[name]


RANDOM = ("sum", "mean", "prod", "var", "max", "cumsum", "flip", "roll", "transpose",
          "expand_dims", "tile", "repeat", "pad", "sort", "broadcast_to", "concatenate",
          "moveaxis", "einsum")


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # numpy's mean of an empty axis
@pytest.mark.parametrize("name", RANDOM)
def test_random_shapes_against_central_differences(name: str, request) -> None:
    # shapes, axes and counts drawn from a generator seeded by the name (reproducible)
    rng = np.random.default_rng(list(name.encode()))
    slow = request.config.getoption("--slow")
    for _ in range(40 if slow else 4):
        low = 1 if name in ("max", "var", "sort") else 0  # (no empty max; var needs n > 0)
        shape = _random_shape(rng, low)
        call = _draw(name, rng, shape)
        x0 = _spaced(*shape) if np.prod(shape) else np.zeros(shape)
        want = np.asarray(call(x0))
        w = rng.normal(size=want.shape)
        x = Variable(x0)
        with Tape() as tape:
            y = np.sum(call(x) * w)
        np.testing.assert_allclose(np.asarray(call(x).numpy()), want, rtol=1e-12, atol=1e-12)
        g = tape.gradient(y, x, unconnected_gradients="zero").numpy()
        ref = _central(call, [x0], w, 0)
        np.testing.assert_allclose(g, ref, rtol=1e-5, atol=1e-6 * max(1.0, float(
            np.max(np.abs(ref))) if ref.size else 1.0), err_msg=f"{name} at shape {shape}")
