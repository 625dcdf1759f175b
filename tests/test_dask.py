"""--dask: the batch on Dask equals the single-machine batch row for row and verdict for
verdict (the tape and the derivatives are shipped to the workers, each file a task): on a
dask.distributed LocalCluster with 2 workers, and on a scheduler and two workers started as
processes of their own in another directory (as on a real cluster), where relative paths must
be resolved before they are shipped."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from gradcalc.engine.evaluate import run
from gradcalc.judge import check
from gradcalc.lang import syntax

pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")
pq = pytest.importorskip("pyarrow.parquet")

EXPR = "x*y + log(y) + relu(x)*sin(x) + z/y"


@pytest.fixture(scope="module")
def scheduler():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        yield cluster.scheduler_address


def _files(tmp_path, sizes):
    rng = np.random.default_rng(6)
    texts = []
    for k, n in enumerate(sizes):
        x, y = rng.uniform(-2, 2, n), rng.uniform(0.5, 3, n)
        x[:3] = [0.0, -1.5, 1e-300]              # a kink and tiny values in every part
        body = "".join(f"{a!r},{b!r}\n" for a, b in zip(x.tolist(), y.tolist(), strict=True))
        (tmp_path / f"part{k}.csv").write_text("x,y\n" + body)
        texts.append(body)
    (tmp_path / "all.csv").write_text("x,y\n" + "".join(texts))


def _joined(parts) -> list[str]:
    """The lines of CSV part files joined as one file: each part's header once, checked equal."""
    headers = {p.read_text().split("\n", 1)[0] for p in parts}
    assert len(headers) == 1, headers
    return [*headers, *(line for p in parts for line in p.read_text().splitlines()[1:])]


def test_dask_on_a_local_cluster_equals_the_local_path(gradcalc, tmp_path, scheduler) -> None:
    _files(tmp_path, [40_000, 7, 25_001])
    local = gradcalc(EXPR, "--points", str(tmp_path / "all.csv"), "--at", "z=0.25",
                     "--format", "csv", "--no-check")
    assert local.status == 0, local.err
    out = tmp_path / "out"
    r = gradcalc(EXPR, "--points", str(tmp_path / "part*.csv"), "--at", "z=0.25", "--dask",
                 scheduler, "--output", str(out), "--no-check")
    assert r.status == 0, r.err
    assert "65,008 rows from 3 files" in r.out
    parts = sorted(out.iterdir())
    assert [p.name for p in parts] == ["part-00000.csv", "part-00001.csv", "part-00002.csv"]
    assert _joined(parts) == local.out.splitlines()   # row for row, byte for byte

    # Parquet parts hold the same numbers
    outp = tmp_path / "out.parquet"
    r = gradcalc(EXPR, "--points", str(tmp_path), "--at", "z=0.25", "--dask", scheduler,
                 "--output", str(outp), "--no-check")
    assert r.status == 0, r.err
    # the directory holds part0..2 and all.csv: four files, in sorted order
    tables = [pq.read_table(p) for p in sorted(outp.iterdir())]
    assert len(tables) == 4
    values = np.concatenate([t.column("d_x").to_numpy() for t in tables[1:]])
    want = np.array([float(line.split(",")[1]) for line in local.out.splitlines()[1:]])
    assert np.array_equal(values, want)


