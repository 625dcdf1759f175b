"""What one gradcalc call computed and judged, for every renderer: the result model.

A `Result` holds, for one point, the run (value and gradient) with its check, and, when they
were asked for, the Jacobian rows (`--of y1,y2`), the Hessian, and the verification (`--expect`,
`--numeric`, `--claim`). For `--points` it holds the batch's columns and their check, or, when a
mode has no column-wise computation (`--hessian`, `--expect`, `--numeric`), one point result per
row. Renderers (render/text.py, json.py, csv.py) read it; none computes anything, and the exit
status comes from here, that is from `verdict.exit_status`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .verdict import Status, combine, exit_status

if TYPE_CHECKING:
    from ..engine.evaluate import Run
    from ..engine.higher import Hessian
    from ..lang.syntax import Program
    from .check import Check
    from .claims import Verification
    from .code import GradCheck
    from .higher import HessianCheck


def column_names(wrt: Sequence[str]) -> list[str]:
    """The contract's CSV columns of one output: value, then d_<name> per differentiated name
    (a vector component as d_w[0])."""
    return ["value"] + [f"d_{n}" for n in wrt]


def hessian_names(names: Sequence[str]) -> list[str]:
    """The Hessian's columns: h_<i>_<j> for every ordered pair, row-major."""
    return [f"h_{i}_{j}" for i in names for j in names]


def output_columns(output: str, wrt: Sequence[str]) -> list[str]:
    """One output's columns when a row holds several outputs (--of y1,y2 with --points): the
    output's name for its value, then d_<output>_<name> per partial."""
    return [output] + [f"d_{output}_{n}" for n in wrt]


@dataclass
class Result:
    """Everything one call computed and judged (None: not asked for, or did not run).

    run: the point's run (the last output's with several --of outputs); None for claims
    without --at and for --points. jacobian/checks: one run and one check per --of output.
    batch/batch_check: --points computed column-wise (batch.rows.Batch and BatchCheck).
    rows: --points in a mode computed point by point: one Result per row, in row order.
    code: --function with --grad, a gradient function judged (program is then None).
    problems: non-finite values, each naming where it first appeared (stderr).
    """

    program: Program
    of: str | None = None
    run: Run | None = None
    check: Check | None = None
    jacobian: list[Run] | None = None
    checks: list[Check] | None = None
    hessian: Hessian | None = None
    hessian_check: HessianCheck | None = None
    verification: Verification | None = None
    batch: Any = None
    batch_check: Any = None
    batches: list[tuple[str, Any, Any]] | None = None  # --points --of y1,y2: per output
    rows: list[Result] | None = None
    points: Any = None                                 # the --points columns (rows mode)
    dask: dict[str, Any] | None = None                 # --dask: what was written where
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)     # stderr notes, after the result
    formulas: list[str] | None = None                  # --symbolic: the gradient's formulas
    formulas_format: str | None = None                 # text, latex or python
    formulas_reason: str = ""                          # why there are none (SymPy's budget)
    steps: Any = None                                  # --steps: symbolic.steps.Steps
    code: GradCheck | None = None                      # --function with --grad

    @property
    def mode(self) -> str:
        """point, jacobian, hessian, claims (no point), batch (columns), rows (point by
        point over --points), dask, formulas (--symbolic), code (--function with --grad)."""
        if self.code is not None:
            return "code"
        if self.formulas_format is not None:
            return "formulas"
        if self.dask is not None:
            return "dask"
        if self.rows is not None:
            return "rows"
        if self.batch is not None or self.batches is not None:
            return "batch"
        if self.jacobian is not None:
            return "jacobian"
        if self.hessian is not None:
            return "hessian"
        if self.run is None:
            return "claims"
        return "point"

    def statuses(self) -> list[str]:
        """The status of every check that ran (first-order, Hessian, verification, batch,
        and those of every row)."""
        found = [c.status for c in (self.check, self.hessian_check, self.verification,
                                    self.batch_check, self.code) if c is not None]
        found += [c.status for c in self.checks or []]
        found += [c.status for _, _, c in self.batches or [] if c is not None]
        for row in self.rows or []:
            found += row.statuses()
        if self.formulas_reason:
            found.append(Status.SKIPPED)   # the formulas asked for could not be given
        return found

    def uncertified(self) -> bool:
        """Whether a verdict was decided without a proven enclosure (`not certified`), here or
        at any row."""
        checks = [self.check, *(self.checks or [])]
        if self.hessian_check is not None:
            checks.append(self.hessian_check.as_check())
        return any(c is not None and c.uncertified for c in checks) or any(
            c is not None and c.uncertified for c in (self.batch_check,
                                                      *(c for _, _, c in self.batches or []))
        ) or any(r.uncertified() for r in self.rows or [])

    def nonfinite(self) -> bool:
        """Whether a value or partial is not finite (here or at any row)."""
        return bool(self.problems) or any(r.nonfinite() for r in self.rows or [])

    def exit_status(self, strict: bool = False) -> int:
        """The process's exit status (verdict.exit_status of what was found; strict: a verdict
        that is not certified counts as not verified)."""
        return exit_status(self.statuses(), self.nonfinite(), uncertified=self.uncertified(),
                           strict=strict)


def jacobian_check(rows: Sequence[Run], checks: Sequence[Check]) -> Check:
    """The per-output checks as one Check, partials keyed d<output>/d<name>."""
    from .check import Check

    partials = {f"d{r.output_name}/d{n}": p for r, c in zip(rows, checks, strict=True)
                for n, p in c.partials.items()}
    status = combine(c.status for c in checks)
    value_status = combine(c.value_status for c in checks)
    reason = next((c.reason for c in checks if c.reason), "")
    first = checks[0] if checks else Check(Status.SKIPPED)
    return Check(status, partials, value_status=value_status, reason=reason, rtol=first.rtol,
                 atol=first.atol)
