"""`--points FILES --dask SCHEDULER --output DIR`: a batch too big for one machine, on Dask.

The program is recorded on the tape once, at the first row of the first file, as for one
machine. The tape is plain data (primitives and constants, no control flow), so it is shipped
to the workers with the task: `dask.dataframe.from_map` reads each file into one partition
(with gradcalc's own reader, so errors name the file and line as without Dask), and
`map_partitions` replays the tape over each partition's columns and writes that partition's
part file (the contract's CSV, or Parquet). The client only gathers per-part row counts. Dask
schedules, retries and spreads the work; nothing here is a scheduler.

Dask is an optional extra (`pip install -e '.[dask]'` in the checkout), imported only here.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..errors import InputError, Setting
from ..lang.syntax import Program

LOCAL = ("threads", "processes", "sync")   # Dask's single-machine schedulers, by name
# how to install the extra, from the checkout gradcalc is installed from (it is on no index)
DASK_INSTALL = "pip install -e '.[dask]' in the gradcalc checkout"


def _load(path: str, names: Sequence[str], choice: Any) -> Any:
    """One file's columns that bind names, as a pandas DataFrame of float64 columns (on a
    worker)."""
    import pandas as pd

    from ..batch.rows import read_points

    pts = read_points(path, choice=choice)
    if pts.names != list(names):
        raise InputError((Setting("points", path), f": columns {','.join(pts.names)} differ "
                          f"from the first file's {','.join(names)}"))
    return pd.DataFrame(pts.columns, columns=pts.names)


def _replay_part(frame: Any, plan: Mapping[str, Any], partition_info: Any = None) -> Any:
    """Replay the shipped tape over one partition and write its part file; returns one row:
    the part's row count and its rows with a non-finite value or partial (on a worker)."""
    import pandas as pd

    from ..batch import columns as cio
    from ..batch.rows import CHUNK, replay
    from ..engine.sweep import Unit
    from ..judge.result import column_names

    n = len(frame)
    number = partition_info["number"] if partition_info else 0
    value = np.empty(n)
    grads: dict[str, np.ndarray | None] = dict.fromkeys(plan["wrt"])
    ids, target = plan["ids"], plan["target"]
    for lo in range(0, n, CHUNK):
        hi = min(n, lo + CHUNK)
        leaves = {ids[name]: frame[name].to_numpy()[lo:hi] for name in plan["columns"]}
        leaves.update({ids[name]: np.full(hi - lo, v) for name, v in plan["at"].items()})
        values, adj = replay(plan["nodes"], leaves, target, plan["sources"], hi - lo)
        value[lo:hi] = values[target]
        for w in plan["wrt"]:
            g = adj[ids[w]] if ids[w] <= target else None
            if g is None:
                continue
            if isinstance(g, Unit):
                g = 1.0
            if grads[w] is None:
                grads[w] = np.empty(n)
            grads[w][lo:hi] = g  # type: ignore[index]
    cols = [value] + [grads[w] for w in plan["wrt"]]
    names = column_names(plan["wrt"])
    path = os.path.join(plan["out"], f"part-{number:05d}{plan['ext']}")
    if plan["ext"] == ".parquet":
        cio.write_parquet(path, names, cols, n)
    else:
        with open(path, "wb") as fh:
            fh.write((",".join(names) + "\n").encode())
            for piece in cio.csv_chunks(cols, n):
                fh.write(piece)
    bad = ~np.isfinite(value)
    for g in grads.values():
        if g is not None:
            bad |= ~np.isfinite(g)
    return pd.DataFrame({"rows": [n], "nonfinite": [int(bad.sum())],
                         "first_bad": [int(np.argmax(bad)) if bad.any() else -1]})


