"""The disk cache of symbolic derivatives: hit and miss agree, bad entries are never trusted,
and neither --no-check nor a cache hit imports SymPy. The autouse fixture in conftest.py points
XDG_CACHE_HOME at a fresh temporary directory for every test."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gradcalc.engine import vectors
from gradcalc.symbolic import cache

SEED = ("tax*(a*an+o*on)", "a=100,an=2,o=150,on=3,tax=1.1")
ENV_PATH = os.pathsep.join(sys.path)


def _entries() -> list[Path]:
    return sorted(cache.cache_dir().glob("*.json"))


def _python(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "PYTHONPATH": ENV_PATH})


# makes any import of sympy fail (in this process and in forked children)
BLOCKED = "import sys\nsys.modules['sympy'] = None\n"
# runs the CLI in a fresh interpreter and reports whether SymPy got imported
PROBE = """
import sys
from gradcalc.cli.main import main
status = main(sys.argv[1:])
print("SYMPY-LOADED" if sys.modules.get("sympy") else "SYMPY-ABSENT", file=sys.stderr)
sys.exit(status)
"""


def test_cache_dir_follows_xdg(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache.cache_dir() == tmp_path / "xdg" / "gradcalc"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/path")  # the spec says: ignore it
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache.cache_dir() == tmp_path / "home" / ".cache" / "gradcalc"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert cache.cache_dir() == tmp_path / "home" / ".cache" / "gradcalc"


@pytest.mark.parametrize("fmt", ["text", "json", "csv"])
def test_hit_and_miss_give_identical_output(gradcalc, fmt) -> None:
    miss = gradcalc(SEED[0], "--at", SEED[1], "--format", fmt)
    assert miss.status == 0 and len(_entries()) == 1
    stamp = _entries()[0].stat().st_mtime_ns
    hit = gradcalc(SEED[0], "--at", SEED[1], "--format", fmt)
    assert (hit.status, hit.out, hit.err) == (miss.status, miss.out, miss.err)
    assert _entries()[0].stat().st_mtime_ns == stamp  # read, not rewritten
    fresh = gradcalc(SEED[0], "--at", SEED[1], "--format", fmt, "--no-cache")
    assert fresh.out == miss.out


def test_hit_with_new_values_and_special_points(gradcalc) -> None:
    exprs = [("abs(x)*y + sqrt(x^2 + y)", ["x=0,y=2", "x=-1.5,y=0.25", "x=3,y=-20"]),
             ("max(x, y)^2 + log(y, 3) - atan2(y, x)", ["x=1,y=2", "x=2,y=2", "x=-1,y=0.5"]),
             ("c = x*y; c *= sigmoid(c); d = c / (1 + x^2)", ["x=0.5,y=-2", "x=3,y=0"]),
             ("stop_gradient(x)*y + x^2", ["x=2,y=3", "x=-1,y=0.5"]),  # the 'cut' verdict
             ("sum(w*w)*x + max(w)", ["w=[1,2,3],x=2", "w=[3,3,-1],x=0.5"])]  # vectors
    for expr, points in exprs:
        for at in points:
            miss = gradcalc(expr, "--at", at, "--format", "json", "--no-cache")
            gradcalc(expr, "--at", points[0], "--format", "json")  # fills the cache
            hit = gradcalc(expr, "--at", at, "--format", "json")
            assert hit.out == miss.out and hit.status == miss.status, (expr, at)


def test_a_hit_checks_without_importing_sympy(tmp_path) -> None:
    # with SymPy made unimportable, a miss cannot check (this shows the blocker works)...
    blocked = _python(BLOCKED + PROBE, SEED[0], "--at", SEED[1], "--format", "json")
    assert json.loads(blocked.stdout)["check"]["status"] == "skipped" and _entries() == []
    # ...a normal run fills the cache...
    first = _python(PROBE, SEED[0], "--at", SEED[1])
    assert first.returncode == 0 and len(_entries()) == 1
    # ...and then a call with new values checks without SymPy, in the parent or the child
    second = _python(BLOCKED + PROBE, SEED[0], "--at", "a=1,an=2,o=3,on=4,tax=5", "--format",
                     "json")
    assert second.returncode == 0, second.stderr
    assert "SYMPY-ABSENT" in second.stderr
    obj = json.loads(second.stdout)
    assert obj["check"]["status"] == "ok"
    assert obj["check"]["partials"]["tax"]["symbolic_value"] == 14.0
    assert obj["check"]["symbolic"]["tax"] == "a*an + o*on"


def test_no_check_imports_no_sympy() -> None:
    proc = _python(PROBE, "x^2", "--at", "x=3", "--no-check")
    assert proc.returncode == 0 and proc.stdout.startswith("value  9")
    assert "SYMPY-ABSENT" in proc.stderr


def test_no_check_batch_imports_no_sympy(tmp_path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("x\n1\n2\n")
    proc = _python(PROBE, "x*y", "--at", "y=2", "--points", str(path), "--no-check",
                   "--format", "csv")
    assert proc.returncode == 0 and proc.stdout == "value,d_x,d_y\n2.0,2.0,1.0\n4.0,2.0,2.0\n"
    assert "SYMPY-ABSENT" in proc.stderr


def _corrupt_variants(text: str) -> list[str]:
    obj = json.loads(text)
    forged = json.loads(text)
    forged["payload"]["program"][-1] = ["mul", 10**6, 0]  # operand out of range
    forged["checksum"] = hashlib.sha256(json.dumps(
        forged["payload"], sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    wrong_sum = json.loads(text)
    wrong_sum["payload"]["forms"]["a"] = "42"
    return ["", "not json at all", text[: len(text) // 2], json.dumps([1, 2, 3]),
            json.dumps({**obj, "payload": None}), json.dumps(forged), json.dumps(wrong_sum),
            "\x00\xff" * 10]


@pytest.mark.parametrize("variant", range(8))
def test_corrupted_entry_is_ignored_and_rewritten(gradcalc, variant) -> None:
    good = gradcalc(SEED[0], "--at", SEED[1], "--format", "json")
    [path] = _entries()
    original = path.read_text()
    bad = _corrupt_variants(original)[variant]
    path.write_text(bad, encoding="latin-1")
    again = gradcalc(SEED[0], "--at", SEED[1], "--format", "json")
    assert again.status == 0 and again.out == good.out
    assert path.read_text() == original  # rewritten with the recomputed entry


def test_a_tampered_derivative_is_not_trusted(gradcalc) -> None:
    gradcalc("x^3", "--at", "x=2")
    [path] = _entries()
    obj = json.loads(path.read_text())
    obj["payload"]["forms"]["x"] = "2*x"  # a wrong derivative, checksum left stale
    path.write_text(json.dumps(obj))
    r = gradcalc("x^3", "--at", "x=2", "--format", "json")
    assert r.json()["check"]["symbolic"]["x"] == "3*x^2"


def test_no_cache_neither_reads_nor_writes(gradcalc) -> None:
    r = gradcalc("x^2", "--at", "x=3", "--no-cache")
    assert r.status == 0 and _entries() == []
    gradcalc("x^2", "--at", "x=3")
    [path] = _entries()
    path.write_text("garbage")
    assert gradcalc("x^2", "--at", "x=3", "--no-cache").status == 0
    assert path.read_text() == "garbage"


def test_key_covers_version_names_wrt_and_of(monkeypatch) -> None:
    base = cache.make_key("x*y", ["x", "y"], ["x", "y"], None)
    others = [cache.make_key("x*y ", ["x", "y"], ["x", "y"], None),
              cache.make_key("x*y", ["y", "x"], ["x", "y"], None),
              cache.make_key("x*y", ["x", "y"], ["x"], None),
              cache.make_key("x*y", ["x", "y"], ["x", "y"], "x")]
    assert len({base.digest(), *(k.digest() for k in others)}) == 5
    before = base.digest()
    monkeypatch.setattr(cache, "__version__", "99.0")
    assert base.digest() != before  # an upgrade never reads an old entry
    upgraded = base.digest()
    monkeypatch.setattr(cache, "FORMAT", cache.FORMAT + 1)  # so does a new cache format
    assert base.digest() not in (before, upgraded)


def test_an_edit_to_the_deriving_code_changes_the_key(tmp_path) -> None:
    # an edited primitive or SymPy conversion must not read entries the old code wrote, even
    # under the same version number; an edit to a renderer leaves the cache valid
    import shutil

    src = Path(cache.__file__).resolve().parent.parent
    copy = tmp_path / "gradcalc"
    shutil.copytree(src, copy, ignore=shutil.ignore_patterns("__pycache__"))

    def fingerprint() -> str:
        code = "from gradcalc.symbolic import cache; print(cache.code_fingerprint())"
        return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              env={**os.environ, "PYTHONPATH": str(tmp_path)},
                              check=True).stdout.strip()

    first = fingerprint()
    with open(copy / "render" / "text.py", "a") as f:
        f.write("\n# a renderer's edit\n")
    assert fingerprint() == first
    for edited in ("ops.py", "symbolic/convert.py", "lang/syntax.py"):
        with open(copy / edited, "a") as f:
            f.write("\n# an edit\n")
        now = fingerprint()
        assert now != first, edited
        first = now


def test_upgrade_ignores_old_entries(gradcalc, monkeypatch) -> None:
    gradcalc("x^2", "--at", "x=3")
    monkeypatch.setattr(cache, "__version__", "99.0")
    gradcalc("x^2", "--at", "x=3")
    assert len(_entries()) == 2


def test_unwritable_cache_is_not_an_error(gradcalc, monkeypatch, tmp_path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))  # gradcalc/ cannot be created in it
    r = gradcalc("x^2", "--at", "x=3", "--format", "json")
    assert r.status == 0 and r.err == "" and r.json()["check"]["status"] == "ok"


def test_concurrent_runs_leave_one_valid_entry(tmp_path) -> None:
    argv = [sys.executable, "-m", "gradcalc", SEED[0], "--at", SEED[1], "--format", "json"]
    env = {**os.environ, "PYTHONPATH": ENV_PATH}
    procs = [subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                              text=True) for _ in range(4)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert len({o for o, _ in outs}) == 1
    files = list(cache.cache_dir().iterdir())
    assert [f.suffix for f in files] == [".json"]  # no temporary files left behind
    names = ["a", "an", "o", "on", "tax"]
    key = cache.make_key(SEED[0], vectors.symbol_names(dict.fromkeys(names, 1.0)), names, None)
    assert cache.load(key) is not None


def test_batch_uses_the_cache_too(gradcalc, tmp_path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("x,y\n1,2\n3,4\n")
    miss = gradcalc("x^2*sin(y)", "--points", str(path), "--format", "json")
    assert len(_entries()) == 1
    hit = gradcalc("x^2*sin(y)", "--points", str(path), "--format", "json")
    assert hit.out == miss.out and hit.json()["check"]["status"] == "ok"


def test_plain_calls_import_only_what_they_use() -> None:
    probe = PROBE.replace('print("SYMPY', 'print(sorted(m for m in sys.modules if m.startswith('
                          '"gradcalc.")), file=sys.stderr)\nprint("SYMPY')
    proc = _python(probe, "x^2", "--at", "x=3", "--no-check")
    assert proc.returncode == 0
    loaded = proc.stderr
    for lazy in ("gradcalc.judge.claims", "gradcalc.render.graph", "gradcalc.batch.rows",
                 "gradcalc.symbolic.cache", "gradcalc.symbolic.convert", "gradcalc.judge.numeric"):
        assert f"'{lazy}'" not in loaded, lazy


def test_claim_points_default_matches_verify() -> None:
    from gradcalc.cli import main as cli
    from gradcalc.judge import claims as verify
    assert cli.CLAIM_POINTS == verify.CLAIM_POINTS


def test_no_cache_with_several_outputs_writes_nothing(gradcalc) -> None:
    r = gradcalc("r = hypot(x, y); t = atan2(y, x)", "--at", "x=1,y=2", "--of", "r,t",
                 "--no-cache")
    assert r.status == 0 and _entries() == []
    gradcalc("r = hypot(x, y); t = atan2(y, x)", "--at", "x=1,y=2", "--of", "r,t")
    assert len(_entries()) == 2  # one entry per output when the cache is on


def test_no_cache_with_hessian_writes_nothing(gradcalc) -> None:
    r = gradcalc("x^2*y", "--at", "x=1,y=2", "--hessian", "--no-cache")
    assert r.status == 0 and _entries() == []


@pytest.mark.parametrize("kind", ["fifo", "dev-zero", "directory"])
def test_an_entry_that_is_not_a_regular_file_is_ignored(gradcalc, kind) -> None:
    # a FIFO blocked the reader forever and a link to /dev/zero read until MemoryError: only a
    # regular file of at most MAX_ENTRY_BYTES is read; anything else is a miss, rewritten
    first = gradcalc(SEED[0], "--at", SEED[1], "--format", "json")
    (path,) = _entries()
    path.unlink()
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "dev-zero":
        path.symlink_to("/dev/zero")
    else:
        path.mkdir()
    code = ("import sys\nfrom gradcalc.cli.main import main\n"
            "sys.exit(main(sys.argv[1:]))\n")
    proc = _python(code, SEED[0], "--at", SEED[1], "--format", "json")   # (a hang times out)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == first.out and "Error" not in proc.stderr
    if kind != "directory":
        assert path.is_file() and not path.is_symlink()   # rewritten as a regular entry


def test_an_entry_over_the_size_cap_is_ignored(gradcalc, monkeypatch) -> None:
    gradcalc(SEED[0], "--at", SEED[1])
    (path,) = _entries()
    monkeypatch.setattr(cache, "MAX_ENTRY_BYTES", path.stat().st_size - 1)
    names = ["a", "an", "o", "on", "tax"]
    key = cache.make_key(SEED[0], vectors.symbol_names(dict.fromkeys(names, 1.0)), names, None)
    assert cache.path_for(key) == path and cache.load(key) is None
    monkeypatch.setattr(cache, "MAX_ENTRY_BYTES", path.stat().st_size)
    assert cache.load(key) is not None
