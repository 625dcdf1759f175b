"""Nothing recursive over the size of the user's input (issue 26 item 3): a sum of 100k terms, a
chain of 100k statements, a user function of 20k parameters called once and 100k nested calls
go through the default path (parse, engine, check, text and JSON) in a fresh interpreter with
Python's own recursion limit (1,000 frames) left as it is. The always-on tests run the 100k
inputs with --no-check (JSON) and check a twentieth of their size (text); `--slow` checks the
100k inputs in both formats. Values and partials are compared with the same functions computed
here in plain floats."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from collections.abc import Callable

import pytest

NAMES = ["a", "b", "c", "d", "e1"]
AT = {"a": 0.3, "b": 0.7, "c": 1.1, "d": -0.4, "e1": 0.9}
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}


def _sum(n: int) -> tuple[str, Callable[[dict[str, float]], float]]:
    pairs = [(NAMES[k % 5], NAMES[(k * 7 + 3) % 5]) for k in range(n)]
    return "+".join(f"{p}*{q}" for p, q in pairs), \
        lambda env: math.fsum(env[p] * env[q] for p, q in pairs)


def _chain(n: int) -> tuple[str, Callable[[dict[str, float]], float]]:
    def fn(env: dict[str, float]) -> float:
        t = env["a"]
        for k in range(1, n):
            t = t * env["b"] + env[NAMES[k % 5]]
        return t

    return "t=a\n" + "\n".join(f"t=t*b+{NAMES[k % 5]}" for k in range(1, n)), fn


def _wide_call(n: int) -> tuple[str, Callable[[dict[str, float]], float]]:
    args = [NAMES[k % 5] for k in range(n)]
    text = ("f(" + ",".join(f"u{k}" for k in range(n)) + ") = "
            + "+".join(f"u{k}*u{(k + 1) % n}" for k in range(n))
            + "\ns = f(" + ",".join(args) + ")")
    return text, lambda env: math.fsum(env[args[k]] * env[args[(k + 1) % n]] for k in range(n))


def _nested(n: int) -> tuple[str, Callable[[dict[str, float]], float]]:
    def fn(env: dict[str, float]) -> float:
        x = env["a"]
        for _ in range(n):
            x = math.sin(x)
        return x

    return "sin(" * n + "a" + ")" * n, fn


KINDS = {"sum": (_sum, 100_000), "chain": (_chain, 100_000),
         "wide call": (_wide_call, 20_000), "nesting": (_nested, 100_000)}


def _cli(text: str, *options: str, tmp_path) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "input.gc"
    path.write_text(text)
    at = ",".join(f"{k}={v}" for k, v in AT.items())
    probe = ("import sys; assert sys.getrecursionlimit() == 1000; "
             "from gradcalc.cli.main import main; sys.exit(main(sys.argv[1:]))")
    return subprocess.run([sys.executable, "-c", probe, "-f", str(path), "--at", at, *options],
                          capture_output=True, text=True, env=ENV, timeout=3600)


def _partials(fn: Callable[[dict[str, float]], float]) -> dict[str, float]:
    """Central differences of fn in plain floats (a step of 1e-6: about 8 digits)."""
    out = {}
    for name in NAMES:
        up, down = dict(AT), dict(AT)
        up[name] += 1e-6
        down[name] -= 1e-6
        out[name] = (fn(up) - fn(down)) / 2e-6
    return out


def _assert_right(obj: dict, fn: Callable[[dict[str, float]], float], checked: bool) -> None:
    assert obj["value"] == pytest.approx(fn(AT), rel=1e-9, abs=1e-12)
    for name, d in _partials(fn).items():
        g = obj["gradient"][name]
        assert (0.0 if g is None else g) == pytest.approx(d, rel=1e-5, abs=1e-6), name
    if checked:
        assert obj["check"]["status"] == "ok", obj["check"]
        assert {p["status"] for p in obj["check"]["partials"].values()} <= {"ok", "null"}


def _run(kind: str, n: int, checked: bool, formats: tuple[str, ...], tmp_path) -> None:
    make, _ = KINDS[kind]
    text, fn = make(n)
    options = ["--no-cache", "--check-timeout", "inf"] if checked else ["--no-check"]
    for fmt in formats:
        r = _cli(text, "--format", fmt, *options, tmp_path=tmp_path)
        assert r.returncode == 0, r.stderr[-2000:]
        assert "Traceback" not in r.stderr and "nested" not in r.stdout
        if fmt == "json":
            _assert_right(json.loads(r.stdout), fn, checked)
        else:
            assert r.stdout.startswith("value  ")
            assert not checked or "\ncheck: ok: " in r.stdout, r.stdout[-2000:]


@pytest.mark.parametrize("kind", list(KINDS))
def test_a_100k_input_runs_and_renders_under_the_default_recursion_limit(kind, tmp_path
                                                                          ) -> None:
    _run(kind, KINDS[kind][1], False, ("json",), tmp_path)


@pytest.mark.parametrize("kind", list(KINDS))
def test_a_5k_input_is_checked_under_the_default_recursion_limit(kind, tmp_path) -> None:
    _run(kind, KINDS[kind][1] // 20, True, ("text",), tmp_path)


@pytest.mark.parametrize("kind", list(KINDS))
def test_a_100k_input_is_checked_under_the_default_recursion_limit(kind, request,
                                                                   tmp_path) -> None:
    if not request.config.getoption("--slow"):
        pytest.skip("a 100k-term check takes a minute or more: run with --slow")
    _run(kind, KINDS[kind][1], True, ("json", "text"), tmp_path)
