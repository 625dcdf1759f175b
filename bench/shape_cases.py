"""Programs of about 10,000 tape nodes, one per shape the check must cover (issue 26 item 3):
a wide sum over a few names, a deep chain of statements, a sum over hundreds of names and user
functions called many times. Each comes with its names, a point and the same function written
in Python over a math module (`math` or `mpmath`), so a test can compute true partials without
gradcalc. bench/bench_shapes.py times their check; tests/test_check_shapes.py judges it."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

NODES = 10_000   # tape nodes per shape, about


@dataclass(frozen=True)
class Shape:
    """A program, its bound names, a point (NAME=VALUE,...) and fn(env, m): its value with the
    math module m, env mapping each name to a number of m."""

    text: str
    names: list[str]
    fn: Callable[[dict[str, Any], Any], Any]

    @property
    def at(self) -> str:
        return ",".join(f"{n}={v!r}" for n, v in self.point.items())

    @property
    def point(self) -> dict[str, float]:
        """Every name at a point away from every kink and domain edge."""
        return {n: round(0.05 + 0.9 * k / len(self.names), 3) for k, n in enumerate(self.names)}


def _names(n: int) -> list[str]:
    return [f"x{k}" for k in range(n)]


def wide_sum(nodes: int = NODES, count: int = 10) -> Shape:
    """A sum of x_a*x_b*sin(k*x_c) over `count` names (five tape nodes a term)."""
    names = _names(count)
    rng = random.Random(f"wide:{count}")
    terms = []
    for _ in range(nodes // 5):
        a, b, c = rng.sample(names, 3)
        terms.append((a, b, c, rng.randint(1, 9)))
    return Shape("+".join(f"{a}*{b}*sin({k}*{c})" for a, b, c, k in terms), names,
                 lambda env, m: sum(env[a] * env[b] * m.sin(k * env[c]) for a, b, c, k in terms))


def deep_chain(nodes: int = NODES) -> Shape:
    """One statement per step, each using the one before twice (five tape nodes a step)."""
    names = _names(5)
    steps = nodes // 5
    lines = ["t0 = x0"] + [f"t{k} = sin(t{k - 1} + x{k % 5})*x{(k + 2) % 5} + t{k - 1}/2"
                           for k in range(1, steps)]

    def fn(env: dict[str, Any], m: Any) -> Any:
        t = env["x0"]
        for k in range(1, steps):
            t = m.sin(t + env[f"x{k % 5}"]) * env[f"x{(k + 2) % 5}"] + t / 2
        return t

    return Shape("\n".join(lines), names, fn)


def many_names(nodes: int = NODES, count: int = 300) -> Shape:
    """A sum of x_i*cos(x_j)/(2+x_k) over `count` names (about five tape nodes a term)."""
    names = _names(count)
    rng = random.Random(f"many:{count}")
    terms = [tuple(rng.sample(names, 3)) for _ in range(nodes // 5)]
    return Shape("+".join(f"{i}*cos({j})/(2+{k})" for i, j, k in terms), names,
                 lambda env, m: sum(env[i] * m.cos(env[j]) / (2 + env[k]) for i, j, k in terms))


def function_calls(nodes: int = NODES) -> Shape:
    """Two user functions, one calling the other twice, called along the names (about 14 tape
    nodes a call)."""
    names = _names(20)
    pairs = [(names[k % 20], names[(k * 7 + 3) % 20]) for k in range(nodes // 14)]
    text = ("f(u, v) = u*sin(v) + v/(1 + u*u)\n"
            "g(u, v) = f(u, v)*f(v, u)\n"
            "s = " + " + ".join(f"g({a}, {b})" for a, b in pairs))

    def fn(env: dict[str, Any], m: Any) -> Any:
        def f(u: Any, v: Any) -> Any:
            return u * m.sin(v) + v / (1 + u * u)
        return sum(f(env[a], env[b]) * f(env[b], env[a]) for a, b in pairs)

    return Shape(text, names, fn)


SHAPES: dict[str, Callable[..., Shape]] = {
    "wide sum, 10 names": wide_sum,
    "deep chain of statements": deep_chain,
    "sum over 300 names": many_names,
    "user functions called many times": function_calls,
}
