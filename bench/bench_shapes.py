"""The check at 10k nodes, shape by shape (issue 26 item 3): each shape of bench/shape_cases.py
checked (every partial, no cache) against the same program's `--no-check` call, alternately in
the same run.

    python bench/run.py shapes
"""

from __future__ import annotations

import os
import tempfile

from common import REPEATS, Row, gradcalc_argv, paired_command_times, print_table
from shape_cases import SHAPES


def main() -> None:
    repeats = min(REPEATS, 5)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for k, (title, make) in enumerate(SHAPES.items()):
            shape = make()
            path = os.path.join(tmp, f"shape{k}.gc")
            with open(path, "w") as f:
                f.write(shape.text)
            base = gradcalc_argv("-f", path, "--at", shape.at, "--no-cache")
            ours, plain = paired_command_times(base, [*base, "--no-check"], repeats)
            rows.append(Row(f"{title}, 10k nodes, every partial checked", ours,
                            "same program, --no-check", plain, "at most 5x"))
    print_table("the check at 10k nodes, by shape", rows)


if __name__ == "__main__":
    main()
