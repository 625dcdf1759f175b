"""`--points FILES --dask SCHEDULER --output DIR`: a batch too big for one machine, on Dask.

The program is recorded on the tape once, at the first row of the first file, as for one
machine, and its symbolic derivatives are obtained once (from the cache or SymPy). Both are
plain data (primitives, constants and the compiled derivatives; no control flow), so they are
shipped to the workers with the task, one task per file: the worker reads the file with
gradcalc's own reader (errors name the file and line as without Dask), replays the tape over
its columns, writes its part file (the contract's CSV, or Parquet), and runs the same
chunk-by-chunk check as one machine (rows.check_batch) on the derivatives it was handed. The
client gathers per-part row counts and verdict counts and merges them (rows.merge_checks).
Paths are made absolute before they are shipped: a worker runs in its own directory, maybe on
another machine. Dask schedules, retries and spreads the work; nothing here is a scheduler.

Dask is an optional extra (`pip install -e '.[dask]'` in the checkout), imported only here.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ..budget import Deadline
from ..errors import InputError, Setting
from ..lang.syntax import Program

LOCAL = ("threads", "processes", "sync")   # Dask's single-machine schedulers, by name
# how to install the extra, from the checkout gradcalc is installed from (it is on no index)
DASK_INSTALL = "pip install -e '.[dask]' in the gradcalc checkout"


@dataclass(frozen=True)
class Checking:
    """How the check runs on the workers (None for --no-check): the tolerances, the call's
    deadline and whether the derivative cache is read and filled."""

    rtol: float
    atol: float
    deadline: Deadline
    use_cache: bool = True


@dataclass
class Part:
    """What one worker reports of its file: its row count, its rows whose value or a partial is
    not finite (how many, and the first, 0-based; -1 if none), and its check (or None); or
    the error that stopped it (bad input in the file)."""

    rows: int = 0
    nonfinite: int = 0
    first_bad: int = -1
    check: Any = None
    error: InputError | None = None


def _part(path: str, shown: str, number: int, plan: Mapping[str, Any]) -> Part:
    """Read one file (path: made absolute; shown: as given, for messages), replay the shipped
    tape over it, write its part file and check it (on a worker)."""
    try:
        return _part_of(path, shown, number, plan)
    except InputError as exc:   # reported in file order by the client, whichever ran first
        return Part(error=exc)


def _part_of(path: str, shown: str, number: int, plan: Mapping[str, Any]) -> Part:
    """_part, raising the file's InputError."""
    from ..batch import columns as cio
    from ..batch.rows import Batch, check_batch, read_points, sweep_columns
    from ..judge.result import column_names

    pts = read_points(path, choice=plan["choice"], shown=shown)
    names = plan["columns"]
    if pts.names != list(names):
        raise InputError((Setting("points", shown), f": columns {','.join(pts.names)} differ "
                          f"from the first file's {','.join(names)}"))
    ids, wrt = plan["ids"], plan["wrt"]
    value, gradient, kinks = sweep_columns(
        plan["nodes"], plan["target"], {w: ids[w] for w in wrt},
        {ids[c]: pts.columns[c] for c in names}, {ids[c]: v for c, v in plan["at"].items()},
        pts.n, plan["kinks"])
    cols = [value] + [gradient[w] for w in wrt]
    out = os.path.join(plan["out"], f"part-{number:05d}{plan['ext']}")
    if plan["ext"] == ".parquet":
        cio.write_parquet(out, column_names(wrt), cols, pts.n)
    else:
        with open(out, "wb") as fh:
            fh.write((",".join(column_names(wrt)) + "\n").encode())
            for piece in cio.csv_chunks(cols, pts.n):
                fh.write(piece)
    bad = ~np.isfinite(value)
    for g in gradient.values():
        if g is not None:
            bad |= ~np.isfinite(g)
    part = Part(pts.n, int(bad.sum()), int(np.argmax(bad)) if bad.any() else -1)
    checking = plan["checking"]
    if checking is not None:
        program = _parsed(plan["source"])
        batch = Batch(program, pts, dict(plan["at"]), list(names) + list(plan["at"]), list(wrt),
                      value, gradient, None, plan["of"], kinks)   # type: ignore[arg-type]
        seconds, left = checking["seconds"], checking["left"]
        deadline = Deadline(seconds, time.monotonic() + left if math.isfinite(left)
                            else math.inf)
        chk = check_batch(batch, checking["rtol"], checking["atol"], of=plan["of"],
                          deadline=deadline, derived=plan["derived"])
        for v in [*chk.partials.values(), chk.value]:
            if v is not None:
                v.statuses = None   # the client merges counts; the rows stay here
        part.check = chk
    return part


_PARSED: dict[str, Program] = {}   # per worker process: the program of each source shipped


def _parsed(source: str) -> Program:
    """The program of a source (on a worker, parsed once: the point check reads its tree)."""
    if source not in _PARSED:
        from ..engine.program import parse_flat

        _PARSED[source] = parse_flat(source)
    return _PARSED[source]


