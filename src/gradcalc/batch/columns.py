"""Columnar input and output of `--points` batches, with Apache Arrow (pyarrow).

Reading: CSV through Arrow's columnar reader (`pyarrow.csv`), read and parsed a few MiB of
text at a time into preallocated float64 columns, so a file's text is never held whole
(stdin's is: it cannot be read twice); Parquet through `pyarrow.parquet`. Writing: each
float64 column is turned into text by Arrow (shortest round-trip digits, the same digits
Python's `repr` gives), the few cells whose spelling differs from `repr` (`1` for `1.0`,
`1e-5` for `1e-05`, positional vs exponent notation) are respelled, and the rows are joined by
Arrow's string kernels: no Python object and no Python formatting per cell.

CSV the fast reader cannot vouch for (quoted fields, bare carriage returns, blank lines between
rows, anything Arrow rejects) is handed back to the reference reader in batch.py, which reads it
exactly as before and names the line of a bad cell. pyarrow is imported only by the functions
here, so it costs nothing at start-up.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from ..errors import number_text

THREADS = True           # Arrow parses blocks on its thread pool
BLOCK = 1 << 20          # bytes per block Arrow parses on one thread
PIECE = 1 << 21          # bytes of text read and parsed at a time (memory: one piece)
PARQUET = (".parquet", ".pq")


class Fallback(Exception):
    """The fast reader cannot vouch for this file: read it with the reference reader."""


def is_parquet(path: str) -> bool:
    """Whether --points/--output names a Parquet file (by its extension)."""
    return path != "-" and os.path.splitext(path)[1].lower() in PARQUET


def need_pyarrow(what: str) -> Any:
    """Import pyarrow, or an InputError saying how to install it."""
    try:
        import pyarrow
    except ImportError:
        from ..errors import InputError

        raise InputError(f"{what} needs pyarrow, which is not installed",
                         hint="pip install pyarrow") from None
    return pyarrow


# ---------------------------------------------------------------- CSV in


def _scan(source: str | bytes) -> tuple[int, int, int, bytes]:
    """What would make line numbers differ from row numbers, counted in one pass of 1 MiB
    reads into one buffer: quotes (a field may span lines), carriage returns not part of
    CRLF; and the newlines and the last byte (to compare with the rows Arrow parses)."""
    if isinstance(source, bytes):
        cr = source.count(b"\r")
        return (source.count(b'"'), cr - source.count(b"\r\n") if cr else 0,
                source.count(b"\n"), source[-1:])
    quotes = bare_cr = newlines = 0
    last = b""
    buf = bytearray(BLOCK)
    with open(source, "rb") as fh:
        while True:
            k = fh.readinto(buf)
            if not k:
                break
            quotes += buf.count(b'"', 0, k)
            cr = buf.count(b"\r", 0, k)
            if cr:
                bare_cr += cr - buf.count(b"\r\n", 0, k) - (buf[k - 1] == 13)
            if last == b"\r" and buf[0] != 10:
                bare_cr += 1
            newlines += buf.count(b"\n", 0, k)
            last = bytes(buf[k - 1:k])
    if last == b"\r":
        bare_cr += 1
    return quotes, bare_cr, newlines, last


def _pieces(source: str | bytes, skip: int) -> Iterator[bytes | memoryview]:
    """The text after the first `skip` lines, in pieces of about PIECE bytes that end at a
    line end: Arrow parses one piece at a time, so memory holds one piece, not the file."""
    if isinstance(source, bytes):
        view = memoryview(source)
        at = 0
        for _ in range(skip):
            at = source.index(b"\n", at) + 1
        while at < len(source):
            end = source.rfind(b"\n", at, at + PIECE) + 1 or source.find(b"\n", at) + 1 \
                or len(source)
            yield view[at:end]
            at = end
        return
    with open(source, "rb") as fh:
        for _ in range(skip):
            fh.readline()
        carry = b""
        while True:
            block = fh.read(PIECE)
            if not block:
                if carry:
                    yield carry
                return
            cut = block.rfind(b"\n") + 1
            if cut == 0:
                carry += block
                continue
            yield carry + block[:cut] if carry else block[:cut]
            carry = block[cut:]


def _header(source: str | bytes) -> tuple[list[str], int]:
    """The header's names and its line number (the first line), or Fallback."""
    if isinstance(source, bytes):
        line = source[:source.find(b"\n") + 1 if b"\n" in source[:1 << 20] else 1 << 20]
    else:
        with open(source, "rb") as fh:
            line = fh.readline(1 << 20)
    if line.startswith(b"\xef\xbb\xbf"):
        line = line[3:]
    try:
        text = line.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError:
        raise Fallback from None
    if '"' in text or "\r" in text:
        raise Fallback
    cells = text.split(",")
    if not any(c.strip() for c in cells):
        raise Fallback  # quoted names or blank lines first: the reference reader
    return [c.strip() for c in cells], 1


