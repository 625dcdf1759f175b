"""--steps at 1,000 tape nodes (issue 27 item 5): the backward pass written out, against the
same checked call without --steps, in the same run, first without the derivative cache (both
derive with SymPy), then with it warm (neither imports SymPy). Two programs: one of named
statements (every intermediate has a name, as in a program a person writes), and one expression
of the same size (every intermediate unnamed: formulas written out inline while short).

    python bench/run.py steps
"""

from __future__ import annotations

import os
import random
import sys
import tempfile

from common import ENV, REPEATS, Row, gradcalc_argv, paired_command_times, print_table

AT = "a=0.3,b=0.7,c=1.1,d=-0.4,e1=0.9"


def named_program(statements: int) -> str:
    """Statements `vK = f(u)*c + g(w)` over the five names and the statements before (u the
    one just before, so the output depends on all of them; the factors keep the partials
    moderate): about 4 tape nodes per statement."""
    rng = random.Random(27)
    names = ["a", "b", "c", "d", "e1"]
    lines = []
    for k in range(statements):
        u, w = names[-1], rng.choice(names[-8:])
        f, g = rng.choice(["sin", "cos", "tanh"]), rng.choice(["sin", "tanh", "sigmoid"])
        lines.append(f"v{k} = {f}({u})*{rng.choice(['0.5', '0.9', 'a'])} + {g}({w})")
        names.append(f"v{k}")
    return "\n".join(lines)


def main() -> None:
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from bench_check import random_expression

    repeats = min(REPEATS, 5)
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10_000))   # the generator recurses
    try:
        expr = random_expression(random.Random(3), 1_200)   # 1,04x tape nodes
    finally:
        sys.setrecursionlimit(limit)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        ENV["XDG_CACHE_HOME"] = tmp   # a cache of its own, empty at first
        for title, text in [("1,000-node program (250 named statements)", named_program(250)),
                            ("1,000-node expression (unnamed intermediates)", expr)]:
            path = os.path.join(tmp, "case.gc")
            with open(path, "w") as f:
                f.write(text)
            base = gradcalc_argv("-f", path, "--at", AT, "--no-cache")
            ours, plain = paired_command_times([*base, "--steps"], base, repeats)
            rows.append(Row(f"{title}, --steps --no-cache", ours,
                            "the same checked call, no --steps", plain, "<= 2x"))
            # the derivative cache warm (the warm-up round fills it): no SymPy in either
            cached = gradcalc_argv("-f", path, "--at", AT)
            ours, plain = paired_command_times([*cached, "--steps"], cached, repeats)
            rows.append(Row(f"{title}, --steps, cache warm", ours,
                            "the same checked call, no --steps", plain, "<= 2x"))
    print_table("--steps", rows)


if __name__ == "__main__":
    main()
