"""The sandbox every symbolic computation runs in: a forked child process stopped at the call's
deadline (budget.Deadline, --check-timeout), so a computation that no work limit foresaw ends
in `skipped (time limit)` instead of a hang. Every phase of a check (conversion,
differentiation, compilation, evaluation) runs in the one child; the deadline is the call's,
handed down, never a fresh budget per phase.
"""

from __future__ import annotations

import os
import pickle
import sys
import time
from collections.abc import Callable
from typing import Any

from ..budget import Deadline


def run_with_budget(fn: Callable[[], Any], deadline: Deadline) -> tuple[str, Any]:
    """Run fn in a forked child stopped at the deadline: ("ok", result), ("timeout", None) - the
    deadline passed, or fn raised TimeoutError on noticing it - or ("error", message). Falls
    back to running in-process where fork is unavailable."""
    return start_with_budget(fn, deadline)()


def start_with_budget(fn: Callable[[], Any], deadline: Deadline
                      ) -> Callable[[], tuple[str, Any]]:
    """Start fn in a forked child now, stopped at the deadline, and return the function that
    waits for it and gives what run_with_budget gives (the parent can do other work, or start
    other children, meanwhile)."""
    import select  # imported where used: not on the --no-check path
    import signal

    if deadline.passed():
        return lambda: ("timeout", None)
    if not hasattr(os, "fork"):
        try:
            done: tuple[str, Any] = ("ok", fn())
        except TimeoutError:
            done = ("timeout", None)
        except RecursionError:
            done = ("error", "expression too deeply nested for SymPy")
        except Exception as exc:  # noqa: BLE001 - any SymPy failure becomes a verdict
            done = ("error", f"SymPy failed: {type(exc).__name__}")
        return lambda: done
    read_fd, write_fd = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    at = deadline.at
    pid = os.fork()
    if pid == 0:  # child
        os.close(read_fd)
        try:
            payload = pickle.dumps(("ok", fn()))
        except TimeoutError:
            payload = pickle.dumps(("timeout", None))
        except RecursionError:
            payload = pickle.dumps(("error", "expression too deeply nested for SymPy"))
        except BaseException as exc:  # noqa: BLE001
            payload = pickle.dumps(("error", f"SymPy failed: {type(exc).__name__}: {exc}"[:200]))
        try:
            with os.fdopen(write_fd, "wb") as w:
                w.write(payload)
        finally:   # never back into the caller: a parent gone (a broken pipe) ends it too
            os._exit(0)
    os.close(write_fd)

    def wait() -> tuple[str, Any]:
        chunks: list[bytes] = []
        try:
            while True:
                left = at - time.monotonic()
                if left <= 0:
                    return "timeout", None
                ready, _, _ = select.select([read_fd], [], [], min(left, 3600.0))
                if not ready:
                    continue  # an unbounded budget (inf) waits in steps the platform accepts
                chunk = os.read(read_fd, 1 << 16)
                if not chunk:
                    break
                chunks.append(chunk)
        finally:
            os.close(read_fd)
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            os.waitpid(pid, 0)
        if not chunks:
            return "error", "the symbolic check crashed"
        return pickle.loads(b"".join(chunks))

    return wait