def read_csv(source: str | bytes, check_header: Callable[[list[str], int], None],
             on_rows: Callable[[int, int], None] | None = None
             ) -> tuple[list[str], dict[str, np.ndarray], np.ndarray]:
    """Names, float64 columns and each row's line number of a CSV file (a path) or its bytes,
    or Fallback.

    check_header(names, line) raises for a bad header (the same errors as the reference
    reader). Every cell must parse as a finite number and every line after the header must be
    a row; otherwise Fallback (the reference reader then finds and names the problem).
    on_rows(rows, bytes) is called as blocks are parsed.
    """
    try:
        import pyarrow as pa
        import pyarrow.csv as pcsv
    except ImportError:
        raise Fallback from None

    names, header_line = _header(source)
    check_header(names, header_line)
    quotes, bare_cr, newlines, last = _scan(source)
    if quotes or bare_cr:
        raise Fallback  # a field may span lines, or lines end oddly: the reference reader
    rows = newlines + (last not in (b"\n", b"")) - header_line   # if no line is blank
    columns = {name: np.empty(rows) for name in names}   # pages are touched as they fill
    read = pcsv.ReadOptions(column_names=names, block_size=BLOCK, use_threads=THREADS)
    parse = pcsv.ParseOptions(newlines_in_values=False)
    convert = pcsv.ConvertOptions(column_types={name: pa.float64() for name in names},
                                  null_values=[], strings_can_be_null=False,
                                  quoted_strings_can_be_null=False)
    n = 0
    try:
        for piece in _pieces(source, header_line):
            table = pcsv.read_csv(pa.py_buffer(piece), read_options=read,
                                  parse_options=parse, convert_options=convert)
            k = table.num_rows
            if n + k > rows:
                raise Fallback
            for j, name in enumerate(names):
                at = n
                for chunk in table.column(j).chunks:
                    columns[name][at:at + len(chunk)] = chunk.to_numpy(zero_copy_only=False)
                    at += len(chunk)
            n += k
            del table
            if on_rows is not None:
                on_rows(k, len(piece))
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        raise Fallback from None
    if n == 0 or n != rows:
        raise Fallback  # blank lines: line numbers differ from row numbers
    for col in columns.values():
        if not np.isfinite(col).all():
            raise Fallback
    lines = np.arange(header_line + 1, header_line + 1 + n, dtype=np.int64)
    return names, columns, lines


# ---------------------------------------------------------------- Parquet in


def read_parquet(path: str, fail: Callable[..., Exception]
                 ) -> tuple[list[str], dict[str, np.ndarray], np.ndarray]:
    """Names, float64 columns and row numbers (1-based) of a Parquet file's numeric columns.

    fail(message, row=None) makes the error: a column that is not numeric, a missing (null)
    value or a non-finite number names the column and the first such row."""
    pa = need_pyarrow("Parquet input")
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path, buffer_size=1 << 20, pre_buffer=False)  # pages, not chunks
        schema = pf.schema_arrow
        n = pf.metadata.num_rows
        names = list(schema.names)
        for field in schema:
            t = field.type
            if not (pa.types.is_floating(t) or pa.types.is_integer(t)
                    or pa.types.is_boolean(t) or pa.types.is_decimal(t)):
                raise fail(f"column '{field.name}' holds {t}, not numbers")
        columns = {name: np.empty(n) for name in names}
        at = 0
        for part in pf.iter_batches(batch_size=1 << 16, use_threads=False):  # one batch held
            k = part.num_rows
            for j, name in enumerate(names):
                col = part.column(j)
                if col.null_count:
                    first = int(pc.index(pc.is_null(col), True).as_py())
                    raise fail(f"missing value for '{name}'", at + first + 1)
                values = col.cast(pa.float64()).to_numpy(zero_copy_only=False)
                bad = ~np.isfinite(values)
                if bad.any():
                    first = int(np.argmax(bad))
                    raise fail(f"the value of '{name}' is not finite "
                               f"({number_text(values[first])})",
                               at + first + 1)
                columns[name][at:at + k] = values
            at += k
    except OSError as exc:
        raise fail(f"cannot read Parquet ({exc})") from None
    except pa.ArrowException as exc:
        raise fail(f"not a readable Parquet file ({exc})") from None
    return names, columns, np.arange(1, n + 1, dtype=np.int64)


