"""Start-up: a script that calls gradcalc thousands of times feels every millisecond.

Scenarios (each against its baseline, run alternately in this run so both see the same load):
- `--no-check` call vs `python -c "import numpy, click"` (target <= 1.3x);
- checked call with SymPy (cache bypassed with --no-cache) vs `python -c "import numpy, sympy,
  click"` (target <= 1.3x);
- cached repeat call (derivatives from the disk cache, no SymPy) vs the `--no-check` call
  (target <= 1.5x).
The cache lives in a temporary XDG_CACHE_HOME, never the user's.
"""

from __future__ import annotations

import sys
import tempfile

import common
from common import Row, command_time, gradcalc_argv, paired_command_times, print_table

EXPR = "x^2"


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        common.ENV["XDG_CACHE_HOME"] = tmp
        py = sys.executable
        no_check, import_nc = paired_command_times(
            gradcalc_argv(EXPR, "--at", "x=3", "--no-check"), [py, "-c", "import numpy, click"])
        checked, import_nsc = paired_command_times(
            gradcalc_argv(EXPR, "--at", "x=3", "--no-cache"),
            [py, "-c", "import numpy, sympy, click"])
        command_time(gradcalc_argv(EXPR, "--at", "x=3"), repeats=1)  # fill the cache
        cached, no_check_again = paired_command_times(
            gradcalc_argv(EXPR, "--at", "x=4.5"), gradcalc_argv(EXPR, "--at", "x=3", "--no-check"))
        del common.ENV["XDG_CACHE_HOME"]
    print_table("start-up (wall time of one call)", [
        Row('gradcalc "x^2" --at x=3 --no-check', no_check, 'python -c "import numpy, click"',
            import_nc, "<= 1.3x"),
        Row('gradcalc "x^2" --at x=3 --no-cache (SymPy check)', checked,
            'python -c "import numpy, sympy, click"', import_nsc, "<= 1.3x"),
        Row('gradcalc "x^2" --at x=4.5 (cached derivatives)', cached, "the --no-check call",
            no_check_again, "<= 1.5x"),
    ])


if __name__ == "__main__":
    main()
