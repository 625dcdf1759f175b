"""The check at scale (issue 15 item 2): every partial of a 10k-node expression checked without
a cache, a 100k-term sum under `--check-timeout 2`, and `--numeric` on a 20k-term program under
the same budget, each against the `--no-check` time of the same program in the same run.

    python bench/run.py check
"""

from __future__ import annotations

import os
import random
import sys
import tempfile

from common import REPEATS, Row, gradcalc_argv, paired_command_times, print_table

NAMES = ["a", "b", "c", "d", "e1"]
AT = "a=0.3,b=0.7,c=1.1,d=-0.4,e1=0.9"


def random_expression(rng: random.Random, n: int) -> str:
    """About n primitives: sums, products, quotients and sines of the five names."""
    if n <= 1:
        return rng.choice(NAMES)
    k = rng.random()
    if k < 0.2:
        return f"sin({random_expression(rng, n - 1)})"
    m = rng.randint(1, n - 1)
    left, right = random_expression(rng, m), random_expression(rng, n - 1 - m)
    if k < 0.6:
        return f"({left})+({right})"
    if k < 0.85:
        return f"({left})*({right})"
    return f"({left})/(2+sin({right}))"


def _file(directory: str, name: str, text: str) -> str:
    path = os.path.join(directory, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def main() -> None:
    repeats = min(REPEATS, 3)
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 50_000))   # the generator recurses
    try:
        expr10k = random_expression(random.Random(3), 12_000)   # 10,3xx tape nodes
    finally:
        sys.setrecursionlimit(limit)
    sum100k = "+".join(f"{NAMES[k % 5]}*{NAMES[(k * 7 + 3) % 5]}" for k in range(100_000))
    num20k = "+".join(f"abs(a - {k % 7})*sin(b*{1 + k % 5})" for k in range(20_000 // 6))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        cases = [
            ("10k-node expression, every partial checked, --no-cache", expr10k,
             ["--no-cache"], "checked under 5 s"),
            ("100k-term sum, --check-timeout 2, --no-cache", sum100k,
             ["--no-cache", "--check-timeout", "2"], "at most --no-check + 2 s + ~0.5 s"),
            ("20k-node program, --numeric --no-check --check-timeout 2", num20k,
             ["--numeric", "--check-timeout", "2"], "at most --no-check + 2 s + ~0.5 s"),
        ]
        for k, (title, text, options, target) in enumerate(cases):
            path = _file(tmp, f"case{k}.gc", text)
            base = gradcalc_argv("-f", path, "--at", AT)
            if "--numeric" in options:
                ours, plain = paired_command_times([*base, "--no-check", *options],
                                                   [*base, "--no-check"], repeats)
            else:
                ours, plain = paired_command_times([*base, *options], [*base, "--no-check"],
                                                   repeats)
            rows.append(Row(title, ours, "same program, --no-check", plain,
                            f"{target} (extra {ours - plain:.2f} s)"))
    print_table("check at scale", rows)


if __name__ == "__main__":
    main()