# ---------------------------------------------------------------- output


def repr_strings(x: np.ndarray) -> Any:
    """An Arrow string array with Python's repr of each float64 (nan, inf, -inf included).

    Arrow writes the shortest round-trip digits, as repr does, but spells some numbers
    differently; those cells (integers, one-digit exponents, a notation the other chose) are
    respelled by Arrow kernels on just those cells or, where only repr knows, by repr."""
    pa = need_pyarrow("CSV output")
    import pyarrow.compute as pc

    x = np.asarray(x, dtype=np.float64)
    s = pc.cast(pa.array(x), pa.string())
    arrow_sci = pc.match_substring(s, "e").to_numpy(zero_copy_only=False)
    with np.errstate(invalid="ignore"):
        mag = np.abs(x)
        finite = np.isfinite(x)
        repr_sci = (mag != 0) & finite & ((mag < 1e-4) | (mag >= 1e16))
        whole = finite & ~arrow_sci & (x == np.trunc(x))    # arrow: 1, repr: 1.0
        short_e = arrow_sci & repr_sci & (mag < 1e-4)       # arrow: 1e-5, repr: 1e-05
    for mask, fix in ((whole, lambda t: pc.binary_join_element_wise(t, ".0", "")),
                      (short_e, lambda t: pc.replace_substring_regex(
                          t, r"e([+-])(\d)$", r"e\10\2"))):  # RE2: \1, '0', \2
        if mask.any():
            m = pa.array(mask)
            s = pc.replace_with_mask(s, m, fix(pc.filter(s, m)))
    odd = repr_sci != arrow_sci   # positional in one, exponent in the other: repr decides
    if odd.any():
        fixed = pa.array([repr(v) for v in x[odd].tolist()], pa.string())
        s = pc.replace_with_mask(s, pa.array(odd), fixed)
    return s


def csv_chunks(columns: Sequence[np.ndarray | None], n: int, chunk: int = 1 << 16
               ) -> Iterator[bytes | memoryview]:
    """The CSV rows (cells joined by ',', each row ending in a newline) in chunks of bytes;
    a None column is empty cells. The first column is never None."""
    pa = need_pyarrow("CSV output")
    import pyarrow.compute as pc

    for lo in range(0, n, chunk):
        hi = min(n, lo + chunk)
        cells = [pa.scalar("") if c is None else repr_strings(c[lo:hi]) for c in columns]
        rows = pc.binary_join_element_wise(*cells, ",")
        rows = pc.binary_join_element_wise(rows, "\n", "")
        offsets = np.frombuffer(rows.buffers()[1], dtype=np.int32,
                                count=len(rows) + 1 + rows.offset)[rows.offset:]
        data = rows.buffers()[2]
        yield memoryview(data)[int(offsets[0]):int(offsets[-1])]


def write_parquet(path: str, names: Sequence[str], columns: Sequence[np.ndarray | None],
                  n: int) -> None:
    """A Parquet file with one float64 column per name (null where a column is None)."""
    pa = need_pyarrow("Parquet output")
    import pyarrow.parquet as pq

    arrays = [pa.nulls(n, pa.float64()) if c is None else pa.array(np.asarray(c, np.float64))
              for c in columns]      # views of the columns, no copies
    table = pa.table(arrays, names=list(names))
    with pq.ParquetWriter(path, table.schema, use_dictionary=False) as writer:
        for lo in range(0, n, 1 << 17):                 # one row group encoded at a time
            writer.write_table(table.slice(lo, 1 << 17))
