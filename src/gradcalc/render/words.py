"""The command line's wording of a message: each setting it names (errors.Setting) is written
as the option that gives it (`--at x=VALUE`, `--points data.csv`)."""

from __future__ import annotations

from ..errors import Setting

OPTIONS: dict[str, str] = {   # errors.SETTINGS key -> option (a test checks both tables)
    "at": "--at",
    "wrt": "--wrt",
    "of": "--of",
    "points": "--points",
    "expect": "--expect",
    "claim": "--claim",
    "numeric": "--numeric",
    "hessian": "--hessian",
    "symbolic": "--symbolic",
    "dask": "--dask",
    "output": "--output",
    "use": "--use",
    "keep": "--keep",
    "timeout": "--check-timeout",
    "no_check": "--no-check",
}


def option_words(setting: Setting) -> str:
    """A setting as typed on the command line: its option, then its example if any."""
    option = OPTIONS[setting.key]
    return f"{option} {setting.example}" if setting.example else option
