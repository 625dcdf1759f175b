"""`--points FILE`: the value and every partial at each row of a CSV file.

The program is recorded on a tape once, at the first row, with every bound name watched (so
everything that depends on a row is a tape node, and only true constants are `Const`s). Then the
tape is replayed over whole numpy columns: one forward and one backward pass over arrays, never a
Python loop per point. The tape has no control flow (min, max, abs are primitives), so the tape
recorded at one row is the computation at every row.

The check obtains the symbolic derivatives once, then evaluates them over the same columns
chunk by chunk (compiled program or SymPy's lambdify, see derivatives.py) as a float64 screen,
confirms the rows it cannot vouch for with the point check, and reports the rows per verdict and
the worst point per partial; a batch checked in parts (Dask) merges them (merge_checks).
"""

from __future__ import annotations

import csv
import difflib
import io
import math
import os
import re
import stat
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

import numpy as np

from .. import ops
from ..budget import Deadline, deadline_of
from ..engine import datafile
from ..engine.evaluate import Run, nonfinite, run
from ..engine.sweep import UNIT, Unit
from ..engine.tape import Node, backward, forward, source_masks
from ..errors import InputError, Setting, Text, as_parts
from ..judge import guards
from ..judge import verdict as judge
from ..judge.check import DEFAULT_ATOL, DEFAULT_RTOL, DEFAULT_TIMEOUT, Check
from ..judge.verdict import Status
from ..lang.syntax import Program

CHUNK = 1 << 14              # rows replayed at a time (intermediates stay in cache)
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")  # as for --at


@dataclass
class Points:
    """The table of a --points run: the columns that bind names (in header order, as float64
    arrays), the columns copied to the output (`kept`, in output order: Arrow arrays, or
    numpy arrays of text without pyarrow), and where each row comes from (its line in a CSV
    file, its row in a Parquet file; with several files, which file)."""

    where: str
    names: list[str]
    columns: dict[str, np.ndarray]
    lines: np.ndarray
    kept: dict[str, Any] = field(default_factory=dict)
    files: list[str] | None = None       # several files: their paths (sorted) ...
    file_of: np.ndarray | None = None    # ... and the index of each row's file
    separator: str = ","

    @property
    def n(self) -> int:
        return len(self.lines)

    def at_row(self, k: int) -> str:
        """Where row k (0-based) is, for messages: `row 3 (line 4)`, `row 3 (b.csv line 2)`."""
        line = int(self.lines[k])
        if self.files is None or self.file_of is None:
            return f"row {k + 1} (line {line})"
        return f"row {k + 1} ({self.files[int(self.file_of[k])]} line {line})"

    def kept_text(self, name: str, rows: Sequence[int] | None = None) -> list[str]:
        """A kept column's cells as text (as written in a CSV file): every row, or these."""
        from . import columns as cio

        column = self.kept[name]
        if rows is not None:
            column = column[np.asarray(rows, dtype=np.int64)] if isinstance(
                column, np.ndarray) else column.take(np.asarray(rows, dtype=np.int64))
        return cio.text_list(column)


@dataclass(frozen=True)
class Choice:
    """Which columns of a --points table bind names, and which are copied to the output.

    reads: the names the program reads. use (--use): exactly these columns bind names; None:
    every column whose header is a name the program reads. keep (--keep): these columns are
    copied to the output, in this order; None: every column that binds no name, in file
    order; (): none. every: every column binds a name and none is kept (the reading of a
    table of numbers only, without a program)."""

    reads: frozenset[str] = frozenset()
    use: tuple[str, ...] | None = None
    keep: tuple[str, ...] | None = None
    every: bool = False

    def split(self, header: Sequence[str], fail: Any, line: int) -> tuple[list[str], list[str]]:
        """(the columns that bind names, the kept columns) of a header; unknown, invalid or
        duplicate columns among them are errors."""
        if self.every:
            _check_header(list(header), fail, line)
            return list(header), []
        present = set(header)
        for option, asked in (("use", self.use), ("keep", self.keep)):
            for name in asked or ():
                if name not in present:
                    close_ = difflib.get_close_matches(name, list(header), n=1)
                    raise fail((Setting(option), f" names '{name}', which is not a column "
                                f"(columns: {', '.join(_shown_names(header))})" +
                                (f"; did you mean {close_[0]}?" if close_ else "")), line)
        chosen = set(self.use) if self.use is not None else self.reads
        names = [h for h in header if h in chosen]
        kept = list(self.keep) if self.keep is not None else \
            [h for h in header if h not in chosen]
        _check_header(names, fail, line)
        seen: set[str] = set()
        for name in kept:
            if not name.strip():
                raise fail(("a column to keep has no name in the header; name it, or choose "
                            "the columns with ", Setting("keep")), line)
            if name in seen or header.count(name) > 1:
                raise fail(f"duplicate column '{name}' in the header", line)
            seen.add(name)
        for name in names:
            if header.count(name) > 1:
                raise fail(f"duplicate column '{name}' in the header", line)
        return names, kept


EVERY = Choice(every=True)


