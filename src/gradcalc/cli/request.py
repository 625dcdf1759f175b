"""The request: what one gradcalc command asks for, read once from its options and handed down."""

from __future__ import annotations

from dataclasses import dataclass

from ..budget import Deadline
from ..errors import InputError


def names(value: str | None, option: str = "--wrt") -> list[str] | None:
    """The names of a comma-separated option value (None when the option is not given)."""
    if value is None:
        return None
    found = [n.strip() for n in value.split(",")]
    if not all(found):
        raise InputError(f"{option}: empty name in '{value}'")
    return found


# no generated __eq__ or __repr__: nothing compares or prints a request, and generating them
# for 30 fields is most of the cost of making the class, paid by every call (start-up)
@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class Request:
    """The parsed command line: the program's text or file, the bindings and the point or
    points, what to differentiate, what to verify and how, and how to write the result.

    Option values are kept as typed (`at`, `wrt`, `of` are texts); the properties read the
    name lists out of them, raising the option's error where it is first asked for."""

    expr: str | None                # EXPR ("-" reads stdin)
    file: str | None                # -f/--file
    at: tuple[str, ...]             # --at texts, in order
    wrt: str | None                 # --wrt NAME[,...]
    of: str | None                  # --of NAME[,...]
    fmt: str                        # text, json or csv (jsonl is json, written compact)
    show_tape: bool                 # --tape
    show_steps: bool                # --steps
    collapse: bool                  # --collapse
    check: bool                     # not --no-check
    rtol: float
    atol: float
    timeout: float                  # --check-timeout
    cache: bool                     # not --no-cache
    graph: str | None               # --graph FILE
    expect: tuple[str, ...]         # --expect texts
    claims: tuple[str, ...]         # --claim texts
    claims_file: str | None         # --claims PATH
    claim_points: int               # --claim-points
    numeric: bool                   # --numeric
    hessian: bool                   # --hessian
    symbolic: str | None            # --symbolic text|latex|python (lower case)
    points: str | None              # --points FILE
    output: str | None              # --output FILE
    dask: str | None                # --dask SCHEDULER
    use: str | None                 # --use COLS
    keep: str | None                # --keep COLS
    function: str | None            # --function FILE.py:NAME
    gradient: str | None            # --grad FILE.py:NAME
    search_points: int              # --search-points
    deadline: Deadline              # the call's one deadline (--check-timeout)
    strict: bool                    # --strict: not certified is not verified either

    @property
    def outputs(self) -> list[str] | None:
        """The names --of gives, or None without --of."""
        return names(self.of, "--of")

    @property
    def several(self) -> bool:
        """Whether --of names several outputs (a Jacobian)."""
        outputs = self.outputs
        return outputs is not None and len(outputs) > 1

    @property
    def output_name(self) -> str | None:
        """The one output --of names, or None (the program's output, or several)."""
        outputs = self.outputs
        return None if outputs is None or len(outputs) > 1 else outputs[0]

    @property
    def jacobian_outputs(self) -> list[str] | None:
        """The outputs of a Jacobian (several --of names), else None."""
        return self.outputs if self.several else None

    @property
    def wrt_names(self) -> list[str] | None:
        """The names --wrt gives, or None (every bound name)."""
        return names(self.wrt)

    @property
    def has_claims(self) -> bool:
        """Whether --claim or --claims is given."""
        return bool(self.claims) or self.claims_file is not None

    @property
    def pointwise(self) -> bool:
        """Whether --points is judged row by row as at one point (--hessian, --expect,
        --numeric), not column-wise."""
        return self.hessian or bool(self.expect) or self.numeric

