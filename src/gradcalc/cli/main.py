"""The gradcalc command: reads options, calls the engine, renders, chooses the exit status."""

from __future__ import annotations

import gc
import os
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import click

from ..budget import Deadline
from ..engine import vectors
from ..engine.evaluate import Run, nonfinite, parse_bindings, run
from ..engine.program import parse_flat
from ..errors import InputError, capped
from ..judge.check import DEFAULT_ATOL, DEFAULT_RTOL, DEFAULT_TIMEOUT, check
from ..judge.result import Result
from ..lang.syntax import check_inf
from ..version import __version__
from . import usage
from .request import Request, names

if TYPE_CHECKING:
    from ..judge.claims import Claim
    from ..lang.syntax import Program

# The verification and graph modules are imported only when their options are used: a script
# calling gradcalc thousands of times pays for what it uses (python -X importtime).
CLAIM_POINTS = 100  # the default of --claim-points: verify.CLAIM_POINTS (a test checks)

# --points with --hessian, --expect or --numeric judges each row as at one point (about 0.05 s
# a row, 0.6 s with --hessian's check): at most this many rows, so a big file is an error, not
# hours of work
POINTWISE_ROWS = 10_000
EXIT_OK, EXIT_INPUT = 0, 2   # the other statuses are the judge's (judge.exit_status)
FORMATS = ["text", "json", "jsonl", "csv"]
COLORS = ["auto", "always", "never"]


def _read_source(expr: str | None, file: str | None) -> str:
    if file is not None and expr is not None:
        raise click.UsageError("give either EXPR or --file, not both")
    if file == "-":
        return _read_stdin()
    if file is not None:
        try:
            with open(file, "rb") as fh:
                return _decode(fh.read(), file)
        except OSError as exc:
            raise InputError(f"cannot read {file}: {exc.strerror}") from None
    if expr is None:
        raise click.UsageError("missing EXPR (an expression, a program, or - for stdin); "
                               "gradcalc -h shows the options and examples")
    if expr == "-":
        return _read_stdin()
    return expr


def _read_stdin() -> str:
    data = sys.stdin.buffer.read() if hasattr(sys.stdin, "buffer") else sys.stdin.read()
    return _decode(data, "stdin")


def _decode(data: bytes | str, where: str) -> str:
    if isinstance(data, str):
        return data
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"cannot read {where}: not UTF-8 text (byte {exc.start + 1})") from None


def _positive(ctx: click.Context, param: click.Parameter, value: float) -> float:
    if not value >= 0 or value != value:
        raise click.BadParameter("must be a non-negative number")
    return value