def program_reads(program: Program) -> frozenset[str]:
    """The names a program reads before assigning them (constants pi and e included: a column
    of that name binds it, shadowing the constant)."""
    from ..lang.syntax import Assign, free_names, names

    found = set(free_names(program))
    for stmt in program.statements:
        expr = stmt.value if isinstance(stmt, Assign) else stmt
        found.update(n for n in names(expr) if n in ops.CONSTANTS)
    return frozenset(found)


def _shown_names(header: Sequence[str], limit: int = 8) -> list[str]:
    shown = [h if len(h) <= 20 else h[:17] + "..." for h in header[:limit]]
    return shown + ([f"and {len(header) - limit} more"] if len(header) > limit else [])


# ---------------------------------------------------------------- reading the CSV


def read_points(path: str, stdin: TextIO | None = None, choice: Choice = EVERY,
                shown: str | None = None) -> Points:
    """Read a CSV file with a header of names and one row per point, or a Parquet file (by
    the extension .parquet or .pq); or, for a directory or a glob, every .csv/.parquet/.pq
    file there (paths sorted, all of one format and one header) as one table, rows in file
    order. choice says which columns bind names and which are kept.

    Every problem (unreadable file, bad header, a row with a missing or extra field, a cell
    that is not a number where a number is needed, a non-finite number) is an InputError
    naming the file and line (Parquet: the row); nothing is computed before every file has
    been read. CSV goes through Arrow's columnar reader; what it cannot vouch for is read
    again by the reference reader (_read_text), which decides and words every error.
    shown: the name of one file for messages (a Dask worker reads a path made absolute).
    """
    files = input_files(path) if path != "-" and _several(path) else None
    if files is None:
        return _read_one(path, stdin, choice, shown)
    parts = [_read_one(f, None, choice) for f in files]
    first = parts[0]
    for f, part in zip(files[1:], parts[1:], strict=True):
        if part.names != first.names or list(part.kept) != list(first.kept):
            raise InputError((Setting("points", f), ": columns "
                              f"{','.join(part.names + list(part.kept))} differ from those of "
                              f"{files[0]}: {','.join(first.names + list(first.kept))}"))
    from . import columns as cio

    return Points(
        path, first.names,
        {c: np.concatenate([p.columns[c] for p in parts]) for c in first.names},
        np.concatenate([p.lines for p in parts]),
        {c: cio.concat([p.kept[c] for p in parts], (Setting("points", path), f": column '{c}'"))
         for c in first.kept},
        files, np.repeat(np.arange(len(parts), dtype=np.int32), [p.n for p in parts]),
        first.separator)


def _several(spec: str) -> bool:
    """Whether --points names a directory or a glob (not one existing file)."""
    return os.path.isdir(spec) or (any(c in spec for c in "*?[") and not os.path.exists(spec))


def input_files(spec: str) -> list[str]:
    """The files of --points: one file, every .csv/.parquet/.pq file of a directory, or a
    glob; sorted, all of one format."""
    import glob

    from ..batch.columns import is_parquet

    if os.path.isdir(spec):
        files = sorted(os.path.join(spec, f) for f in os.listdir(spec)
                       if f.lower().endswith((".csv", ".parquet", ".pq")))
    elif any(c in spec for c in "*?[") and not os.path.exists(spec):
        files = sorted(glob.glob(spec))
    else:
        files = [spec]
    files = [f for f in files if os.path.isfile(f)]
    if not files:
        raise InputError((Setting("points", spec), ": no CSV or Parquet files there"),
                         hint="give a file, a directory of .csv/.parquet files or a glob "
                              "such as 'data/part-*.parquet'")
    kinds = {is_parquet(f) for f in files}
    if len(kinds) > 1:
        raise InputError((Setting("points", spec), ": mixes CSV and Parquet files; give one "
                          "format"))
    return files


def _read_one(path: str, stdin: TextIO | None, choice: Choice, shown: str | None = None
              ) -> Points:
    """One CSV or Parquet file (or stdin) as a table, named in messages as shown (default:
    its path)."""
    from ..batch import columns as cio
    from ..progress import Progress

    where = "stdin" if path == "-" else shown or path

    def fail(message: Text, line: int | None = None) -> InputError:
        at = f" line {line}:" if line is not None else ":"
        return InputError((Setting("points", where), f"{at} ", *as_parts(message)))

    if cio.is_parquet(path):
        def fail_row(message: Text, row: int | None = None) -> InputError:
            at = f" row {row}:" if row is not None else ":"
            return InputError((Setting("points", where), f"{at} ", *as_parts(message)))

        names, cols, lines, kept = cio.read_parquet(
            path, fail_row, lambda header: choice.split(header, lambda m, _l: fail_row(m), 0))
        if not lines.size:
            raise fail_row("no rows")
        return Points(where, names, cols, lines, kept)
    data: Any = None
    if path == "-":
        stream = stdin if stdin is not None else sys.stdin
        data = stream.buffer.read() if hasattr(stream, "buffer") else stream.read()
        if isinstance(data, str):
            return _read_text(where, data, fail, choice)
        size = len(data)
    else:
        try:
            info = os.stat(path)
            if stat.S_ISCHR(info.st_mode) or stat.S_ISDIR(info.st_mode):
                raise InputError((Setting("points"), f": cannot read {path}: not a file"))
            with open(path, "rb") as fh:
                if not stat.S_ISREG(info.st_mode):  # a pipe (`<(cmd)`) can be read only once
                    data = fh.read()
        except OSError as exc:
            raise _unreadable(path, exc) from None
        size = info.st_size if data is None else len(data)
    try:
        with Progress(f"reading {where}", size, "bytes") as bar:
            names, cols, lines, kept, sep = cio.read_csv(
                path if data is None else data,
                lambda header, line: choice.split(header, fail, line),
                lambda _rows, nbytes: bar.update(nbytes))
        return Points(where, names, cols, lines, kept, separator=sep)
    except cio.Fallback:
        pass
    if data is None:
        try:
            with open(path, "rb") as fh:
                data = fh.read()
        except OSError as exc:
            raise _unreadable(path, exc) from None
    return _read_text(where, datafile.decode(data, (Setting("points", where),)), fail, choice)