def run_dask(program: Program, spec: str, at: Mapping[str, float], wrt: Sequence[str] | None,
             of: str | None, scheduler: str, output: str | None, choice: Any = None,
             checking: Checking | None = None) -> tuple[dict[str, Any], Any, list[str]]:
    """Compute the value and partials of every row of every file on Dask, writing one part
    file per input file into the --output directory, and check every row there unless
    checking is None; returns what was written (the keys of the JSON output), the merged
    check (rows.BatchCheck, or None) and the non-finite rows found (messages, empty if none).
    choice: which columns bind names (rows.Choice); the part files hold no kept columns."""
    try:
        import dask
    except ImportError:
        raise InputError((Setting("dask"), " needs Dask, which is not installed"),
                         hint=DASK_INSTALL) from None
    from ..batch.rows import EVERY, Points, input_files, merge_checks, read_points, run_batch

    if output is None:
        raise InputError((Setting("dask"), " writes one part file per input file and needs ",
                          Setting("output", "DIR")),
                         hint=("e.g. ", Setting("output", "results.parquet"),
                               " (Parquet parts) or ", Setting("output", "results"),
                               " (CSV parts)"))
    choice = replace(choice or EVERY, keep=())   # the part files hold the value and partials
    files = input_files(spec)
    pts0 = read_points(files[0], choice=choice)  # the first file: its names, the first row
    names = pts0.names
    head = Points(files[0], names, {c: pts0.columns[c][:1] for c in names}, pts0.lines[:1])
    del pts0
    recorded = run_batch(program, head, at, wrt, of)   # records the tape; checks the names
    rec = recorded.first
    target = rec.target_id()
    if target is None:
        raise InputError(("the output depends on no column or ", Setting("at"), " name; ",
                          Setting("dask"), " has nothing to distribute"))
    all_names = list(names) + list(at)
    ids = {n: rec.tape.node_of(rec.sources[n]).id for n in all_names}  # type: ignore[union-attr]
    from ..batch.rows import kink_plan
    from ..engine.tape import Node

    plan = {
        # the tape as plain data: primitives and constants, no tensors or sources
        "nodes": [Node(nd.id, nd.prim, nd.inputs, None, None)  # type: ignore[arg-type]
                  for nd in rec.nodes[: target + 1]],
        "target": target, "ids": ids, "columns": names, "at": dict(at),
        "wrt": recorded.wrt, "kinks": kink_plan(rec, recorded.wrt, target),
        "choice": choice, "source": program.source, "of": of,
        "out": os.path.abspath(output),
        "ext": ".parquet" if output.rstrip("/").lower().endswith((".parquet", ".pq"))
        else ".csv", "checking": None, "derived": None,
    }
    try:
        os.makedirs(output, exist_ok=True)
    except OSError as exc:
        raise InputError((Setting("output"), f": cannot make the directory {output}: "
                          f"{exc.strerror}")) from None
    skipped = None
    if checking is not None:
        skipped = _derive(plan, program, recorded, of, checking)
    shipped = dask.delayed(plan, pure=True)
    # absolute paths: a worker runs in its own directory, maybe on another machine
    tasks = [dask.delayed(_part, pure=True)(os.path.abspath(f), f, k, shipped)
             for k, f in enumerate(files)]
    parts: list[Part] = _compute(tasks, scheduler, dask)
    for p in parts:
        if p.error is not None:
            raise p.error
    rows = sum(p.rows for p in parts)
    summary = {"expression": program.source,
               "points": {"files": files, "rows": rows, "names": names},
               "output": output, "parts": len(files), "dask": scheduler}
    chk = skipped
    if checking is not None and skipped is None:
        chk = merge_checks([(p.check, p.rows, f) for p, f in zip(parts, files, strict=True)])
    problems = []
    bad = [(files[k], p.first_bad) for k, p in enumerate(parts) if p.first_bad >= 0]
    if bad:
        total = sum(p.nonfinite for p in parts)
        path, k = bad[0]
        problems.append(f"{total:,} rows have a value or partial that is not finite "
                        f"(first: row {k + 1} of {path})")
    return summary, chk, problems


def _derive(plan: dict[str, Any], program: Program, recorded: Any, of: str | None,
            checking: Checking) -> Any:
    """The symbolic derivatives, obtained once on the client and put in the plan with the
    check's settings (the deadline as seconds left: a worker's clock is its own); or, when
    they cannot be had, the skipped check (rows.BatchCheck) to report instead."""
    from ..batch.rows import skipped_check
    from ..symbolic.derivatives import for_columns

    deadline = checking.deadline
    status, derived = for_columns(program, recorded.names, recorded.wrt, None, 0, of, deadline,
                                  checking.use_cache)
    if status == "ok" and derived["program"] is None:
        status, derived = "error", ("the symbolic derivatives cannot be compiled to ship "
                                    "to the workers; check a sample on one machine")
    if status != "ok":
        reason = deadline.reason() if status == "timeout" else str(derived)
        return skipped_check(recorded.wrt, reason, checking.rtol, checking.atol,
                             status == "timeout")
    plan["derived"] = {k: derived[k] for k in ("forms", "true_forms", "guards", "program",
                                               "outputs")}
    plan["checking"] = {"rtol": checking.rtol, "atol": checking.atol,
                        "seconds": deadline.seconds, "left": deadline.left()}
    return None


def _compute(tasks: list[Any], scheduler: str, dask: Any) -> list[Any]:
    """Run the tasks: on a Dask single-machine scheduler by name, on a LocalCluster
    ('local'), or on the distributed scheduler at an address (tcp://host:8786)."""
    if scheduler in LOCAL:
        return list(dask.compute(*tasks, scheduler=scheduler))
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise InputError((Setting("dask", scheduler), " needs dask.distributed, which is not "
                          "installed"),
                         hint=DASK_INSTALL) from None
    if scheduler == "local":
        with LocalCluster(processes=True, dashboard_address=None) as cluster, \
                Client(cluster) as client:
            return list(client.gather(client.compute(tasks)))
    try:
        client = Client(scheduler, timeout="10s")
    except (OSError, TimeoutError, ValueError) as exc:
        raise InputError((Setting("dask"), f": cannot reach the scheduler at {scheduler} "
                          f"({exc})"),
                         hint="give tcp://HOST:8786, local, threads, processes or sync"
                         ) from None
    with client:
        return list(client.gather(client.compute(tasks)))