def run_dask(program: Program, spec: str, at: Mapping[str, float], wrt: Sequence[str] | None,
             of: str | None, scheduler: str, output: str | None, choice: Any = None
             ) -> tuple[dict[str, Any], list[str]]:
    """Compute the value and partials of every row of every file on Dask, writing one part
    file per input file into the --output directory; returns what was written (the keys of
    the JSON output) and the non-finite rows found (messages, empty if none). choice: which
    columns bind names (rows.Choice); the part files hold no kept columns."""
    try:
        import dask
        import dask.dataframe as dd
        import pandas as pd
    except ImportError:
        raise InputError((Setting("dask"), " needs Dask, which is not installed"),
                         hint=DASK_INSTALL) from None
    from ..batch.rows import run_batch

    if output is None:
        raise InputError((Setting("dask"), " writes one part file per input file and needs ",
                          Setting("output", "DIR")),
                         hint=("e.g. ", Setting("output", "results.parquet"),
                               " (Parquet parts) or ", Setting("output", "results"),
                               " (CSV parts)"))
    from dataclasses import replace

    from ..batch.rows import EVERY, Points, input_files, read_points

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
    from ..engine.tape import Node

    plan = {
        # the tape as plain data: primitives and constants, no tensors or sources
        "nodes": [Node(nd.id, nd.prim, nd.inputs, None, None)  # type: ignore[arg-type]
                  for nd in rec.nodes[: target + 1]],
        "target": target, "ids": ids, "columns": names, "at": dict(at),
        "wrt": recorded.wrt, "sources": [ids[w] for w in recorded.wrt],
        "out": os.path.abspath(output),
        "ext": ".parquet" if output.rstrip("/").lower().endswith((".parquet", ".pq"))
        else ".csv",
    }
    try:
        os.makedirs(output, exist_ok=True)
    except OSError as exc:
        raise InputError((Setting("output"), f": cannot make the directory {output}: "
                          f"{exc.strerror}")) from None
    meta_in = pd.DataFrame({c: pd.Series(dtype="float64") for c in names})
    meta_out = pd.DataFrame({"rows": pd.Series(dtype="int64"),
                             "nonfinite": pd.Series(dtype="int64"),
                             "first_bad": pd.Series(dtype="int64")})
    frames = dd.from_map(_load, files, names=names, choice=choice, meta=meta_in,
                         enforce_metadata=False)
    parts = frames.map_partitions(_replay_part, plan, meta=meta_out, enforce_metadata=False)
    summary = _compute(parts, scheduler, dask)
    rows = int(summary["rows"].sum())
    bad = [(files[k], int(s)) for k, s in enumerate(summary["first_bad"]) if s >= 0]
    summary_ = {"expression": program.source,
                "points": {"files": files, "rows": rows, "names": names},
                "output": output, "parts": len(files), "dask": scheduler}
    problems = []
    if bad:
        total = int(summary["nonfinite"].sum())
        path, k = bad[0]
        problems.append(f"{total:,} rows have a value or partial that is not finite "
                        f"(first: row {k + 1} of {path})")
    return summary_, problems


def _compute(parts: Any, scheduler: str, dask: Any) -> Any:
    """Run the graph: on a Dask single-machine scheduler by name, on a LocalCluster
    ('local'), or on the distributed scheduler at an address (tcp://host:8786)."""
    if scheduler in LOCAL:
        return parts.compute(scheduler=scheduler)
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise InputError((Setting("dask", scheduler), " needs dask.distributed, which is not "
                          "installed"),
                         hint=DASK_INSTALL) from None
    if scheduler == "local":
        with LocalCluster(processes=True, dashboard_address=None) as cluster, \
                Client(cluster) as client:
            return client.compute(parts).result()
    try:
        client = Client(scheduler, timeout="10s")
    except (OSError, TimeoutError, ValueError) as exc:
        raise InputError((Setting("dask"), f": cannot reach the scheduler at {scheduler} "
                          f"({exc})"),
                         hint="give tcp://HOST:8786, local, threads, processes or sync"
                         ) from None
    with client:
        return client.compute(parts).result()
