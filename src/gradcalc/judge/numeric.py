"""A third opinion on a partial derivative: numbers only, no tape and no SymPy.

The program is re-run on plain numpy values straight from the op table's forward functions.
When every op that the perturbed variable reaches is analytic (ops.Primitive.analytic), the
complex step Im f(x + ih) / h gives the derivative to rounding error; otherwise central
differences with Richardson extrapolation (Ridders' tableau) give it with an error estimate.
stop_gradient holds its argument at the value it has at the unperturbed point, as the tape does.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import ops
from ..lang.interpret import Interpretation, interpret
from ..lang.syntax import Assign, Expr, Index, Name, Num, Program

EPS = float(np.finfo(float).eps)
COMPLEX_STEP = "complex step"
RICHARDSON = "central differences + Richardson"
SAFETY = 10.0   # a numeric estimate agrees within this many times its error estimate
OVER_BUDGET = "time limit"    # no estimate: the call's deadline (--check-timeout) came first


@dataclass(frozen=True)
class Estimate:
    """A numeric derivative: its value, an estimate of its absolute error, and the method."""

    value: float
    error: float
    method: str
    trusted: bool = True   # False: the differences reached across a kink or domain edge


class _NotAnalytic(Exception):
    """A complex value reached an op whose forward is not analytic."""


class _Frozen:
    """The values of stop_gradient calls at the base point, replayed in perturbed runs; and
    the trace of one run: at each primitive with a kink or a domain, which side of it the
    arguments were on (a stencil whose trace differs from the base point's crossed one)."""

    def __init__(self) -> None:
        self.values: list[Any] = []
        self.replay = False
        self.k = 0
        self.trace: list[Any] = []

    def take(self, value: Any) -> Any:
        if not self.replay:
            self.values.append(np.real(value))
            return self.values[-1]
        out = self.values[self.k]
        self.k += 1
        return out


class _Numbers(Interpretation):
    """The program on plain numbers (float or complex) from the ops' forward functions."""

    def __init__(self, frozen: _Frozen, deadline: float = math.inf):
        self.frozen = frozen
        self.deadline = deadline
        self.count = 0

    def number(self, node: Num) -> Any:
        return node.value

    def free_name(self, node: Name, scope: Mapping[str, Any]) -> Any:
        return ops.CONSTANTS[node.id][0]

    def index(self, node: Index, value: Any) -> Any:
        return ops.INDEX.forward(value, node.index)

    def apply(self, prim: ops.Primitive, node: Expr, args: list[Any]) -> Any:
        if self.count & 1023 == 0 and time.monotonic() > self.deadline:
            raise TimeoutError   # (checked at a run's first primitive, then every 1024)
        self.count += 1
        if prim is ops.NEG:
            return -args[0]
        if prim is ops.STOP_GRADIENT:
            return self.frozen.take(args[0])
        if prim.kink is not None or prim.domain is not None:
            self.frozen.trace.append(_side(prim, args))
        if not prim.analytic and any(np.iscomplexobj(a) for a in args):
            raise _NotAnalytic(prim.name)
        return prim.forward(*args)

    def update(self, stmt: Assign, old: Any, value: Any) -> Any:
        return ops.BINARY[stmt.op[0]].forward(old, value)


def _side(prim: ops.Primitive, args: list[Any]) -> Any:
    """Which side of its kinks and domain edges a primitive's arguments are on."""
    if any(np.ndim(a) == 2 for a in args):
        # a matrix primitive: its domain is a property of the whole matrix (inv, logdet), not
        # of the signs of its entries
        inside = () if prim.domain is None else bool(np.any(prim.domain(
            *(np.real(a) for a in args))))
        return (prim.name, inside)
    real = [float(np.real(a)) if np.ndim(a) == 0 else tuple(np.real(a).ravel().tolist())
            for a in args]
    if prim.name in ("max", "min"):
        pick = max if prim.name == "max" else min
        best = pick(real)
        return (prim.name, tuple(v == best for v in real))
    if prim.name in ("asin", "acos"):
        return (prim.name, np.sign(1 - abs(real[0])))
    poles = tuple(math.floor(real[i]) for i, kind in prim.guards
                  if kind == "gamma" and isinstance(real[i], float) and real[i] < 0)
    if poles:   # gamma's family: between which of its poles at 0, -1, -2, ... x lies
        return (prim.name, poles)
    if prim is ops.MOD and all(isinstance(v, float) for v in real) and real[1] != 0:
        # mod jumps where x/y is whole: the piece is the quotient floor(x/y), and exactly at
        # a jump a piece of its own
        q = real[0] / real[1]
        return (prim.name, math.floor(q), q == math.floor(q), float(np.sign(real[1])))
    if prim is ops.POW and isinstance(real[1], float) and real[1] >= 0 \
            and real[1] == int(real[1]):
        return (prim.name, ())  # x^n for a whole n >= 0 is smooth: no side to stay on
    return (prim.name, tuple(np.sign(v).tolist() if isinstance(v, tuple) else float(np.sign(v))
                             for v in real))


def evaluate_program(program: Program, point: Mapping[str, Any], of: str | None = None,
                     frozen: _Frozen | None = None, deadline: float = math.inf) -> Any:
    """The program's output at a point (float or complex), from the ops' forward functions.
    Raises TimeoutError past the deadline (time.monotonic())."""
    frozen = frozen or _Frozen()
    env: dict[str, Any] = dict(point)
    with np.errstate(all="ignore"):
        out = interpret(program, env, _Numbers(frozen, deadline))
    return env[of] if of is not None else out


def ridders(f: Callable[[float], float], x: float, h: float, shrink: float = 1.4,
            steps: int = 12) -> tuple[float, float]:
    """f'(x) by central differences at steps h, h/shrink, ... extrapolated to step 0
    (Richardson); returns the best estimate and its error estimate, the change between the
    tableau's neighbouring entries."""
    table: list[list[float]] = []
    best, err = math.nan, math.inf
    c2 = shrink * shrink
    for i in range(steps):
        row = [(f(x + h) - f(x - h)) / (2 * h)]
        if not math.isfinite(row[0]):
            break
        factor = c2
        for j in range(1, i + 1):
            row.append((row[j - 1] * factor - table[i - 1][j - 1]) / (factor - 1))
            factor *= c2
            e = max(abs(row[j] - row[j - 1]), abs(row[j] - table[i - 1][j - 1]))
            if e <= err:
                best, err = row[j], e
        if i == 0:
            best = row[0]
        elif abs(row[i] - table[i - 1][i - 1]) >= 2 * err:
            table.append(row)
            break  # rounding error now dominates: higher orders only get worse
        table.append(row)
        h /= shrink
    return best, err


def partial(program: Program, point: Mapping[str, float], name: str,
            of: str | None = None, deadline: float = math.inf) -> Estimate:
    """A numeric estimate of d output / d name at the point. Raises TimeoutError past the
    deadline (time.monotonic())."""
    frozen = _Frozen()
    base = evaluate_program(program, point, of, frozen, deadline)
    frozen.replay = True

    def at(x: Any) -> Any:
        frozen.k = 0
        return evaluate_program(program, {**point, name: x}, of, frozen, deadline)

    x = float(point[name])
    scale = max(1.0, abs(x))
    if not np.isfinite(base):
        return Estimate(math.nan, math.inf, RICHARDSON)
    try:
        steps = [1e-20 * scale, 1e-10 * scale]
        values = [float(np.imag(at(complex(x, h)))) / h for h in steps]
        if all(math.isfinite(v) for v in values):
            d = values[0]
            return Estimate(d, max(abs(values[0] - values[1]), 8 * EPS * abs(d)), COMPLEX_STEP)
    except _NotAnalytic:
        pass

    def real(t: float) -> float:
        v = at(t)
        return float(v) if np.isrealobj(v) else math.nan

    value, error, h = central(real, x, scale)
    return Estimate(value, error, RICHARDSON, _same_side(at, x, h, frozen))


def _same_side(at: Callable[[Any], Any], x: float, h: float, frozen: _Frozen) -> bool:
    """Whether the stencil x +- h stays on the base point's side of every kink and domain
    edge (and is finite there)."""
    frozen.trace = []
    at(x)
    base = frozen.trace
    for t in (x - h, x + h):
        frozen.trace = []
        v = at(t)
        if frozen.trace != base or not np.isfinite(v):
            return False
    return True


def central(f: Callable[[float], float], x: float, scale: float = 1.0,
            starts: int = 6) -> tuple[float, float, float]:
    """f'(x) from Ridders' tableau started at h = scale/10, scale/100, ... (`starts` of them).

    A start whose steps reach past a kink or out of the domain gives a poor estimate, and one
    that is too small loses digits to rounding, so the result is the smaller-step estimate of
    the two neighbouring starts that agree best; the error is the larger of its own error
    estimate and their disagreement. Ties go to the smaller steps (the more local estimate).
    """
    steps = [scale * 10.0 ** -k for k in range(1, starts + 1)]
    estimates = [ridders(f, x, h) for h in steps]
    best: tuple[float, float, float] | None = None
    best_gap = math.inf
    for k in range(starts - 1, 0, -1):  # smallest steps first
        big, (small, small_err) = estimates[k - 1][0], estimates[k]
        if not (math.isfinite(big) and math.isfinite(small)):
            continue
        gap = abs(big - small)
        if gap < best_gap:
            best, best_gap = (small, max(small_err, gap), steps[k - 1]), gap
    if best is not None:
        return best
    finite = [(*e, h) for e, h in zip(reversed(estimates), reversed(steps), strict=True)
              if math.isfinite(e[0])]
    return finite[0] if finite else (math.nan, math.inf, steps[0])


FIVE_POINT = "five-point differences"


def component(program: Program, point: Mapping[str, Any], name: str, k: int,
              of: str | None = None, deadline: float = math.inf) -> Estimate:
    """A numeric estimate of d output / d name[k] (k indexes the binding's components row by
    row), from the fourth-order central stencil at steps h and h/2 extrapolated (Richardson);
    the error estimate is their difference. Six runs of the program, for large vector and
    matrix programs where the complex step's ops are not all analytic. Raises TimeoutError
    past the deadline (time.monotonic())."""
    frozen = _Frozen()
    base_value = np.asarray(point[name], dtype=float)
    evaluate_program(program, point, of, frozen, deadline)
    frozen.replay = True
    base_trace = list(frozen.trace)
    x = float(base_value.flat[k])
    scale = max(1.0, abs(x))
    crossed = False
    largest = 0.0

    def at(t: float) -> float:
        nonlocal crossed, largest
        moved = base_value.copy()
        moved.flat[k] = t
        frozen.k, frozen.trace = 0, []
        v = evaluate_program(program, {**point, name: moved}, of, frozen, deadline)
        crossed = crossed or frozen.trace != base_trace or not np.isfinite(v)
        largest = max(largest, abs(float(v)))
        return float(v)

    def stencil(h: float) -> float:
        return (at(x - 2 * h) - 8 * at(x - h) + 8 * at(x + h) - at(x + 2 * h)) / (12 * h)

    h = scale * 2.0 ** -9   # about eps^(1/5): truncation h^4 against rounding eps/h
    coarse, fine = stencil(h), stencil(h / 2)
    value = fine + (fine - coarse) / 15
    # truncation (the two steps' difference) plus rounding: each run of f is off by a few
    # ulps of |f|, and the stencil divides by h
    error = abs(fine - coarse) + 32 * EPS * largest / h + 8 * EPS * abs(value)
    return Estimate(value, error, FIVE_POINT, trusted=not crossed)