def _unreadable(path: str, exc: OSError) -> InputError:
    """The error for a points file the system cannot read."""
    return InputError((Setting("points"), f": cannot read {path}: {exc.strerror}"))


def _read_text(where: str, data: str, fail: Any, choice: Choice = EVERY) -> Points:
    """The reference CSV reader (Python's csv module): slow, exact, and the one that names
    the line and cell of every problem."""
    data = data.removeprefix("\ufeff")
    first = next((line for line in data.splitlines() if line.strip()), "")
    sep = datafile.separator(first)
    reader = csv.reader(io.StringIO(data, newline=""), delimiter=sep)
    try:
        header = next(reader, None)
        while header is not None and not any(c.strip() for c in header):
            header = next(reader, None)
        if header is None:
            raise fail("empty file; expected a header of names, e.g. x,y")
        header_line = reader.line_num
        header = [c.strip() for c in header]
        names, kept_names = choice.split(header, fail, header_line)
        width = len(header)
        rows: list[list[str]] = []
        lines: list[int] = []
        for row in reader:
            if len(row) != width:
                if not row or (len(row) == 1 and not row[0].strip()):
                    continue  # blank line
                which = "missing field" if len(row) < width else "extra field"
                shown = ",".join(_shown_names(header))
                raise fail(f"{which}: expected {width} ({shown}), got {len(row)}",
                           reader.line_num)
            rows.append(row)
            lines.append(reader.line_num)
    except csv.Error as exc:
        raise fail(f"malformed CSV ({exc})", reader.line_num) from None
    if not rows:
        raise fail("no data rows after the header", header_line)
    line_arr = np.asarray(lines, dtype=np.int64)
    cells = list(zip(*rows, strict=True))
    columns: dict[str, np.ndarray] = {}
    for name in names:
        j = header.index(name)
        if not all(map(datafile.is_number, cells[j])):
            raise _bad_cell(cells[j], name, lines, fail)
        col = np.array(cells[j], dtype=np.float64)
        if not np.all(np.isfinite(col)):
            raise _bad_cell(cells[j], name, lines, fail)
        columns[name] = col
    from . import columns as cio

    kept = {name: cio.text_column(cells[header.index(name)]) for name in kept_names}
    return Points(where, names, columns, line_arr, kept, separator=sep)


def _check_header(names: list[str], fail: Any, line: int) -> None:
    """The columns that bind names: each a valid name that is no function, none twice."""
    seen: set[str] = set()
    for name in names:
        if not name:
            raise fail("empty name in the header", line)
        if not _NAME.match(name):
            raise fail(f"'{name}' in the header is not a valid name (names look like x, w_1)",
                       line)
        if name in ops.FUNCTIONS:
            raise fail(f"'{name}' in the header is a function and cannot be bound", line)
        if name in seen:
            raise fail(f"duplicate column '{name}' in the header", line)
        seen.add(name)


def _bad_cell(cells: Sequence[str], name: str, lines: list[int], fail: Any) -> InputError:
    """The error for the first cell of a column that is not a finite number."""
    for cell, line in zip(cells, lines, strict=True):
        value = datafile.number(cell)
        if value is None or not math.isfinite(value):
            problem, hint = datafile.number_problem(cell, name)
            return fail(problem + (f"; {hint}" if hint else ""), line)
    return fail(f"column '{name}' has a value that is not a number")


# ---------------------------------------------------------------- replaying the tape


@dataclass
class Batch:
    """The value and partials at every point of a --points file."""

    program: Program
    points: Points
    at: dict[str, float]               # --at constants, the same for every row
    names: list[str]                   # every bound name: columns, then --at
    wrt: list[str]
    value: np.ndarray
    gradient: dict[str, np.ndarray | None]
    first: Run                         # the recording at the first row
    output_name: str | None
    kinks: dict[str, np.ndarray] = field(default_factory=dict)  # rows where a partial is
    warnings: list[str] = field(default_factory=list)            # undefined (abs at 0, ...)

    @property
    def n(self) -> int:
        return self.points.n

    def inputs(self) -> dict[str, Any]:
        """Every bound name's values: a column, or a --at constant (a float)."""
        return {**self.points.columns, **self.at}