def test_dask_errors_name_the_file_and_line(gradcalc, tmp_path) -> None:
    (tmp_path / "a.csv").write_text("x,y\n1,2\n")
    (tmp_path / "b.csv").write_text("x,y\n1,2\n3,abc\n")
    r = gradcalc("x*y", "--points", str(tmp_path / "*.csv"), "--dask", "sync", "--output",
                 str(tmp_path / "out"), "--no-check")
    assert r.status == 2 and r.out == ""
    assert "b.csv line 3: 'abc' is not a number (column 'y')" in r.err
    r = gradcalc("x*y", "--points", str(tmp_path / "*.csv"), "--dask", "sync", "--no-check")
    assert r.status == 2 and "needs --output DIR" in r.err
    r = gradcalc("x*y", "--points", str(tmp_path / "a.csv"), "--dask", "sync", "--output",
                 str(tmp_path / "one"), "--no-check", "--format", "json")
    assert r.status == 0 and r.json()["points"]["rows"] == 1
    assert r.json()["check"] == {"status": "skipped", "reason": "--no-check", "symbolic": {}}
    assert (tmp_path / "one" / "part-00000.csv").read_text() == "value,d_x,d_y\n2.0,2.0,1.0\n"
    r = gradcalc("x*y", "--points", str(tmp_path / "none*.csv"), "--dask", "sync",
                 "--output", str(tmp_path / "o"), "--no-check")
    assert r.status == 2 and "no CSV or Parquet files" in r.err
    (tmp_path / "b.csv").unlink()
    (tmp_path / "c.csv").write_text("x,z\n1,2\n")
    r = gradcalc("x*y", "--points", str(tmp_path / "*.csv"), "--dask", "sync", "--output",
                 str(tmp_path / "out"), "--no-check")
    assert r.status == 2 and "differ from the first file's x,y" in r.err


# the tape cancels at the small x (a mismatch), relu sits at its kink at x = 0 (undefined)
CHECKED = "(exp(x)-1)/x + relu(y)*x"
XS = [[1.5, 1e-10, -2.0, 0.5, 3.0, 0.25, -0.75], [2.5, -1.25], [1e-12, 0.125, 4.0, -3.5,
                                                                  0.875, 1.75, 2.25, -1.0]]
YS = [[0.5, 2.0, 0.0, -1.0, 1.5, 3.0, -0.25], [1.0, -2.0], [0.75, 0.0, 1.25, -1.5, 0.5,
                                                            2.5, -0.75, 3.0]]


def _checked_files(where) -> None:
    (where / "in").mkdir()
    for k, (xs, ys) in enumerate(zip(XS, YS, strict=True)):
        body = "".join(f"{x!r},{y!r}\n" for x, y in zip(xs, ys, strict=True))
        (where / "in" / f"part{k}.csv").write_text("x,y\n" + body)


def test_a_checked_dask_batch_merges_to_the_point_checks_row_by_row(gradcalc, tmp_path,
                                                                     monkeypatch) -> None:
    _checked_files(tmp_path)
    monkeypatch.chdir(tmp_path)
    r = gradcalc(CHECKED, "--points", "in/*.csv", "--dask", "sync", "--output", "out",
                 "--format", "json")
    assert r.status == 1, r.err                      # a mismatch on Dask exits 1
    got = r.json()["check"]
    assert got["status"] == "mismatch"
    program = syntax.parse(CHECKED)
    singles = [check.check(run(program, {"x": x, "y": y}))
               for xs, ys in zip(XS, YS, strict=True) for x, y in zip(xs, ys, strict=True)]
    for name in ("x", "y"):
        words = [str(s.partials[name].status) for s in singles]
        want = {w: words.count(w) for w in ("ok", "mismatch", "undefined")}
        assert got["partials"][name]["rows"] == want, name
    assert got["partials"]["x"]["rows"]["mismatch"] == 2
    errors = [abs(s.partials["x"].tape - s.partials["x"].expected)
              if s.partials["x"].status == "mismatch" else -1.0 for s in singles]
    worst = got["partials"]["x"]["worst"]   # the mismatch farthest from the proven reference
    assert worst["row"] == int(np.argmax(errors)) + 1 == 10   # row 1 of in/part2.csv
    assert (worst["file"], worst["line"]) == ("in/part2.csv", 2)
    assert got["partials"]["y"]["rows"]["undefined"] == 2
    r = gradcalc(CHECKED, "--points", "in/*.csv", "--dask", "sync", "--output", "out")
    assert r.status == 1 and "check: mismatch: tape and SymPy DISAGREE at 17 points" in r.out
    assert "row 10 (in/part2.csv line 2)" in r.out


