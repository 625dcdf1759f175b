"""Shared benchmark helpers: medians of repeats and ratio tables against same-run baselines."""

from __future__ import annotations

import atexit
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

REPEATS = int(os.environ.get("BENCH_REPEATS", "7"))
SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")
# subprocesses run this checkout's gradcalc, whatever is installed
ENV = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
# ...with bytecode caching, as an installed package has (pip writes .pyc files), even where
# PYTHONDONTWRITEBYTECODE is set: otherwise every call would recompile gradcalc from source
# while numpy and click load their installed .pyc. The cache lives in a temporary directory
# (filled by each measurement's warm-up run) and applies to baselines and gradcalc alike.
ENV.pop("PYTHONDONTWRITEBYTECODE", None)
ENV["PYTHONPYCACHEPREFIX"] = tempfile.mkdtemp(prefix="gradcalc-bench-pyc-")
atexit.register(shutil.rmtree, ENV["PYTHONPYCACHEPREFIX"], True)


def median_time(fn: Callable[[], object], repeats: int = REPEATS, warmup: int = 1) -> float:
    """Median wall time of fn() in seconds over `repeats` runs, after `warmup` unmeasured runs."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def command_time(argv: Sequence[str], repeats: int = REPEATS, stdin: bytes | None = None) -> float:
    """Median wall time of running a command to completion (its output discarded)."""

    def run() -> None:
        proc = subprocess.run(list(argv), input=stdin, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, env=ENV)
        if proc.returncode not in (0, 1, 3, 4):   # (4: computed, something not verified)
            raise RuntimeError(f"{argv} failed with status {proc.returncode}")

    return median_time(run, repeats)


def paired_times(fn_a: Callable[[], object], fn_b: Callable[[], object],
                 repeats: int = REPEATS, warmup: int = 1) -> tuple[float, float]:
    """Median wall times of fn_a() and fn_b(), run alternately (a, b, a, b, ...) so that both
    see the same machine load; after `warmup` unmeasured rounds."""
    for _ in range(warmup):
        fn_a()
        fn_b()
    times_a, times_b = [], []
    for _ in range(repeats):
        for fn, times in ((fn_a, times_a), (fn_b, times_b)):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
    return statistics.median(times_a), statistics.median(times_b)


def _runner(argv: Sequence[str], stdin: bytes | None = None) -> Callable[[], None]:
    def run() -> None:
        proc = subprocess.run(list(argv), input=stdin, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, env=ENV)
        if proc.returncode not in (0, 1, 3, 4):   # (4: computed, something not verified)
            raise RuntimeError(f"{argv} failed with status {proc.returncode}")
    return run


def paired_command_times(argv_a: Sequence[str], argv_b: Sequence[str],
                         repeats: int = REPEATS) -> tuple[float, float]:
    """Median wall times of two commands, run alternately (see paired_times)."""
    return paired_times(_runner(argv_a), _runner(argv_b), repeats)


def gradcalc_argv(*args: str) -> list[str]:
    """argv that runs this checkout's gradcalc with the current interpreter."""
    return [sys.executable, "-m", "gradcalc", *args]


@dataclass
class Row:
    """One scenario: gradcalc's median time, the baseline's, and the target ratio (if any)."""

    scenario: str
    ours: float
    baseline_name: str
    baseline: float
    target: str = ""

    @property
    def ratio(self) -> float:
        return self.ours / self.baseline


def print_table(title: str, rows: Sequence[Row]) -> None:
    """Print a Markdown table of medians and ratios."""
    print(f"\n### {title}  (medians of {REPEATS} repeats)\n")
    print("| scenario | gradcalc | baseline | baseline time | ratio | target |")
    print("|---|---:|---|---:|---:|---|")
    for r in rows:
        ratio = f"{r.ratio:.2f}x" if r.ratio >= 0.1 else f"{r.ratio:.2g}x"
        print(f"| {r.scenario} | {_fmt(r.ours)} | {r.baseline_name} | {_fmt(r.baseline)} | "
              f"{ratio} | {r.target} |")
    sys.stdout.flush()


def _fmt(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds:.2f} s"


def _descendants(pid: int) -> list[int]:
    """pid and every process below it (Linux /proc; children of every thread)."""
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as fh:
                    todo += [int(c) for c in fh.read().split()]
        except OSError:
            pass
    return found


def _pss_kib(pid: int) -> int:
    """Proportional set size of pid in KiB (shared pages divided among their sharers), 0 if
    it is gone."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            return next((int(line.split()[1]) for line in fh if line.startswith("Pss:")), 0)
    except OSError:
        return 0


# a small wrapper that runs argv and prints its maximum resident set: the wrapper is a fresh
# interpreter, so the figure is not the benchmark's own memory (a child forked from a large
# process starts with that process's resident set, which getrusage would count)
_PEAK = ("import resource, subprocess, sys; "
         "subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, check=True); "
         "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")


def peak_memory_mib(argv: Sequence[str], interval: float = 0.01) -> float:
    """Peak memory of one run of argv in MiB: of the whole process tree (gradcalc forks a
    child for the symbolic check, which lives beside the parent), sampled every `interval`
    seconds as the sum of the processes' proportional set sizes; never below the command's own
    maximum resident set (getrusage), which a spike shorter than the interval still reaches."""
    wrapper = subprocess.Popen([sys.executable, "-c", _PEAK, *argv], stdout=subprocess.PIPE,
                               env=ENV, text=True)
    peak = 0
    while wrapper.poll() is None:
        tree = _descendants(wrapper.pid)[1:]          # argv's processes, not the wrapper
        peak = max(peak, sum(_pss_kib(p) for p in tree))
        time.sleep(interval)
    out = wrapper.stdout.read() if wrapper.stdout else ""
    if wrapper.returncode != 0:
        raise subprocess.CalledProcessError(wrapper.returncode, list(argv))
    return max(peak, int(out.split()[-1])) / 1024