def replay(nodes: Sequence[Node], leaves: Mapping[int, np.ndarray], target: int,
           sources: Sequence[int], n: int) -> tuple[list[Any], list[Any]]:
    """The tape's own sweep over whole columns of n rows: one forward replay, then the backward
    pass seeded with UNIT (1 at every row), dropping interior adjoints once spent.

    leaves: watched node id -> its column. Returns the node values and the adjoints (None
    where no gradient reached) for nodes up to target; an adjoint may be UNIT or a scalar where
    it is the same at every row. A non-finite row is rerun at its point (nonfinite_rows), which
    names where it first went non-finite.
    """
    values = forward(nodes, leaves, target)
    swept = backward(nodes, target, sources, UNIT, values=values, free=True, origins=False)
    return values, swept.adjoints


def kink_plan(first: Run, wrt: Sequence[str], target: int) -> list[tuple[int, list[str]]]:
    """The nodes with a kink (abs, relu, max, ...) on a differentiable path from a wrt name,
    and those names (node id, names): where such a node sits at its kink, the names' partials
    are undefined."""
    bit = {first.tape.node_of(first.sources[w]).id: 1 << k  # type: ignore[union-attr]
           for k, w in enumerate(wrt)}
    masks = source_masks(first.nodes, bit, target)
    plan = []
    for node in first.nodes[: target + 1]:
        m = masks[node.id]
        if m and node.prim is not None and (node.prim.kink is not None
                                            or node.prim.cut is not None):
            plan.append((node.id, [w for k, w in enumerate(wrt) if m >> k & 1]))
    return plan


def check_bindings(program: Program, points: Points, at: Mapping[str, Any]) -> None:
    """Every name the program reads is bound by a column or by --at, and none by both."""
    from ..lang.syntax import free_names

    for name in at:
        if name in points.columns:
            raise InputError((f"'{name}' is bound twice: by ", Setting("at"),
                              " and by a column of ", Setting("points", points.where)))
    header = points.names + [k for k in points.kept if k not in points.columns]
    for name in free_names(program):
        if name not in points.columns and name not in at:
            close_ = [h for h in header if h.lower() == name.lower()] or \
                difflib.get_close_matches(name, header, n=1, cutoff=0.5)
            bind = Setting("at", f"{name}=VALUE")
            hint = (f"rename the column '{close_[0]}' to {name} in the header, or bind {name} "
                    "with ", bind) if close_ else (f"name a column {name}, or bind it with ", bind)
            raise InputError((f"'{name}' is not bound: ", Setting("points", points.where),
                              f" has no column '{name}' (columns: "
                              f"{', '.join(_shown_names(header)) or 'none'})"), hint=hint)


def run_batch(program: Program, points: Points, at: Mapping[str, float],
              wrt: Sequence[str] | None, of: str | None) -> Batch:
    """Record at the first row, then replay over every row, CHUNK rows at a time (so the
    intermediates of one chunk stay in cache and memory is bounded by the chunk)."""
    for name in at:
        if np.ndim(at[name]):
            kind = "a matrix" if np.ndim(at[name]) == 2 else "a vector"
            raise InputError((Setting("at"), f" binds '{name}' to {kind}, but ",
                              Setting("points"), " rows are scalars; bind vectors and matrices "
                              "only without ", Setting("points")))
    check_bindings(program, points, at)
    names = list(points.names) + list(at)
    wrt_list = names if wrt is None else list(wrt)
    for name in wrt_list:
        if name not in names:
            close_ = difflib.get_close_matches(name, names, n=1)
            raise InputError((Setting("wrt"), f" names '{name}', which is not bound"),
                             hint=f"did you mean {close_[0]}?" if close_ else
                             "bound names: " + ", ".join(names))
    n = points.n
    row0 = {name: float(points.columns[name][0]) for name in points.names}
    first = run(program, {**row0, **at}, names, of)   # every name watched
    nodes = first.nodes
    target = first.target_id()
    gradient: dict[str, np.ndarray | None] = dict.fromkeys(wrt_list)
    if target is None:  # the output depends on no bound name
        value = np.full(n, float(first.value))
        return Batch(program, points, dict(at), names, wrt_list, value, gradient, first,
                     first.output_name, warnings=first.warnings)
    ids = {name: first.tape.node_of(first.sources[name]).id  # type: ignore[union-attr]
           for name in names}
    columns = {ids[name]: points.columns[name] for name in points.names}
    constants = {ids[name]: float(at[name]) for name in at}
    value, gradient, kinks = sweep_columns(nodes, target, {w: ids[w] for w in wrt_list},
                                           columns, constants, n,
                                           kink_plan(first, wrt_list, target))
    return Batch(program, points, dict(at), names, wrt_list, value, gradient, first,
                 first.output_name, kinks, first.warnings)