def _complete_path(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """Tab after an option that takes a path: the shell's file names (cli/complete.py)."""
    from . import complete

    return complete.path(ctx, param, incomplete)


def _complete_at(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """Tab after `--at NAME=@`: the file names there (cli/complete.py)."""
    from . import complete

    return complete.at_file(ctx, param, incomplete)


@click.command(
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog="""\b
Examples:
  gradcalc "tax*(a*an+o*on)" --at a=100,an=2,o=150,on=3,tax=1.1
  gradcalc "x^2" --at x=5 --format json
  gradcalc "sin(x)*y" --at x=pi/4 --at y=2 --wrt x --tape
  gradcalc "c = a*b; d = c + sin(a)" --at a=1,b=2 --format csv
  echo "exp(-x^2)" | gradcalc - --at x=0.5
  gradcalc "sq(t) = t*t; loss = sum(sq(w*x - y))" --at "w=[0.5,-1],x=[1,2],y=[1,0]"
  gradcalc "-x^3" --at x=2         (an EXPR may start with '-')
  gradcalc "x*abs(x)" --claim "x: 2*abs(x)"          (a hand-derived formula, no --at)
  gradcalc "a*b" --at a=2,b=3 --expect a=3,b=2 --numeric
  printf 'x,y\\n1,2\\n3,4\\n' | gradcalc "x*sin(y)" --points - --format csv
  printf 'x,y\\n1,2\\n3,4\\n' | gradcalc "x^2*y" --points - --hessian --format csv
  gradcalc "(1-x)^2 + 100*(y-x^2)^2" --at x=1.5,y=0.7 --hessian
  gradcalc "sum((X@w-y)^2)" --at "X=[[1,2],[3,4]],w=[1,2],y=[0,1]" \\
    --claim "w: 2*transpose(X)@(X@w-y)"
  gradcalc "logdet(A)" --at A=@A.npy --symbolic latex
  gradcalc "r = hypot(x, y); t = atan2(y, x)" --at x=1,y=2 --of r,t
  gradcalc --function loss.py:loss --grad loss.py:grad_loss --at "w=[0.5,-1]" \\
    --at X=@X.npy --wrt w          (your Python code: loss.py is imported and run)

\b
Exit status: 0 everything asked was verified (or --no-check), 1 a check disagrees (or your
--expect/--claim), 2 bad input, 3 a value or partial is not finite (stderr names the tape
node), 4 nothing disagrees but something could not be verified (a partial undefined, a check
skipped, a claim undecided; with --strict also a verdict not certified).
""",
)
@click.argument("words", nargs=-1, metavar="EXPR")
@click.option("--at", "at", multiple=True, metavar="NAME=VALUE[,...]",
              shell_complete=_complete_at,
              help="Bind names; repeatable. VALUE is a number, a constant expression (pi/4), "
                   "a vector [v1,v2,...], a matrix [[1,2],[3,4]], or @FILE (a .npy file or a "
                   "headerless .csv of numbers, one matrix row per line).")
@click.option("--wrt", metavar="NAME[,...]",
              help="Differentiate with respect to these names (default: every bound name).")
@click.option("--of", "of", metavar="NAME[,...]",
              help="Differentiate this assigned name instead of the program's output; several "
                   "names give the Jacobian (one gradient row per output).")
@click.option("--format", "fmt", type=click.Choice(FORMATS, case_sensitive=False),
              default="text", show_default=True,
              help="Output format; jsonl is the json object on one line.")
@click.option("-q", "--quiet", is_flag=True,
              help="Print nothing on stdout: the exit status is the answer (errors still go "
                   "to stderr).")
@click.option("--tape", "show_tape", is_flag=True, help="Also show the recorded tape.")
@click.option("--steps", "show_steps", is_flag=True,
              help="Also write out the backward pass node by node: each operation, its local "
                   "derivatives, and the adjoint it receives as a formula and as the tape's "
                   "numbers.")
@click.option("--collapse", is_flag=True,
              help="With --tape, --graph or --steps: show each call of a program's function as "
                   "one row.")
@click.option("--no-check", is_flag=True, help="Skip the SymPy cross-check.")
@click.option("--rtol", type=float, default=DEFAULT_RTOL, show_default=True,
              callback=_positive,
              help="Relative tolerance of every verdict: ok when |tape - true| <= "
                   "RTOL*|true| + max(ATOL, floor) for every value the true derivative's "
                   "proven enclosure allows (docs/verdicts.md: How the verdict is decided).")
@click.option("--atol", type=float, default=DEFAULT_ATOL, show_default=True,
              callback=_positive,
              help="Absolute floor of the tolerance; the default 0 leaves the floor "
                   "derived from the backward pass's magnitudes.")
@click.option("--check-timeout", type=float, default=DEFAULT_TIMEOUT, show_default=True,
              callback=_positive, metavar="SECONDS",
              help="One wall-clock limit for all the checking of the call (SymPy, the "
                   "interval reference, --numeric, every claim, Hessian and row), from when "
                   "the checking starts: a safety net, since the check's work is bounded by "
                   "counts; what it stops is skipped (time limit).")
@click.option("--strict", is_flag=True,
              help="Also exit 4 when a verdict is not certified (decided without a proven "
                   "enclosure).")
@click.option("-f", "--file", "file", type=str, metavar="PATH", shell_complete=_complete_path,
              help="Read the expression or program from a file (- for stdin).")
@click.option("--points", metavar="FILE", shell_complete=_complete_path,
              help="Evaluate at every row of a CSV file with a header (- for stdin; ',', ';' "
                   "or tab separated), a .parquet/.pq file, or every such file of a directory "
                   "or glob; --at values are the same for every row. Columns named like a "
                   "name the program reads bind it, the others are kept (see --use, --keep). "
                   "One output row per point, columns named as at one point; "
                   "combines with --of y1,y2 (columns y1,d_y1_x,...), --hessian, --expect "
                   "and --numeric (each row judged as with --at at its bindings).")
@click.option("--output", "output", metavar="FILE", shell_complete=_complete_path,
              help="With --points: write the kept columns, value and partials to FILE, Parquet for "
                   ".parquet/.pq, else CSV (instead of the CSV on stdout).")
@click.option("--dask", "dask", metavar="SCHEDULER",
              help="With --points FILES --output DIR: run the batch on Dask, one part file per "
                   "input file; SCHEDULER is local (a LocalCluster), threads, processes, sync, "
                   "or a scheduler address such as tcp://host:8786. Needs the dask extra "
                   "(pip install -e '.[dask]' in the checkout).")
@click.option("--no-cache", is_flag=True,
              help="Neither read nor write the disk cache of symbolic derivatives.")
@click.option("--graph", "graph", metavar="FILE", shell_complete=_complete_path,
              help="Write the computation graph (op, value, adjoint per node): .svg or .html "
                   "(drawn without Graphviz), .dot/.gv, .mmd Mermaid, .png/.pdf (need dot).")
@click.option("--expect", multiple=True, metavar="NAME=VALUE[,...]",
              help="Your values of the partials at the --at point; compared with tape and "
              "symbolic (and numeric). Repeatable.")
@click.option("--claim", "claims", multiple=True, metavar="'NAME: FORMULA'",
              help="Your formula for d/dNAME, checked against the true derivative everywhere "
              "(random points, then simplification). Repeatable; works without --at.")
@click.option("--claims", "claims_file", metavar="PATH", shell_complete=_complete_path,
              help="Read claims from a file, one 'NAME: FORMULA' per line (# comments).")
@click.option("--claim-points", type=click.IntRange(1, 10_000), default=CLAIM_POINTS,
              show_default=True, metavar="N", help="Random points per claim.")
@click.option("--numeric", is_flag=True,
              help="Add a numeric third opinion: complex step, or central differences with "
              "Richardson extrapolation, each with an error estimate.")
@click.option("--hessian", is_flag=True,
              help="Also compute the Hessian (second partials), checked against SymPy.")
@click.option("--symbolic", "symbolic", type=click.Choice(["text", "latex", "python"],
                                                          case_sensitive=False),
              help="Print only the symbolic gradient (matrix notation where SymPy's matrix "
                   "calculus gives it), as text, LaTeX or a Python module of numpy functions; "
                   "without --at for a program of scalars.")
@click.option("--color", "--colour", "color", type=click.Choice(COLORS, case_sensitive=False),
              default="auto", show_default=True,
              help="Colour the verdict words and 'error:': auto (on a terminal, unless "
                   "NO_COLOR is set or FORCE_COLOR asks for it), always, never.")
@click.option("--use", "use", metavar="COLS",
              help="With --points: the columns that bind names (default: every column "
                   "named like a name the program reads).")
@click.option("--keep", "keep", metavar="COLS",
              help="With --points: the columns copied to the output before the value, in "
                   "this order (default: every column that binds no name, such as an id or "
                   "a label; --keep '' keeps none).")
@click.option("--function", "function", metavar="FILE.py:NAME",
              help="Check Python gradient code instead of an expression: the function NAME "
                   "of FILE.py (your own code: that file is imported as Python; nothing else "
                   "is), its parameters bound by name with --at; needs --grad.")
@click.option("--grad", "gradient", metavar="FILE.py:NAME",
              help="With --function: your gradient function, called with the same arguments, "
                   "returning an array of each --wrt argument's shape (a tuple for several); "
                   "judged component by component, then at random points.")
@click.option("--search-points", type=click.IntRange(0, 10_000), default=20,
              show_default=True, metavar="N",
              help="With --grad: random points judged after the --at point (0: only it).")
@click.version_option(__version__, "--version", prog_name="gradcalc")
def command(words: Sequence[str], at: Sequence[str], wrt: str | None, of: str | None,
            fmt: str, quiet: bool, show_tape: bool, collapse: bool, no_check: bool,
            rtol: float, atol: float,
            check_timeout: float, file: str | None, graph: str | None, expect: Sequence[str],
            claims: Sequence[str], claims_file: str | None, claim_points: int,
            numeric: bool, points: str | None, no_cache: bool, hessian: bool,
            output: str | None, dask: str | None, symbolic: str | None, color: str,
            use: str | None, keep: str | None, show_steps: bool = False,
            function: str | None = None, gradient: str | None = None,
            search_points: int = 20, strict: bool = False) -> int:
    """Compute EXPR and every partial derivative on a reverse-mode tape, and cross-check
    each partial against SymPy's symbolic derivative.

    EXPR is an expression or a program (statements separated by newlines or ';'); use - to
    read it from stdin.
    """
    moved = (click.get_current_context().obj or {}).get("moved", [])
    for word in moved:
        usage.dash_expression(word, None if len(words) > 1 else _bound_names(at), command)
    if len(words) > 1:
        usage.extra_words(words, at, wrt)
    expr = words[0] if words else None
    usage.bindings_text(at)
    fmt = fmt.lower()
    if fmt == "jsonl":
        fmt, _OUT.compact = "json", True
    _OUT.color = color.lower()
    _OUT.colour = not quiet and _colour(sys.stdout)
    if quiet:
        sys.stdout = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 (main closes it)
    request = Request(
        expr=expr, file=file, at=tuple(at), wrt=wrt, of=of, fmt=fmt, show_tape=show_tape,
        show_steps=show_steps,
        collapse=collapse, check=not no_check, rtol=rtol, atol=atol, timeout=check_timeout,
        deadline=Deadline(check_timeout), strict=strict,
        cache=not no_cache, graph=graph, expect=tuple(expect), claims=tuple(claims),
        claims_file=claims_file, claim_points=claim_points, numeric=numeric, hessian=hessian,
        symbolic=None if symbolic is None else symbolic.lower(), points=points, output=output,
        dask=dask, use=use, keep=keep, function=function, gradient=gradient,
        search_points=search_points)
    try:
        if function is not None or gradient is not None:
            return _code(request)
        return _command(request)
    except BrokenPipeError:  # caught here: click would turn it into exit status 1
        _quiet_pipe()
        return EXIT_OK


class _Output:
    """How results are written: compact JSON (--format jsonl), colour on a terminal."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Plain output: indented JSON, no colour; no result kept."""
        self.compact = False
        self.colour = False
        self.color = "auto"   # --color
        # the last result rendered, kept alive until the next call or the end of the process:
        # entry() ends the process without freeing it (a 100k-node tape and its syntax tree
        # take about 0.2 s to free, a fifth of such a call)
        self.result: Result | None = None


_OUT = _Output()
_ONE_SHOT = [False]  # run by entry(): one command, then the process ends


def _colour(stream: object) -> bool:
    """Whether to colour what goes to this stream; the first that speaks decides, in
    CPython's order: --color always/never, then NO_COLOR set and not empty
    (https://no-color.org), then FORCE_COLOR set and not empty (https://force-color.org),
    then TERM=dumb (no colour), then whether the stream is a terminal."""
    if _OUT.color != "auto":
        return _OUT.color == "always"
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    if os.environ.get("TERM") == "dumb":
        return False
    try:
        return bool(stream.isatty())  # type: ignore[attr-defined]
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


def _bound_names(at: Sequence[str]) -> set[str]:
    """The names --at binds, read loosely (only to tell `-x` the expression from an option)."""
    names = set()
    for value in at:
        for piece in usage.top_level(value):
            name, eq, _ = piece.partition("=")
            if eq:
                names.add(name.strip())
    return names


def _emit(document: str) -> None:
    """Write a rendered result to stdout."""
    click.echo(document, nl=False, color=_OUT.colour)  # click strips colour off a terminal


def _command(req: Request) -> int:
    """The command, once the command line's words are understood: compute the result, render
    it in the chosen format, and return its exit status."""
    if req.points == "-" and (req.expr == "-" or req.file == "-"):
        raise click.UsageError("EXPR and --points cannot both read stdin")
    source = _read_source(req.expr, req.file)
    bindings = parse_bindings(req.at)
    outputs = req.outputs
    several = req.several
    if several and req.hessian:
        raise InputError(f"--hessian needs a single output, but --of names {len(outputs or ())}")
    if req.output is not None and req.points is None:
        raise click.UsageError("--output needs --points (it writes the table of a batch)")
    if req.dask is not None and req.points is None:
        raise click.UsageError("--dask needs --points (it distributes a batch)")
    for option, given in (("--use", req.use), ("--keep", req.keep)):
        if given is not None and req.points is None:
            raise click.UsageError(f"{option} needs --points (it chooses columns of a table)")
    if (several or req.hessian) and (req.expect or req.numeric or req.has_claims):
        raise click.UsageError("--expect, --claim and --numeric check one gradient: not with "
                               + ("--hessian" if req.hessian else "several --of outputs"))
    if req.points is not None and req.symbolic is not None:
        raise click.UsageError("--symbolic prints the gradient's formulas, the same at every "
                               "point: give it without --points")
    if req.show_steps:
        _steps_usage(req)
    if req.points is not None:
        _points_usage(req)
        program = _parse(source, req.file)
        return _finish(_points(program, req, bindings), req)
    if req.graph is not None:
        from ..render import figure

        figure.plan(req.graph)
    claim_list: list[Claim] = []
    if req.has_claims:
        from ..judge.claims import parse_claims
        claim_list = parse_claims(req.claims, *_read_claims(req.claims_file))
    if not req.at and (req.expect or req.numeric):
        raise click.UsageError(f"{'--expect' if req.expect else '--numeric'} needs a point: "
                               "give --at")
    of = req.output_name
    if req.symbolic is not None and not req.at:  # scalar formulas need no point, as claims do not
        _symbolic_usage(req, claim_list)
        from ..judge.matrix import symbolic_without_point

        program = _parse(source, req.file)
        lines, reason = symbolic_without_point(program, req.wrt_names, req.symbolic, of,
                                               req.deadline)
        return _finish(Result(program, of, formulas=lines, formulas_format=req.symbolic,
                              formulas_reason=reason), req)
    if claim_list and not req.at:
        if req.graph is not None:
            raise click.UsageError("--graph needs --at (claims without a point have no tape)")
        program = _parse(source, None)
        check_inf(program)  # (no bindings: inf can only be norm's order)
        if req.fmt == "csv":
            raise click.UsageError("--format csv needs --at (claims without a point have no "
                                   "row)")
        from ..judge.claims import verify_claims_only

        ver = verify_claims_only(program, claim_list, req.rtol, req.atol, of=of,
                                 points=req.claim_points, deadline=req.deadline)
        return _finish(Result(program, of, verification=ver), req)
    with _held():
        program = _parse(source, req.file)
        try:
            first = run(program, bindings, req.wrt_names, of)
        except InputError as exc:
            raise usage.refine(exc.with_source(source), source, req.file is not None, program,
                               bindings) from None
    for warning in first.warnings:
        click.echo(warning, err=True)
    if req.symbolic is not None:
        _symbolic_usage(req, claim_list)
        from ..judge.matrix import symbolic_gradient
        lines, reason = symbolic_gradient(first.program, first.bindings, first.wrt,
                                          first.gradient(), req.symbolic, of, req.deadline)
        return _finish(Result(first.program, of, run=first, formulas=lines,
                              formulas_format=req.symbolic, formulas_reason=reason), req)
    steps = None
    if req.show_steps:   # the formulas are derived in a child while the check runs
        from ..symbolic.steps import begin
        steps = begin(first, req.collapse, req.deadline, req.cache)
    result = _at_point(first, req, claim_list, steps)
    result.steps = None if steps is None else steps.complete()
    if steps is not None and req.fmt == "csv":
        click.echo("note: --steps is shown only in text and json formats", err=True)
    return _finish(result, req)


def _steps_usage(req: Request) -> None:
    """The combinations --steps refuses, each with its reason."""
    if req.points is not None:
        raise click.UsageError("--steps writes out the backward pass at one point: give --at, "
                               "not --points")
    if req.several or req.hessian or req.symbolic is not None:
        raise click.UsageError("--steps writes out one first-order backward pass: not with "
                               + ("--hessian" if req.hessian else "several --of outputs"
                                  if req.several else "--symbolic"))
    if not req.at and req.has_claims:
        raise click.UsageError("--steps needs a point: give --at (claims without one have no "
                               "tape to write out)")


def _symbolic_usage(req: Request, claims: Sequence[Any]) -> None:
    """The options --symbolic does not combine with, each refused with its reason."""
    if (req.several or req.hessian or req.graph is not None or req.expect or claims
            or req.numeric):
        raise click.UsageError("--symbolic prints the gradient's formulas only: not with "
                               "--hessian, several --of outputs, --graph, --expect, "
                               "--claim or --numeric")
    if req.fmt == "csv":
        raise click.UsageError("--symbolic prints formulas, which have no CSV columns: "
                               "use --format text or json")


@contextmanager
def _held() -> Iterator[None]:
    """In a one-shot process (entry()), the objects made inside the block are moved out of the
    cyclic garbage collector's sight when it ends: the syntax tree and the tape are O(n)
    objects with no cycles that live until the process ends, and the collector's full scans of
    them cost a tenth of a second at 100k nodes. Elsewhere (tests, library use) a no-op."""
    if not _ONE_SHOT[0]:
        yield
        return
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if was:
            gc.enable()


def _at_point(first: Run, req: Request, claim_list: Sequence[Claim] = (),
              steps: Any = None) -> Result:
    """Everything asked at one point: the check, the Jacobian rows (several outputs), the
    Hessian, the verification; --graph is written on the way."""
    outputs, of = req.jacobian_outputs, req.output_name
    graph, hessian, deadline = req.graph, req.hessian, req.deadline
    if outputs is not None:
        from ..engine.higher import jacobian
        from ..judge import higher

        rows = jacobian(first, outputs)
        checks = None if not req.check else higher.check_all(rows, req.rtol, req.atol,
                                                             cache=req.cache, deadline=deadline)
        if graph is not None:
            from ..render import figure

            figure.write(rows[-1], graph)
        return Result(first.program, jacobian=rows, checks=checks, run=rows[-1],
                      problems=[f"{r.output_name}: {m}" for r in rows for m in nonfinite(r)])
    result = Result(first.program, of, run=first, problems=nonfinite(first))
    if hessian:
        from ..engine.higher import hessian as hessian_of

        result.hessian = hessian_of(first)
        result.problems += result.hessian.nonfinite
    result.check = None if not req.check else check(first, req.rtol, req.atol, of=of,
                                                    cache=req.cache, deadline=deadline)
    if result.check is not None and not hessian and any(
            vectors.length(first.bindings[n]) for n in first.wrt):
        from ..judge.matrix import add_matrix_notation
        add_matrix_notation(first, result.check, of, deadline)
    if graph is not None:
        from ..render import figure

        figure.write(first, graph, req.collapse and not hessian,
                     None if steps is None else steps.complete())
    if hessian:
        from ..judge import higher

        assert result.hessian is not None
        result.hessian_check = None if not req.check else higher.check_hessian(
            first, result.hessian, req.rtol, req.atol, of=of, deadline=deadline)
    if req.expect or req.numeric or claim_list:
        from ..judge.claims import parse_expect, verify

        if claim_list and not req.expect and not req.numeric and any(
                vectors.length(v) for v in first.bindings.values()):
            from ..judge import matrix  # claims in vector and matrix notation
            result.verification = matrix.verify(first, claim_list, req.rtol, req.atol, of=of,
                                                points=req.claim_points, deadline=deadline)
        else:
            result.verification = verify(first, result.check,
                                         parse_expect(req.expect, first.wrt), req.numeric,
                                         claim_list, req.rtol, req.atol, of=of,
                                         points=req.claim_points, deadline=deadline)
    return result


def _code(req: Request) -> int:
    """--function with --grad: a gradient function judged (cli/code.py)."""
    others = [name for name, given in (
        ("--of", req.of), ("--points", req.points), ("--hessian", req.hessian),
        ("--claim", req.claims or req.claims_file), ("--expect", req.expect),
        ("--numeric", req.numeric), ("--symbolic", req.symbolic), ("--graph", req.graph),
        ("--tape", req.show_tape), ("--no-check", not req.check), ("--steps", req.show_steps),
        ("--use", req.use), ("--keep", req.keep)) if given]
    if others:
        raise click.UsageError(f"{others[0]} is not for --function and --grad, which "
                               "judge your gradient function at --at and at random "
                               "points")
    if req.function is None or req.gradient is None:
        raise click.UsageError("--function and --grad go together: the function and your "
                               "gradient of it, e.g. --function loss.py:loss --grad "
                               "loss.py:grad_loss")
    if req.expr is not None or req.file is not None:
        raise click.UsageError("--function checks Python code, not an expression: give no "
                               "EXPR or --file")
    from .code import run_code

    result = run_code(req.function, req.gradient, req.at, req.wrt_names, req.rtol, req.atol,
                      req.search_points, req.search_points > 0)
    return _finish(result, replace(req, collapse=False))


def _points_usage(req: Request) -> None:
    """The --points combinations that make no sense, each refused with its reason."""
    if req.graph is not None:
        raise click.UsageError("--graph draws the tape at one point, and --points has many: "
                               "draw one row with --at instead")
    if req.has_claims:
        raise click.UsageError("--claim and --claims are about the whole function, not about "
                               "points: give them without --points")
    if req.dask is not None and (req.pointwise or req.several):
        raise click.UsageError("--dask distributes the value and gradient of one output; "
                               "--hessian, --expect, --numeric and several --of outputs run "
                               "without --dask")
    if req.output is not None and req.pointwise and req.output.lower().endswith(
            (".parquet", ".pq")):
        raise click.UsageError("--output as Parquet holds the column-wise batch; with "
                               "--hessian, --expect or --numeric write a .csv file")


def _choice(program: Program, req: Request) -> Any:
    """--use and --keep: which columns of the --points table bind names, which are kept."""
    from ..batch.rows import Choice, program_reads

    keep = req.keep
    if keep is not None and req.dask is not None:
        raise click.UsageError("--keep with --dask: the part files hold the value and "
                               "partials only; run without --dask to keep columns")
    kept = None if keep is None else tuple(names(keep, "--keep") or ()) if keep.strip() \
        else ()
    return Choice(program_reads(program), None if req.use is None else tuple(
        names(req.use, "--use") or ()), kept)


def _points(program: Program, req: Request, bindings: dict[str, Any]) -> Result:
    """--points FILE: the value and partials at every row (columns replayed on the tape), or
    with --hessian, --expect or --numeric everything asked at one point, row by row.

    Nothing is written to stdout before the whole file has been read and computed, so bad
    input leaves no partial output."""
    from ..batch import rows as batch
    from ..progress import Ticking
    from ..render import csv as csvr

    assert req.points is not None
    wrt, of, outputs = req.wrt_names, req.output_name, req.jacobian_outputs
    choice = _choice(program, req)
    if req.dask is not None:
        from ..batch.cluster import Checking, run_dask

        checking = Checking(req.rtol, req.atol, req.deadline, req.cache) if req.check else None
        summary, chk, problems = run_dask(program, req.points, bindings, wrt, of, req.dask,
                                          req.output, choice, checking)
        return Result(program, of, dask=summary, batch_check=chk, problems=problems)
    if req.output is not None:
        csvr.writable(req.output)
    pts = batch.read_points(req.points, choice=choice)
    if req.pointwise:
        return _pointwise(program, pts, req, bindings)
    parts = []
    problems: list[str] = []
    for name in outputs or [of]:
        try:
            b = batch.run_batch(program, pts, bindings, wrt, name)
        except InputError as exc:
            raise exc.with_source(program.source) from None
        for warning in b.warnings if not parts else []:
            click.echo(warning, err=True)
        from ..judge.result import column_names, output_columns

        _clash(pts, column_names(b.wrt) if outputs is None else output_columns(name, b.wrt))
        chk = None
        if req.check:
            with Ticking("checking", req.deadline.left()):
                chk = batch.check_batch(b, req.rtol, req.atol, of=name, use_cache=req.cache,
                                        deadline=req.deadline)
        parts.append((name, b, chk))
        found = batch.nonfinite_rows(b, name)
        problems += [f"{name}: {m}" for m in found] if outputs else found
    if outputs is not None:
        return Result(program, batches=parts, problems=problems)
    _, b, chk = parts[0]
    return Result(program, of, batch=b, batch_check=chk, problems=problems)


def _clash(pts: Any, columns: Sequence[str]) -> None:
    """A kept column may not share its name with a column of the output."""
    for name in pts.kept:
        if name in columns:
            raise InputError(f"--points {pts.where}: the column '{name}' would be kept beside "
                             f"an output column of the same name",
                             hint="leave it out with --keep (e.g. --keep '')")


def _pointwise(program: Program, pts: Any, req: Request, bindings: dict[str, Any]) -> Result:
    """--points with --hessian, --expect or --numeric: at each row, what the one-point call
    at that row's bindings computes and judges (all rows before the call's one deadline)."""
    from ..progress import Progress

    if pts.n > POINTWISE_ROWS:
        raise InputError(f"--points {pts.where} has {pts.n:,} rows, but --hessian, --expect "
                         f"and --numeric judge each row as at one point: at most "
                         f"{POINTWISE_ROWS:,} rows",
                         hint="split the file, or leave the option out for the column-wise "
                              "batch")
    from ..batch.rows import check_bindings

    check_bindings(program, pts, bindings)
    wrt, of = req.wrt_names, req.output_name
    rows: list[Result] = []
    problems: list[str] = []
    bad = 0
    from ..symbolic.derivatives import remembering

    # each row derives nothing SymPy derived for an earlier row, cache or no cache
    with Progress("rows", pts.n) as bar, remembering():
        for k in range(pts.n):
            at = {**{n: float(pts.columns[n][k]) for n in pts.names}, **bindings}
            try:
                first = run(program, at, wrt, of)
            except InputError as exc:
                raise exc.with_source(program.source) from None
            for warning in first.warnings if k == 0 else []:
                click.echo(warning, err=True)
            row = _at_point(first, req)
            if k == 0:
                from ..render.csv import row_columns

                _clash(pts, row_columns(row))
            if row.problems:
                bad += 1
                if not problems:
                    where = pts.at_row(k)
                    problems = [f"{where}: {m}" for m in row.problems]
            row.problems = []  # named once, by the whole result
            rows.append(row)
            bar.update(1)
    if bad > 1:
        problems[0] += f" ({bad - 1} more row{'s' if bad != 2 else ''} not finite)"
    return Result(program, of, rows=rows, points=pts, problems=problems)


def _parse(source: str, file: str | None) -> Program:
    """The program, or its syntax error with the shell-level cause where there is one."""
    try:
        return parse_flat(source)
    except InputError as exc:
        raise usage.refine(exc.with_source(source), source, file is not None) from None


def _finish(result: Result, req: Request) -> int:
    """Render the result in its format, write the notes it owes on stderr, name each
    non-finite value; the exit status is the result's (judge.verdict.exit_status)."""
    fmt, show_tape, collapse, output = req.fmt, req.show_tape, req.collapse, req.output
    _OUT.result = result
    mode = result.mode
    if output is not None and mode in ("batch", "rows"):
        _write_output(result, output)
    if fmt == "json":
        from ..render import json as jsonr

        if _OUT.compact and mode in ("batch", "rows"):  # jsonl: one object per row
            jsonr.write_lines(result, sys.stdout)
        elif mode == "batch":   # written as it is made: its arrays can be long
            jsonr.write_batch(result, sys.stdout)
        else:
            _emit(jsonr.render(result, show_tape, _OUT.compact))
    elif fmt == "csv":
        from ..render import csv as csvr

        if mode == "batch":
            if output is None:
                csvr.write(result, sys.stdout)
        elif mode != "dask" and (output is None or mode != "rows"):
            _emit(csvr.render(result))
    else:
        from ..render import text as textr

        _emit(textr.render(result, show_tape, collapse, colour=_OUT.colour))
    sys.stdout.flush()
    if show_tape and mode in ("batch", "rows", "dask"):
        click.echo("note: --tape is not shown with --points", err=True)
    elif show_tape and fmt == "csv":
        click.echo("note: --tape is shown only in text and json formats", err=True)
    if result.verification is not None and fmt == "csv":
        from ..render import text as textr

        click.echo(textr.verify_summary(result.verification), err=True)
    if (collapse and not show_tape and req.graph is None and mode == "point"
            and result.steps is None):
        click.echo("note: --collapse applies to the --tape listing", err=True)
    for message in result.problems:
        click.echo(f"non-finite: {message}", err=True)
    return result.exit_status(req.strict)


def _write_output(result: Result, path: str) -> None:
    """--output FILE: the table of a --points run written to a file instead of stdout."""
    from ..render import csv as csvr

    if result.mode == "batch":
        csvr.write_table(result, path)
        return
    try:
        with open(path, "w", encoding="utf-8", newline="") as fh:
            fh.write(csvr.render(result))
    except OSError as exc:
        raise InputError(f"--output: cannot write {path}: {exc.strerror or exc}") from None


def _read_claims(path: str | None) -> tuple[str | None, str]:
    if path is None:
        return None, ""
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read(), path
    except OSError as exc:
        raise InputError(f"--claims: cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise InputError(f"--claims: cannot read {path}: not UTF-8 text") from None


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: run the command and map every failure to an exit status."""
    _OUT.reset()  # each call starts plain (tests call main many times in one process)
    if "_GRADCALC_COMPLETE" in os.environ:  # a shell asks for completions (Tab)
        from . import complete

        complete.install()
    args = list(argv) if argv is not None else sys.argv[1:]
    args, moved = usage.move_dash_words(args, command)
    stdout = sys.stdout
    try:
        status = command.main(args=args, prog_name="gradcalc", standalone_mode=False,
                              obj={"moved": moved})
    except InputError as exc:
        from ..render.words import option_words

        _error(exc.render(option_words))  # the settings it names, as options
        return EXIT_INPUT
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.exceptions.NoSuchOption as exc:
        hint = usage.option_hint(exc.option_name, command) if exc.option_name else None
        _error(f"error: unknown option '{exc.option_name}'" + (f"; {hint}" if hint else ""))
        return EXIT_INPUT
    except click.ClickException as exc:
        _error(f"error: {exc.format_message()}")
        return EXIT_INPUT
    except click.exceptions.Abort:
        _error("error: aborted")
        return 130
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        _quiet_pipe()
        return EXIT_OK
    finally:
        if sys.stdout is not stdout:  # --quiet
            sys.stdout.close()
            sys.stdout = stdout
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        _quiet_pipe()
    return status if isinstance(status, int) else EXIT_OK


def _error(message: str) -> None:
    """An error on stderr: the word `error:` in red where _colour says so; a very long word of
    it is not echoed whole (errors.capped)."""
    message = capped(message)
    colour = message.startswith("error:") and _colour(sys.stderr)
    if colour:
        message = click.style("error:", fg="red", bold=True) + message[len("error:"):]
    click.echo(message, err=True, color=colour)


def _quiet_pipe() -> None:
    """The reader closed stdout (`| head`): point stdout at /dev/null, so that the final
    flush at exit cannot fail again, and end quietly (exit 0)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass  # not a real file descriptor (tests capture stdout): nothing to flush at exit


def entry() -> None:
    """Console-script entry point. With nothing left to finish (output flushed, no other
    thread or child process), it ends the process at once instead of letting the interpreter
    free every object (a 100k-node tape takes a tenth of a second to free)."""
    _ONE_SHOT[0] = True
    status = main()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        sys.exit(status)  # the ordinary exit reports or ignores it as before
    mp = sys.modules.get("multiprocessing")
    if threading.active_count() == 1 and not (mp and mp.active_children()):
        os._exit(status)
    sys.exit(status)
