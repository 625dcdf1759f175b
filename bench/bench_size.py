"""Size: gradient vs evaluation for 1k, 10k and 100k-node expressions (cheap-gradient
principle: the gradient costs a small constant multiple of one evaluation), and linear growth.

Evaluation: one forward pass of the parsed expression through gradcalc's evaluator with no tape
recording (with the cyclic GC paused, as run() pauses it). Gradient: run() - the forward pass
recorded on the tape, then the backward pass for both partials. Parsing is outside both.
"""

from __future__ import annotations

import gc

import numpy as np

from common import REPEATS, Row, paired_times, print_table

SIZES = [1_000, 10_000, 100_000]


def evaluate(expr: object, env: dict[str, object]) -> object:
    """The baseline: one forward pass with the cyclic GC paused, as run() pauses it."""
    from gradcalc.engine.evaluate import evaluate_expr

    was = gc.isenabled()
    gc.disable()
    try:
        return evaluate_expr(expr, env)  # type: ignore[arg-type]
    finally:
        if was:
            gc.enable()


def expression(nodes: int) -> str:
    """A sum of terms sin(x*c)*y + x/c: about 8 tape nodes per term."""
    terms = max(1, nodes // 8)
    return "+".join(f"sin(x*{1 + k % 7})*y + x/{2 + k % 5}" for k in range(terms))


def main() -> None:
    from gradcalc.engine.evaluate import run
    from gradcalc.lang.syntax import parse

    rows = []
    grad_times = {}
    env = {"x": np.float64(0.3), "y": np.float64(1.7)}
    bindings = {"x": 0.3, "y": 1.7}
    for size in SIZES:
        program = parse(expression(size))
        expr = program.statements[0]
        nodes = len(run(program, bindings).nodes)
        repeats = REPEATS if size < 100_000 else min(REPEATS, 3)
        gradient, evaluation = paired_times(lambda p=program: run(p, bindings),
                                            lambda e=expr: evaluate(e, env), repeats)
        grad_times[size] = gradient
        rows.append(Row(f"gradient, {nodes:,} tape nodes", gradient, "evaluation (no tape)",
                        evaluation, "<= 5x" if size >= 10_000 else ""))
    for small, big in zip(SIZES, SIZES[1:], strict=False):
        rows.append(Row(f"gradient at {big:,} nodes", grad_times[big],
                        f"{big // small} x gradient at {small:,}",
                        grad_times[small] * big / small, "~1x (linear)"))
    print_table("size: gradient vs evaluation", rows)


if __name__ == "__main__":
    main()
