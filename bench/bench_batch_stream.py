"""Batches end to end at 1,000,000 rows: `gradcalc EXPR --points FILE` against a naive script.

The yardstick is what a person would write without gradcalc: read the CSV with Python's csv
module, turn each column into a numpy array, evaluate the value and the 5 hand-derived partials
with numpy, write them with csv.writer. Its output is byte for byte gradcalc's (checked here),
so both do the same job. Run alternately in the same session (see common.paired_times), with
the peak memory of each command's process tree (common.peak_memory_mib: gradcalc's symbolic
check runs in a forked child beside it).

- CSV in, CSV out (`--format csv`, `--no-check`): target <= 0.5x the script (aim 0.2x), peak
  <= 300 MB;
- Parquet in, Parquet out (`--output FILE.parquet`): the same table, no text at all;
- peak memory, checked (the default: the screen and the confirmation of rows run chunk by
  chunk) against `--no-check`, with the table as CSV and as Parquet in, and CSV (`--format
  csv`) and JSON (`--format json`) out: the median of the peaks of `min(BENCH_REPEATS, 3)`
  runs each (the process tree's, see common.peak_memory_mib); target <= 300 MiB checked.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile

import numpy as np

from common import (
    ENV,
    REPEATS,
    Row,
    gradcalc_argv,
    paired_command_times,
    peak_memory_mib,
    print_table,
)

N = 1_000_000
SEED = "tax*(a*an+o*on)"
NAMES = ["a", "an", "o", "on", "tax"]

NAIVE = """\
import csv, sys
import numpy as np
with open(sys.argv[1], newline="") as fh:
    rows = list(csv.reader(fh))
names, body = rows[0], rows[1:]
c = {n: np.array([float(r[j]) for r in body]) for j, n in enumerate(names)}
a, an, o, on, tax = (c[n] for n in ["a", "an", "o", "on", "tax"])
out = [tax * (a * an + o * on), tax * an, tax * a, tax * on, tax * o, a * an + o * on]
w = csv.writer(sys.stdout, lineterminator="\\n")
w.writerow(["value", "d_a", "d_an", "d_o", "d_on", "d_tax"])
w.writerows(zip(*(col.tolist() for col in out)))
"""

def main() -> None:
    repeats = min(REPEATS, 3)
    rng = np.random.default_rng(0)
    cols = {name: rng.uniform(0.5, 2.0, N) for name in NAMES}
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "points.csv")
        with open(path, "w") as fh:
            fh.write(",".join(NAMES) + "\n")
            rows = zip(*(cols[n].tolist() for n in NAMES), strict=True)
            fh.write("".join(",".join(map(repr, r)) + "\n" for r in rows))
        naive = os.path.join(tmp, "naive.py")
        with open(naive, "w") as fh:
            fh.write(NAIVE)
        import pyarrow as pa
        import pyarrow.parquet as pq

        parquet = os.path.join(tmp, "points.parquet")
        pq.write_table(pa.table(cols), parquet)
        ours_argv = gradcalc_argv(SEED, "--points", path, "--format", "csv", "--no-check")
        naive_argv = [sys.executable, naive, path]
        same = (subprocess.run(ours_argv, capture_output=True, env=ENV).stdout
                == subprocess.run(naive_argv, capture_output=True, env=ENV).stdout)
        ours, base = paired_command_times(ours_argv, naive_argv, repeats)
        pq_argv = gradcalc_argv(SEED, "--points", parquet, "--output",
                                os.path.join(tmp, "out.parquet"), "--format", "csv",
                                "--no-check")
        pq_time, base2 = paired_command_times(pq_argv, naive_argv, repeats)
        mem_ours, mem_pq, mem_naive = (peak_memory_mib(ours_argv), peak_memory_mib(pq_argv),
                                       peak_memory_mib(naive_argv))
        peaks = {(src, fmt, check): statistics.median(
            peak_memory_mib(gradcalc_argv(SEED, "--points", file, "--format", fmt,
                                          *(() if check else ("--no-check",))))
            for _ in range(repeats))
            for src, file in (("CSV", path), ("Parquet", parquet))
            for fmt in ("csv", "json") for check in (True, False)}
        size = os.path.getsize(path)

    print_table(f"batch end to end: {N:,}-row CSV ({size / 2**20:.0f} MiB) of {SEED}, "
                "value + 5 partials, --no-check", [
                    Row("CSV in, CSV out (`--points FILE --format csv`)", ours,
                        "naive csv + numpy script", base, "<= 0.5x (aim 0.2x)"),
                    Row("Parquet in, Parquet out (`--output FILE.parquet`)", pq_time,
                        "naive csv + numpy script", base2, ""),
                ])
    print(f"\noutput byte-identical to the naive script's: {same}")
    print(f"peak memory: CSV {mem_ours:.0f} MiB, Parquet {mem_pq:.0f} MiB, naive script "
          f"{mem_naive:.0f} MiB (target <= 300 MB; ratio CSV/naive "
          f"{mem_ours / mem_naive:.2f}x)")
    print(f"\n### peak memory at {N:,} rows, checked (the default) and --no-check  (medians "
          f"of {repeats} runs; target <= 300 MiB checked)\n")
    print("| in | out | checked | --no-check |\n|---|---|---:|---:|")
    for src in ("CSV", "Parquet"):
        for fmt in ("csv", "json"):
            print(f"| {src} | `--format {fmt}` | {peaks[src, fmt, True]:.0f} MiB | "
                  f"{peaks[src, fmt, False]:.0f} MiB |")


if __name__ == "__main__":
    main()
