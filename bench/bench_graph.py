"""--graph x.svg: the cost of a picture (graph, cap at 300 boxes, layout, SVG text) with the
built-in layout (grandalf) and with Graphviz's (when `dot` is installed), against the run it
draws (forward and backward pass of the parsed program).
"""

from __future__ import annotations

import random
import shutil

from common import Row, paired_times, print_table


def program(statements: int) -> str:
    """Statements that each mix a recent and a random earlier intermediate."""
    r = random.Random(0)
    lines = ["y0 = x*w"]
    for i in range(1, statements):
        recent, early = r.randrange(max(0, i - 5), i), r.randrange(0, i)
        lines.append(f"y{i} = sin(y{recent})*y{early} + {r.randint(1, 9)}")
    return "\n".join(lines)


CASES = {
    "seed example": ("tax*(a*an+o*on)", {"a": 100.0, "an": 2.0, "o": 150.0, "on": 3.0,
                                         "tax": 1.1}),
    "200-statement program": (program(200), {"x": 0.5, "w": 2.0}),
    "sum of 400 sines": ("+".join(f"sin({k}*x)" for k in range(1, 401)), {"x": 0.5}),
}


def main() -> None:
    from gradcalc.engine.evaluate import run
    from gradcalc.lang.syntax import parse
    from gradcalc.render import graph, svg

    dot = shutil.which("dot")
    rows = []
    for name, (source, at) in CASES.items():
        parsed = parse(source)
        result = run(parsed, at)
        for engine in ("builtin", "dot"):
            if engine == "dot" and dot is None:
                continue

            def picture(result=result, engine=engine) -> str:
                g = graph.cap(graph.build(result))
                layout = svg.builtin_layout(g) if engine == "builtin" else \
                    svg.dot_layout(g, dot)  # type: ignore[arg-type]
                return svg.to_svg(g, layout)

            boxes = len(graph.cap(graph.build(result)).nodes)
            ours, base = paired_times(picture, lambda parsed=parsed, at=at: run(parsed, at))
            rows.append(Row(f"{name}, {boxes} boxes, {engine} layout", ours,
                            "run (forward + backward)", base))
    print_table("--graph x.svg: picture vs the run it draws", rows)