def _stop(procs: list[subprocess.Popen]) -> None:
    for p in reversed(procs):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(p.pid, signal.SIGTERM)
    for p in reversed(procs):
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGKILL)
            p.wait()


@pytest.fixture(scope="module")
def remote(tmp_path_factory):
    """A dask scheduler and two workers, each a process of its own started in a directory
    that is not the test's (as on other machines); the scheduler's address is read from its
    scheduler file. Every process is stopped at the end, whatever happened."""
    home = tmp_path_factory.mktemp("cluster")
    file = home / "scheduler.json"
    procs: list[subprocess.Popen] = []

    def start(*args: str) -> None:
        procs.append(subprocess.Popen([sys.executable, "-m", "dask", *args], cwd=home,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                      start_new_session=True))

    try:
        start("scheduler", "--port", "0", "--no-dashboard", "--scheduler-file", str(file))
        limit = time.monotonic() + 60
        while not file.exists() or not file.read_text().strip():
            assert procs[0].poll() is None, "the scheduler did not start"
            assert time.monotonic() < limit, "no scheduler file after 60 s"
            time.sleep(0.1)
        address = json.loads(file.read_text())["address"]
        for k in range(2):
            start("worker", address, "--nthreads", "1", "--no-nanny", "--no-dashboard",
                  "--memory-limit", "0", "--local-directory", str(home / f"w{k}"))
        with distributed.Client(address, timeout="30s") as client:
            client.wait_for_workers(2, timeout=60)
        yield address
    finally:
        _stop(procs)


def test_dask_on_a_scheduler_and_workers_elsewhere_equals_the_local_batch(
        gradcalc, tmp_path, monkeypatch, remote) -> None:
    _checked_files(tmp_path)
    (tmp_path / "all.csv").write_text("x,y\n" + "".join(
        (tmp_path / "in" / f"part{k}.csv").read_text().split("\n", 1)[1] for k in range(3)))
    monkeypatch.chdir(tmp_path)   # the workers run in another directory
    local = gradcalc(CHECKED, "--points", "all.csv", "--format", "csv")
    assert local.status == 1
    r = gradcalc(CHECKED, "--points", "in/*.csv", "--dask", remote, "--output", "out",
                 "--format", "json")
    assert r.status == 1, r.err           # relative paths reached the workers resolved
    # byte for byte the batch without Dask
    assert _joined(sorted((tmp_path / "out").iterdir())) == local.out.splitlines()
    single = gradcalc(CHECKED, "--points", "all.csv", "--format", "json").json()["check"]
    merged = r.json()["check"]
    for name in ("x", "y"):
        assert merged["partials"][name]["rows"] == single["partials"][name]["rows"]
        assert merged["partials"][name]["worst"]["error"] == \
            single["partials"][name]["worst"]["error"]
    assert merged["status"] == single["status"] == "mismatch"


@pytest.mark.parametrize("expr, body, status", [
    ("(exp(x)-1)/x", "x\n1\n1e-10\n0.5\n", 1),       # the tape cancels: a mismatch
    ("log(x)", "x\n1\n0\n0.5\n", 3),                 # not finite at x = 0
    ("abs(x)*x + abs(x)", "x\n1\n0\n0.5\n", 4),      # a kink: undefined at x = 0
])
def test_a_dask_batch_exits_as_the_batch_without_dask(gradcalc, tmp_path, expr, body,
                                                       status) -> None:
    (tmp_path / "p.csv").write_text(body)
    local = gradcalc(expr, "--points", str(tmp_path / "p.csv"))
    r = gradcalc(expr, "--points", str(tmp_path / "p.csv"), "--dask", "sync", "--output",
                 str(tmp_path / "out"))
    assert local.status == r.status == status, r.err
    checks = [[line for line in out.splitlines() if line.startswith("check:")]
              for out in (local.out, r.out)]
    assert checks[0] == checks[1] and checks[0]   # the same summary as without Dask
