"""Batches: 1,000,000 points of the seed expression, value and 5 partials.

- tape replay (record once, one forward and one backward pass over columns) vs plain numpy
  evaluating f only, the floor (target <= 4x);
- the same vs a per-point Python loop replaying the tape on scalars (target >= 100x faster;
  the loop is timed on LOOP_POINTS points and scaled linearly to 1,000,000);
- peak memory of the replay (tracemalloc, which numpy reports to) vs the input columns;
- end to end: a 200,000-row CSV through `--points FILE --format csv` (checked, derivatives
  cached) vs copying the same CSV with Python's csv module (target: a few seconds).
"""

from __future__ import annotations

import os
import sys
import tempfile
import tracemalloc

import numpy as np

import common
from common import (
    REPEATS,
    Row,
    gradcalc_argv,
    median_time,
    paired_command_times,
    paired_times,
    print_table,
)

N = 1_000_000
LOOP_POINTS = 5_000
CSV_ROWS = 200_000
SEED = "tax*(a*an+o*on)"
NAMES = ["a", "an", "o", "on", "tax"]


def _columns(n: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {name: rng.uniform(0.5, 2.0, n) for name in NAMES}


def main() -> None:
    from gradcalc.batch import rows as batch
    from gradcalc.lang.syntax import parse

    program = parse(SEED)
    cols = _columns(N)
    points = batch.Points("bench", NAMES, cols, np.arange(2, N + 2))
    repeats = min(REPEATS, 5)

    def replay() -> object:
        return batch.run_batch(program, points, {}, None, None)

    def floor() -> object:
        c = cols
        return c["tax"] * (c["a"] * c["an"] + c["o"] * c["on"])

    ours, base = paired_times(replay, floor, repeats)

    # the per-point loop: the same recorded tape, replayed one point at a time
    first = replay()
    nodes, target = first.first.nodes, first.first.target_id()
    leaf_ids = [first.first.tape.node_of(first.first.sources[n]).id for n in NAMES]

    def loop() -> None:
        for k in range(LOOP_POINTS):
            leaves = {i: cols[n][k] for i, n in zip(leaf_ids, NAMES, strict=True)}
            batch.replay(nodes, leaves, target, leaf_ids, 1)

    per_loop = median_time(loop, max(1, repeats // 2)) * (N / LOOP_POINTS)

    tracemalloc.start()
    replay()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    inputs = sum(c.nbytes for c in cols.values())

    with tempfile.TemporaryDirectory() as tmp:
        common.ENV["XDG_CACHE_HOME"] = tmp
        path = os.path.join(tmp, "points.csv")
        small = _columns(CSV_ROWS)
        with open(path, "w") as fh:
            fh.write(",".join(NAMES) + "\n")
            rows = zip(*(small[n].tolist() for n in NAMES), strict=True)
            fh.write("".join(",".join(map(repr, r)) + "\n" for r in rows))
        e2e_repeats = min(REPEATS, 3)
        e2e, copy = paired_command_times(
            gradcalc_argv(SEED, "--points", path, "--format", "csv"),
            [sys.executable, "-c", "import csv, sys; csv.writer(sys.stdout)"
             ".writerows(csv.reader(open(sys.argv[1])))", path], e2e_repeats)
        del common.ENV["XDG_CACHE_HOME"]

    print_table(f"batch: {N:,} points of {SEED}, value + 5 partials", [
        Row("tape replay (forward + backward over columns)", ours, "numpy f only (floor)", base,
            "<= 4x"),
        Row("tape replay", ours, f"per-point loop over the tape (x{N // LOOP_POINTS} of "
            f"{LOOP_POINTS:,})", per_loop, "<= 0.01x (>= 100x faster)"),
        Row(f"{CSV_ROWS:,}-row CSV: gradcalc --points --format csv (checked)", e2e,
            "python csv read + write of the same file", copy, "a few seconds"),
    ])
    print(f"\npeak memory of the replay: {peak / 2**20:.0f} MiB = {peak / inputs:.1f}x the "
          f"{inputs / 2**20:.0f} MiB of input columns")


if __name__ == "__main__":
    main()