def sweep_columns(nodes: Sequence[Node], target: int, wrt: Mapping[str, int],
                  columns: Mapping[int, np.ndarray], constants: Mapping[int, float], n: int,
                  kinks_at: Sequence[tuple[int, list[str]]] = ()
                  ) -> tuple[np.ndarray, dict[str, np.ndarray | None], dict[str, np.ndarray]]:
    """The tape replayed over n rows, CHUNK rows at a time (so the intermediates of one chunk
    stay in cache and memory is bounded by the chunk): the value column, each wrt name's
    partial column (None where not connected: the same at every row), and the rows where a
    partial is undefined (a node of kinks_at at its kink: node id, the names it affects).

    wrt: name -> its leaf's node id; columns and constants: leaf node id -> its column, or
    its value at every row."""
    from ..progress import Progress

    value = np.empty(n)
    gradient: dict[str, np.ndarray | None] = dict.fromkeys(wrt)
    kinks: dict[str, np.ndarray] = {}
    sources = list(wrt.values())
    bar = Progress("replaying tape", n)
    for lo in range(0, n, CHUNK):
        hi = min(n, lo + CHUNK)
        leaves = {i: col[lo:hi] for i, col in columns.items()}
        leaves.update({i: np.full(hi - lo, v) for i, v in constants.items()})
        values, adj = replay(nodes, leaves, target, sources, hi - lo)
        value[lo:hi] = values[target]
        for w, i in wrt.items():
            g = adj[i] if i <= target else None
            if g is None:
                continue  # not connected (the same at every row)
            if isinstance(g, Unit):
                g = 1.0
            if gradient[w] is None:
                gradient[w] = np.empty(n)
            gradient[w][lo:hi] = g  # type: ignore[index]
        with np.errstate(all="ignore"):
            for node_id, affected in kinks_at:
                node = nodes[node_id]
                args = [values[r] if isinstance(r, int) else r.value for r in node.inputs]
                hit = np.asarray(node.prim.nonsmooth(*args), dtype=bool)  # type: ignore[union-attr]
                if hit.any():
                    for w in affected:
                        mask = kinks.setdefault(w, np.zeros(n, dtype=bool))
                        mask[lo:hi] |= hit
        bar.update(hi - lo)
    bar.close()
    return value, gradient, kinks


def row_bindings(batch: Batch, k: int) -> dict[str, float]:
    """The bindings of row k (0-based), in binding order."""
    return {**{n: float(batch.points.columns[n][k]) for n in batch.points.names}, **batch.at}


def nonfinite_rows(batch: Batch, of: str | None) -> list[str]:
    """Messages for the first row whose value or a partial is not finite (empty if none):
    the row is rerun on its own so the message names the tape node, as for --at."""
    bad = ~np.isfinite(batch.value)
    for g in batch.gradient.values():
        if g is not None:
            bad |= ~np.isfinite(g)
    rows = np.flatnonzero(bad)
    if rows.size == 0:
        return []
    k = int(rows[0])
    single = run(batch.program, row_bindings(batch, k), batch.wrt, of)
    more = f" ({rows.size - 1} more row{'s' if rows.size != 2 else ''} not finite)" \
        if rows.size > 1 else ""
    where = batch.points.at_row(k)
    found = nonfinite(single) or ["not finite"]
    return [f"{where}: {m}" + (more if i == 0 else "") for i, m in enumerate(found)]


# ---------------------------------------------------------------- the check


@dataclass
class ColumnVerdict:
    """The check of one partial (or the value) over every row."""

    name: str
    status: str                   # ok, mismatch, undefined, null, skipped
    symbolic: str | None = None
    counts: dict[str, int] = field(default_factory=dict)   # rows per verdict
    worst: dict[str, Any] | None = None                    # the worst row
    reason: str = ""
    statuses: Any = None                                   # the verdict at each row


@dataclass
class BatchCheck:
    """The verdict over the whole batch. confirmed: rows judged at full precision, by why
    (the screen could not vouch for them, or a random sample); unconfirmed: rows the screen
    could not vouch for that were left unjudged (their verdict is skipped), beyond the work
    limit CONFIRM_ROWS, or (timed_out) stopped by the time limit."""

    status: Status
    partials: dict[str, ColumnVerdict] = field(default_factory=dict)
    value: ColumnVerdict | None = None
    reason: str = ""
    rtol: float = DEFAULT_RTOL
    atol: float = DEFAULT_ATOL
    confirmed: dict[str, int] = field(default_factory=dict)
    unconfirmed: int = 0
    timed_out: bool = False
    uncertified: bool = False   # a confirmed row's verdict was not certified


def _screen(tape: np.ndarray, sym: np.ndarray, err: np.ndarray, rtol: float,
            atol: float) -> np.ndarray:
    """Rows where the float64 screen proves the tape within tolerance: within rtol*|v| + atol
    of every v within the screen's error bound of its value (a stricter test than the point
    check's, whose floor is never below atol)."""
    with np.errstate(all="ignore"):
        ok = np.abs(tape - sym) + err <= rtol * np.maximum(np.abs(sym) - err, 0.0) + atol
        ok |= (tape == sym) & (err == 0)
    return ok & np.isfinite(sym) & np.isfinite(err) & np.isfinite(tape)


