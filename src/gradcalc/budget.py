"""What bounds the check's work.

A verdict must depend only on the input, so everything that bounds the check is a count that
is a function of the input (precision steps, sample points, expression sizes; each is defined
where it is used and listed in README "Limits of the check"). One wall-clock limit is kept as a
safety net: `--check-timeout`, one Deadline for the whole call, handed down to every phase
(never restarted per phase). When it passes, whatever it stopped is `skipped (time limit)`,
never any other verdict: TimeoutError is raised where work notices it and turned into that
verdict by whoever asked for the work.
"""

from __future__ import annotations

import math
import time

DEFAULT_SECONDS = 120.0   # --check-timeout: a safety net, far above any work limit's cost


class Deadline:
    """The moment (time.monotonic()) the call's checking must end: `seconds` after it starts,
    which is the first time anything asks (the first check, after the tape has run), so
    parsing and running the program do not eat into it. The same object is handed to every
    phase; a forked child inherits the moment its parent fixed."""

    __slots__ = ("seconds", "_at")

    def __init__(self, seconds: float = DEFAULT_SECONDS, at: float | None = None):
        self.seconds = seconds
        self._at = at

    @classmethod
    def start(cls, seconds: float = DEFAULT_SECONDS) -> Deadline:
        """The deadline `seconds` from now (inf: none)."""
        return cls(seconds).started()

    def started(self) -> Deadline:
        """This deadline, its clock started now if it had not started yet."""
        if self._at is None:
            self._at = time.monotonic() + self.seconds if math.isfinite(self.seconds) \
                else math.inf
        return self

    @property
    def at(self) -> float:
        """The moment itself (starting the clock if it had not started)."""
        return self.started()._at   # type: ignore[return-value]

    def left(self) -> float:
        """Seconds until the deadline (0 once it has passed)."""
        return max(0.0, self.at - time.monotonic())

    def passed(self) -> bool:
        """Whether the deadline has passed."""
        return time.monotonic() > self.at

    def check(self) -> None:
        """Raise TimeoutError once the deadline has passed."""
        if self.passed():
            raise TimeoutError

    def reason(self) -> str:
        """The reason of a verdict the deadline stopped (`skipped (time limit)`)."""
        return time_limit(self.seconds)


TIME_LIMIT = "time limit"   # how a reason starts when the deadline stopped the work


def time_limit(seconds: float) -> str:
    """The reason of a verdict that the call's one deadline (--check-timeout) stopped: worded
    without the option, as the Python API's caller never typed it."""
    return f"{TIME_LIMIT}: the {seconds:g} s for checking passed first"


def stopped(reason: str) -> bool:
    """Whether a verdict's reason says the time limit stopped it."""
    return reason.startswith(TIME_LIMIT)


def deadline_of(deadline: Deadline | None, seconds: float) -> Deadline:
    """The deadline handed down, or a new one of `seconds` for a caller that has none (the
    Python API, tests)."""
    return deadline if deadline is not None else Deadline.start(seconds)
