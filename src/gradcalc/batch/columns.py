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
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from ..errors import Text
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


def need_pyarrow(what: Text) -> Any:
    """Import pyarrow, or an InputError saying how to install it."""
    try:
        import pyarrow
    except ImportError:
        from ..errors import InputError, as_parts

        raise InputError((*as_parts(what), " needs pyarrow, which is not installed"),
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


def _header(source: str | bytes) -> tuple[list[str], int, str]:
    """The header's names, its line number (the first line) and the separator, or
    Fallback."""
    from ..engine.datafile import BOM, separator

    if isinstance(source, bytes):
        line = source[:source.find(b"\n") + 1 if b"\n" in source[:1 << 20] else 1 << 20]
    else:
        with open(source, "rb") as fh:
            line = fh.readline(1 << 20)
    line = line.removeprefix(BOM)
    try:
        text = line.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError:
        raise Fallback from None
    if '"' in text or "\r" in text:
        raise Fallback
    sep = separator(text)
    cells = text.split(sep)
    if not any(c.strip() for c in cells) or len(set(cells)) != len(cells):
        raise Fallback  # quoted names, blank lines first, a name twice: the reference reader
    return [c.strip() for c in cells], 1, sep


def read_csv(source: str | bytes,
             choose: Callable[[list[str], int], tuple[list[str], list[str]]],
             on_rows: Callable[[int, int], None] | None = None
             ) -> tuple[list[str], dict[str, np.ndarray], np.ndarray, dict[str, Any], str]:
    """The columns that bind names (float64), each row's line number, the kept columns (Arrow
    string arrays, the cells as written) and the separator of a CSV file (a path) or its
    bytes, or Fallback.

    choose(header, line) gives the columns that bind names and the kept ones, or raises for a
    bad header (the same errors as the reference reader). Every cell of a column that binds a
    name must parse as a finite number and every line after the header must be a row;
    otherwise Fallback (the reference reader then finds and names the problem). on_rows(rows,
    bytes) is called as blocks are parsed.
    """
    try:
        import pyarrow as pa
        import pyarrow.csv as pcsv
    except ImportError:
        raise Fallback from None

    header, header_line, sep = _header(source)
    names, kept_names = choose(header, header_line)
    quotes, bare_cr, newlines, last = _scan(source)
    if quotes or bare_cr:
        raise Fallback  # a field may span lines, or lines end oddly: the reference reader
    rows = newlines + (last not in (b"\n", b"")) - header_line   # if no line is blank
    columns = {name: np.empty(rows) for name in names}   # pages are touched as they fill
    pieces: dict[str, list[Any]] = {name: [] for name in kept_names}
    read = pcsv.ReadOptions(column_names=header, block_size=BLOCK, use_threads=THREADS)
    parse = pcsv.ParseOptions(delimiter=sep, newlines_in_values=False)
    types = {name: pa.string() for name in kept_names}
    types.update({name: pa.float64() for name in names if name not in types})
    convert = pcsv.ConvertOptions(column_types=types, include_columns=list(types),
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
            for name in names:
                col = table.column(name)
                if col.type != pa.float64():   # a kept column that also binds a name
                    col = col.cast(pa.float64())
                at = n
                for chunk in col.chunks:
                    columns[name][at:at + len(chunk)] = chunk.to_numpy(zero_copy_only=False)
                    at += len(chunk)
            for name in kept_names:
                pieces[name] += table.column(name).chunks
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
    kept = {name: pa.chunked_array(pieces[name], pa.string()) for name in kept_names}
    return names, columns, lines, kept, sep


# ---------------------------------------------------------------- Parquet in


def read_parquet(path: str, fail: Callable[..., Exception],
                 choose: Callable[[list[str]], tuple[list[str], list[str]]]
                 ) -> tuple[list[str], dict[str, np.ndarray], np.ndarray, dict[str, Any]]:
    """The columns that bind names (float64), the row numbers (1-based) and the kept columns
    (Arrow arrays of their own type) of a Parquet file.

    choose(header) gives the columns that bind names and the kept ones. fail(message,
    row=None) makes the error: a column that binds a name but is not numeric, a missing
    (null) value, a non-finite number, or an integer that no float64 equals (beyond 2^53)
    names the column and the first such row."""
    pa = need_pyarrow("Parquet input")
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path, buffer_size=1 << 20, pre_buffer=False)  # pages, not chunks
        schema = pf.schema_arrow
        n = pf.metadata.num_rows
        names, kept_names = choose(list(schema.names))
        for name in names:
            t = schema.field(name).type
            if not (pa.types.is_floating(t) or pa.types.is_integer(t)
                    or pa.types.is_boolean(t) or pa.types.is_decimal(t)):
                raise fail(f"column '{name}' holds {t}, not numbers")
        columns = {name: np.empty(n) for name in names}
        kept: dict[str, list[Any]] = {name: [] for name in kept_names}
        at = 0
        wanted = list(dict.fromkeys(names + kept_names))
        for part in pf.iter_batches(batch_size=1 << 16, columns=wanted,
                                    use_threads=False):  # one batch held
            k = part.num_rows
            for name in names:
                col = part.column(name)
                if col.null_count:
                    first = int(pc.index(pc.is_null(col), True).as_py())
                    raise fail(f"missing value for '{name}'", at + first + 1)
                _exact_integers(col, name, at, fail)
                values = col.cast(pa.float64(), safe=False).to_numpy(zero_copy_only=False)
                bad = ~np.isfinite(values)
                if bad.any():
                    first = int(np.argmax(bad))
                    raise fail(f"the value of '{name}' is not finite "
                               f"({number_text(values[first])})",
                               at + first + 1)
                columns[name][at:at + k] = values
            for name in kept_names:
                kept[name].append(part.column(name))
            at += k
    except OSError as exc:
        raise fail(f"cannot read Parquet ({exc})") from None
    except pa.ArrowException as exc:
        raise fail(f"not a readable Parquet file ({exc})") from None
    return names, columns, np.arange(1, n + 1, dtype=np.int64), {
        name: pa.chunked_array(kept[name], schema.field(name).type) for name in kept_names}


def _exact_integers(col: Any, name: str, at: int, fail: Callable[..., Exception]) -> None:
    """Refuse an integer column's first value that no float64 equals (beyond 2^53, a float64
    holds only every other integer, then every fourth, ...): rounding it would change the
    point silently."""
    import pyarrow as pa

    if not pa.types.is_integer(col.type) or col.type.bit_width < 54:
        return
    values = col.to_numpy(zero_copy_only=False)
    big = np.flatnonzero((values > 2**53) | (values < -(2**53)))
    for k in big.tolist():
        exact = int(values[k])
        if int(float(exact)) != exact:
            raise fail(f"{exact} in column '{name}' is not exactly a float64 (integers beyond "
                       f"2^53 = 9007199254740992 round; this one to {float(exact):.17g})",
                       at + k + 1)


def text_column(cells: Sequence[str]) -> Any:
    """A kept column read by the reference reader: an Arrow string array (a numpy array of
    text without pyarrow)."""
    try:
        import pyarrow as pa
    except ImportError:
        return np.array(cells, dtype=object)
    return pa.array(cells, pa.string())


def text_list(column: Any) -> list[str]:
    """A kept column's cells as text: Arrow's own spelling of a typed Parquet column."""
    if isinstance(column, np.ndarray):
        return [str(c) for c in column.tolist()]
    return text_strings(column).to_pylist()


def text_strings(column: Any) -> Any:
    """A kept column as an Arrow string array (nulls as empty cells)."""
    from ..errors import Setting

    pa = need_pyarrow((Setting("points"), " with kept columns"))
    import pyarrow.compute as pc

    if isinstance(column, np.ndarray):
        return pa.array([str(c) for c in column.tolist()], pa.string())
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    strings = column if pa.types.is_string(column.type) else pc.cast(column, pa.string())
    return pc.fill_null(strings, "")


def concat(parts: Sequence[Any], what: Text) -> Any:
    """One kept column of several files."""
    if all(isinstance(p, np.ndarray) for p in parts):
        return np.concatenate(parts)
    import pyarrow as pa

    types = {p.type for p in parts}
    if len(types) > 1:
        from ..errors import InputError, as_parts

        raise InputError((*as_parts(what), " has different types in different files: "
                          f"{', '.join(sorted(map(str, types)))}"))
    return pa.chunked_array([c for p in parts for c in p.chunks], parts[0].type)


def csv_quoted(strings: Any) -> Any:
    """Arrow strings as CSV cells: quoted (quotes doubled) where a cell holds a comma, a
    quote or a line end, as Python's csv module quotes."""
    import pyarrow.compute as pc

    needs = pc.match_substring_regex(strings, r'[,"\r\n]')
    if not pc.any(needs).as_py():
        return strings
    quoted = pc.binary_join_element_wise(
        '"', pc.replace_substring(pc.filter(strings, needs), '"', '""'), '"', "")
    return pc.replace_with_mask(strings, needs, quoted)


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


def csv_chunks(columns: Sequence[Any], n: int, chunk: int = 1 << 16
               ) -> Iterator[bytes | memoryview]:
    """The CSV rows (cells joined by ',', each row ending in a newline) in chunks of bytes.
    A column is float64 numbers (a numpy array), None (empty cells), or an Arrow string
    array of cells already written as CSV (csv_quoted); one of them is not None."""
    pa = need_pyarrow("CSV output")
    import pyarrow.compute as pc

    for lo in range(0, n, chunk):
        hi = min(n, lo + chunk)
        cells = [pa.scalar("") if c is None else
                 c.slice(lo, hi - lo) if isinstance(c, (pa.Array, pa.ChunkedArray)) else
                 repr_strings(c[lo:hi]) for c in columns]
        cells = [c.combine_chunks() if isinstance(c, pa.ChunkedArray) else c for c in cells]
        rows = pc.binary_join_element_wise(*cells, ",")
        yield _lines_bytes(pc.binary_join_element_wise(rows, "\n", ""))


def _lines_bytes(rows: Any) -> memoryview:
    """The text of an Arrow string array's cells, one after another (no copy)."""
    offsets = np.frombuffer(rows.buffers()[1], dtype=np.int32,
                            count=len(rows) + 1 + rows.offset)[rows.offset:]
    return memoryview(rows.buffers()[2])[int(offsets[0]):int(offsets[-1])]


def json_numbers(x: np.ndarray) -> Any:
    """Arrow strings with the JSON text of each float64, as json.dumps writes a number (Python's
    repr), and a non-finite one as the string "nan", "inf" or "-inf"."""
    pa = need_pyarrow("JSON output")
    import pyarrow.compute as pc

    cells = repr_strings(x)
    finite = np.isfinite(x)
    if not finite.all():
        quote = pc.if_else(pa.array(finite), "", '"')
        cells = pc.binary_join_element_wise(quote, cells, quote, "")
    return cells


def json_strings(column: Any) -> Any:
    """Arrow strings with the JSON text of each cell of a kept column (a JSON string, as
    json.dumps writes it)."""
    import json

    pa = need_pyarrow("JSON output")
    import pyarrow.compute as pc

    strings = text_strings(column)
    odd = pc.match_substring_regex(strings, r"[^\x20\x21\x23-\x5b\x5d-\x7e]")  # to escape
    plain = pc.binary_join_element_wise('"', strings, '"', "")
    if not pc.any(odd).as_py():
        return plain
    fixed = pa.array([json.dumps(c) for c in pc.filter(strings, odd).to_pylist()], pa.string())
    return pc.replace_with_mask(plain, odd, fixed)


def json_lines(pieces: Sequence[Any], n: int, chunk: int = 1 << 14
               ) -> Iterator[memoryview]:
    """Rows of text made of pieces, each row ending in a newline, in chunks of bytes: a piece
    is literal text (the same in every row) or a function of (lo, hi) giving the Arrow
    strings of rows lo..hi."""
    pa = need_pyarrow("JSON lines")
    import pyarrow.compute as pc

    for lo in range(0, n, chunk):
        hi = min(n, lo + chunk)
        cells = [pa.scalar(p) if isinstance(p, str) else p(lo, hi) for p in pieces]
        yield _lines_bytes(pc.binary_join_element_wise(*cells, "\n", ""))


def write_parquet(path: str, names: Sequence[str], columns: Sequence[np.ndarray | None],
                  n: int) -> None:
    """A Parquet file with one column per name: float64 for a numpy column, null where a
    column is None, and an Arrow array (a kept column) as it is."""
    pa = need_pyarrow("Parquet output")
    import pyarrow.parquet as pq

    arrays = [pa.nulls(n, pa.float64()) if c is None else
              c if isinstance(c, (pa.Array, pa.ChunkedArray)) else
              pa.array(np.asarray(c, np.float64)) if c.dtype != object else
              pa.array(c.tolist(), pa.string())
              for c in columns]      # views of the columns, no copies
    table = pa.table(arrays, names=list(names))
    with pq.ParquetWriter(path, table.schema, use_dictionary=False) as writer:
        for lo in range(0, n, 1 << 17):                 # one row group encoded at a time
            writer.write_table(table.slice(lo, 1 << 17))