def _guard_rows(kind: str, args: Sequence[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """Rows where the screen proves a domain condition holds (guards.KINDS)."""
    return guards.kind(kind).screen(args)


def _confirm(batch: Batch, rows: Sequence[int], rtol: float, atol: float, deadline: Deadline,
             of: str | None, derived: Mapping[str, Any]) -> tuple[dict[int, Check], bool]:
    """The point check's own verdicts (check.plan, judge.judge_point, check.assemble) at these
    rows, all judged in one child on the derivatives already compiled for the screen (derived:
    symbolic.derivatives.for_columns' result), and whether the deadline stopped it before the
    last row."""
    from ..judge.check import assemble, plan
    from ..symbolic.sandbox import run_with_budget

    plans = []
    for k in rows:
        if deadline.passed():
            return {}, True
        single = run(batch.program, row_bindings(batch, k), batch.wrt, of)
        plans.append((k, plan(single, rtol, atol)))
    if not plans:
        return {}, False

    def judge_rows(program: Any, outputs: list[int], guard_list: list[list[Any]]) -> Any:
        done = []
        for k, pl in plans:
            try:
                done.append((k, pl.judge_fn(deadline.at)(program, outputs, guard_list)))
            except TimeoutError:
                break   # the rows judged so far keep their verdicts
        return done

    program, outputs, guard_list = derived["program"], derived["outputs"], derived["guards"]
    status, done = run_with_budget(lambda: judge_rows(program, outputs, guard_list), deadline)
    if status != "ok":
        return {}, status == "timeout"
    by_row = dict(plans)
    forms = {w: derived["forms"][w] for w in batch.wrt}
    out: dict[int, Check] = {}
    for k, judged in done:
        out[k] = assemble(by_row[k], forms, derived["true_forms"], judged)
    return out, len(out) < len(plans)


SAMPLE_ROWS = 16   # rows always judged at full precision, whatever the screen says
CONFIRM_ROWS = 1_000   # work limit: at most this many other rows judged at full precision
WORDS = ("ok", "mismatch", "undefined", "cut", "skipped", "null")   # a row's verdict, by code
_CODE = {w: np.uint8(k) for k, w in enumerate(WORDS)}
_SHOWN = ("ok", "mismatch", "undefined", "cut", "skipped")   # rows per verdict, in this order


class RowStatuses:
    """Each row's verdict word (judge.verdict.Status), held as one byte per row."""

    def __init__(self, codes: np.ndarray):
        self.codes = codes

    def __len__(self) -> int:
        return len(self.codes)

    def __getitem__(self, k: Any) -> Any:
        """Row k's word, or the words of a slice of rows (an array of str)."""
        if isinstance(k, slice):
            return np.asarray(WORDS)[self.codes[k]]
        return WORDS[int(self.codes[k])]

    @classmethod
    def full(cls, word: str, n: int) -> RowStatuses:
        """The same word at each of n rows."""
        return cls(np.full(n, _CODE[word], dtype=np.uint8))

    @classmethod
    def combined(cls, columns: Sequence[RowStatuses]) -> RowStatuses:
        """Per row, judge.verdict.combine over the words of several columns (the same rows)."""
        mask = np.zeros(len(columns[0]) if columns else 0, dtype=np.uint8)  # 6 words, 6 bits
        for c in columns:
            mask |= np.left_shift(np.uint8(1), c.codes)
        table = np.array([_CODE[judge.combine(w for k, w in enumerate(WORDS) if m >> k & 1)]
                          for m in range(1 << len(WORDS))], dtype=np.uint8)
        return cls(table[mask])


@dataclass
class _Running:
    """One column's verdicts over the chunks judged so far: a code per row, rows per code,
    and the worst mismatch and worst ok row (largest error; the first on ties)."""

    codes: np.ndarray
    counts: np.ndarray = field(default_factory=lambda: np.zeros(len(WORDS), dtype=np.int64))
    worst: dict[str, tuple[float, int, float, float] | None] = field(
        default_factory=lambda: {"mismatch": None, "ok": None})

    def add(self, lo: int, codes: np.ndarray, tape: np.ndarray, reference: np.ndarray) -> None:
        """Rows lo:lo+len(codes): their codes, and the tape and reference values there."""
        self.codes[lo:lo + len(codes)] = codes
        self.counts += np.bincount(codes, minlength=len(WORDS))
        with np.errstate(all="ignore"):
            err = np.abs(tape - reference)
        for word, where in (("mismatch", codes == _CODE["mismatch"]),
                            ("ok", (codes == _CODE["ok"]) & np.isfinite(err))):
            rows = np.flatnonzero(where)
            if not rows.size:
                continue
            key = np.nan_to_num(err[rows], nan=np.inf)
            j = int(rows[np.argmax(key)])
            best = self.worst[word]
            if best is None or float(np.nan_to_num(err[j], nan=np.inf)) > best[0]:
                self.worst[word] = (float(np.nan_to_num(err[j], nan=np.inf)), lo + j,
                                    float(tape[j]), float(reference[j]))

    def verdict(self, name: str, points: Points) -> ColumnVerdict:
        """The column's verdict over every row judged."""
        counts = {s: int(self.counts[_CODE[s]]) for s in _SHOWN}
        counts = {s: c for s, c in counts.items() if c or s in ("ok", "mismatch", "undefined")}
        pick = self.worst["mismatch"] if counts["mismatch"] else self.worst["ok"]
        worst = None
        if pick is not None:
            _, k, tape, ref = pick
            worst = {"row": k + 1, "line": int(points.lines[k]), "tape": tape,
                     "symbolic": ref, "error": float(abs(tape - ref))}
            if points.files is not None and points.file_of is not None:
                worst["file"] = points.files[int(points.file_of[k])]
        return ColumnVerdict(name, judge.combine([s for s, c in counts.items() if c]),
                             counts=counts, worst=worst, statuses=RowStatuses(self.codes))


def check_batch(batch: Batch, rtol: float = DEFAULT_RTOL, atol: float = DEFAULT_ATOL,
                timeout: float = DEFAULT_TIMEOUT, of: str | None = None,
                use_cache: bool = True, deadline: Deadline | None = None,
                derived: Mapping[str, Any] | None = None, sample_seed: int | None = None
                ) -> BatchCheck:
    """Every partial at every row, judged as the point check judges it, CHUNK rows at a time
    (so the check's memory is bounded by the chunk, not the row count).

    A float64 evaluation of the symbolic derivatives, with a running bound on its own rounding
    error, is only a screen: a row the screen cannot prove within tolerance (it disagrees, is
    ill-conditioned, sits at a kink or near a domain edge) is judged by the point check at that
    row, and so is a random sample of rows (SAMPLE_ROWS, drawn from a generator seeded with
    sample_seed, by default the row count), each chunk's in one child. Rows beyond the work
    limit CONFIRM_ROWS (the first ones in row order are judged), or that the deadline (the
    call's, else one of `timeout` seconds from now) leaves unjudged, are skipped. derived: the
    derivatives already obtained (symbolic.derivatives.for_columns; a Dask worker is handed
    them), else they are obtained here."""
    from ..symbolic.derivatives import for_columns, on_rows

    deadline = deadline_of(deadline, timeout)
    n = batch.n
    if derived is None:
        status, result = for_columns(batch.program, batch.names, batch.wrt, batch.inputs(),
                                     n, of, deadline, use_cache)
        if status != "ok":
            return skipped_check(batch.wrt, deadline.reason() if status == "timeout"
                                 else str(result), rtol, atol, status == "timeout")
        derived = result
    rng = np.random.default_rng(n if sample_seed is None else sample_seed)
    sample = set(rng.choice(n, size=min(n, SAMPLE_ROWS), replace=False).tolist())
    connected = [w for w in batch.wrt if batch.gradient[w] is not None]
    running = {w: _Running(np.empty(n, dtype=np.uint8)) for w in ["value", *connected]}
    how = {"screen could not vouch": 0, "random sample": 0}
    unconfirmed, taken, timed_out, uncertified = 0, 0, False, False
    compiled_ok = derived["program"] is not None
    for lo in range(0, n, CHUNK):
        hi = min(n, lo + CHUNK)
        inputs = {name: v if np.ndim(v) == 0 else v[lo:hi] for name, v in batch.inputs().items()}
        try:
            sym = on_rows(derived, batch.wrt, inputs, lo, hi, deadline)
        except TimeoutError:
            return skipped_check(batch.wrt, deadline.reason(), rtol, atol, True)
        screened = {"value": (batch.value[lo:hi], *sym["value"])}
        for w in connected:
            _, s, e = sym["partials"][w]
            screened[w] = (np.asarray(batch.gradient[w])[lo:hi], s, e)   # type: ignore[index]
        vouched = np.ones(hi - lo, dtype=bool)
        for tape, s, e in screened.values():
            vouched &= _screen(tape, s, e, rtol, atol)
        for mask in batch.kinks.values():
            vouched &= ~mask[lo:hi]
        meta, guard_values = sym["guards"]
        at = 0
        for g in meta:
            vouched &= _guard_rows(g[0], guard_values[at:at + g[4]])
            at += g[4]
        if not compiled_ok:
            vouched[:] = False
        suspects = (lo + np.flatnonzero(~vouched)).tolist()
        chosen = suspects[:max(0, CONFIRM_ROWS - taken)]
        taken += len(chosen)
        drawn = sorted(k for k in sample if lo <= k < hi and vouched[k - lo])
        confirmed: dict[int, Check] = {}
        if compiled_ok and (drawn or chosen):
            confirmed, stopped = _confirm(batch, sorted(drawn + chosen), rtol, atol, deadline,
                                          of, derived)
            timed_out |= stopped
        unconfirmed += sum(1 for k in suspects if k not in confirmed)
        how["screen could not vouch"] += sum(1 for k in chosen if k in confirmed)
        how["random sample"] += sum(1 for k in drawn if k in confirmed)
        uncertified |= any(c.uncertified for c in confirmed.values())
        base = np.where(vouched, _CODE["ok"], _CODE["skipped"]).astype(np.uint8)
        for name, (tape, s, _) in screened.items():
            codes, reference = base.copy(), np.array(s, dtype=np.float64)
            for k, chk in confirmed.items():
                if name == "value":
                    word, expected = chk.value_status, chk.value
                else:
                    word, expected = chk.partials[name].status, chk.partials[name].expected
                codes[k - lo] = _CODE[str(word)]
                if expected is not None:
                    reference[k - lo] = expected
            running[name].add(lo, codes, np.asarray(tape), reference)
    partials: dict[str, ColumnVerdict] = {}
    for w in batch.wrt:
        form = derived["forms"][w]
        if batch.gradient[w] is None:
            st = Status.NULL if form == "0" else Status.MISMATCH
            reason = ("not connected: the output does not depend on " + w if form == "0"
                      else "the tape has no path but the derivative is not zero")
            partials[w] = ColumnVerdict(w, st, form, reason=reason)
            continue
        partials[w] = running[w].verdict(w, batch.points)
        partials[w].symbolic = form
    value = running["value"].verdict("value", batch.points)
    overall = judge.combine([v.status for v in partials.values()] + [value.status])
    return BatchCheck(overall, partials, value, rtol=rtol, atol=atol, confirmed=how,
                      unconfirmed=unconfirmed, timed_out=timed_out, uncertified=uncertified)


def skipped_check(wrt: Sequence[str], reason: str, rtol: float, atol: float,
                  timed_out: bool) -> BatchCheck:
    """The check of a batch whose derivatives or screen could not be had: every partial
    skipped, for this reason."""
    return BatchCheck(Status.SKIPPED, {w: ColumnVerdict(w, Status.SKIPPED, reason=reason)
                                       for w in wrt}, reason=reason, rtol=rtol,
                      atol=atol, timed_out=timed_out)


def merge_checks(parts: Sequence[tuple[BatchCheck, int, str]]) -> BatchCheck:
    """The check of a batch judged in parts (the files of a Dask run, in row order: each
    part's check, its row count and its file): rows per verdict and rows judged at full
    precision added up, the worst row of all (a mismatch first; the first on ties) numbered
    in the whole batch and naming its file, the status combined. A part whose column has no
    rows per verdict (its check was skipped) counts its rows as skipped."""
    first = parts[0][0]
    offsets = np.cumsum([0] + [rows for _, rows, _ in parts])

    def merged(name: str, pick: Any) -> ColumnVerdict:
        columns = [(pick(c), int(offsets[j]), rows, path)
                   for j, (c, rows, path) in enumerate(parts)]
        head = columns[0][0]
        if not any(v.counts for v, *_ in columns):   # the same in every part (not connected)
            return ColumnVerdict(name, judge.combine(v.status for v, *_ in columns),
                                 head.symbolic, reason=next((v.reason for v, *_ in columns
                                                             if v.reason), ""))
        counts: dict[str, int] = {}
        for v, _, rows, _ in columns:
            for s, c in (v.counts or {"skipped": rows}).items():
                counts[s] = counts.get(s, 0) + c
        counts = {s: counts.get(s, 0) for s in _SHOWN
                  if counts.get(s, 0) or s in ("ok", "mismatch", "undefined")}
        worst = None
        want = "mismatch" if counts["mismatch"] else "ok"
        for v, at, _, path in columns:
            w = v.worst
            if w is None or (v.counts or {}).get(want, 0) == 0:
                continue
            error = w["error"] if math.isfinite(w["error"]) else math.inf
            if worst is None or error > (worst["error"] if math.isfinite(worst["error"])
                                         else math.inf):
                worst = {**w, "row": w["row"] + at, "file": path}
        return ColumnVerdict(name, judge.combine(s for s, c in counts.items() if c),
                             head.symbolic, counts, worst,
                             next((v.reason for v, *_ in columns if v.reason), ""))

    partials = {w: merged(w, lambda c, w=w: c.partials[w]) for w in first.partials}
    value = None if first.value is None else merged("value", lambda c: c.value)
    checks = [c for c, _, _ in parts]
    confirmed: dict[str, int] = {}
    for c in checks:
        for why, count in c.confirmed.items():
            confirmed[why] = confirmed.get(why, 0) + count
    status = judge.combine([v.status for v in partials.values()]
                           + ([value.status] if value is not None else []))
    return BatchCheck(status, partials, value,
                      reason=next((c.reason for c in checks if c.reason), ""),
                      rtol=first.rtol, atol=first.atol, confirmed=confirmed,
                      unconfirmed=sum(c.unconfirmed for c in checks),
                      timed_out=any(c.timed_out for c in checks),
                      uncertified=any(c.uncertified for c in checks))
