"""Text files of numbers, as `--points FILE` and `--at X=@FILE.csv` read them: one number
syntax for a cell, one way to decode the bytes, one way to tell the separator.

A cell is a number as docs/batches.md says: optional spaces, an optional sign, digits with an
optional decimal point (`3`, `2.5`, `.5`, `1.`), an optional exponent (`1e-3`, `2E+2`), ASCII
only. Python's float() is more lenient (`1_0`, Arabic-Indic or full-width digits), so it only
ever sees a cell that has passed this test. Text is UTF-8, with or without a byte-order mark.
Columns are separated by commas, or by tabs or semicolons when the first line has them
(spreadsheets of many locales write those).
"""

from __future__ import annotations

import re

from ..errors import InputError, Text, as_parts

_NUMBER = re.compile(r"[ \t]*[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?[ \t]*\Z")
_NONFINITE = re.compile(r"[ \t]*[+-]?(?:inf|infinity|nan)[ \t]*\Z", re.IGNORECASE)
_DECIMAL_COMMA = re.compile(r"[ \t]*[+-]?[0-9]+,[0-9]+[ \t]*\Z")
BOM = b"\xef\xbb\xbf"
SEPARATORS = {",": "comma", ";": "semicolon", "\t": "tab"}


def is_number(cell: str) -> bool:
    """Whether a cell is written in the number syntax (finite or not: see number_problem)."""
    return _NUMBER.match(cell) is not None


def number(cell: str) -> float | None:
    """The cell's value, or None when it is not written in the number syntax."""
    return float(cell) if _NUMBER.match(cell) else None


def number_problem(cell: str, name: str | None = None, hint: str = "") -> tuple[str, str]:
    """Why a cell that is not a finite number in the syntax is refused, and a hint (or ''):
    name is its column's name, if it has one; hint is the hint for text that is no number at
    all, unless a better one applies."""
    text = cell.strip()
    of = "" if name is None else f" of '{name}'"
    if not text:
        return "missing value" + ("" if name is None else f" for '{name}'"), ""
    if _NONFINITE.match(cell) or is_number(cell):
        return f"the value{of} is not finite ({text})", ""
    shown = text if len(text) <= 40 else text[:37] + "..."
    if _DECIMAL_COMMA.match(cell):
        hint = f"a decimal comma? write {text.replace(',', '.')}"
    elif any(not c.isascii() for c in text) or "_" in text:
        hint = "numbers are written with ASCII digits and no '_' (10, 2.5, -1e-3)"
    return f"'{shown}' is not a number" + ("" if name is None else f" (column '{name}')"), hint


def decode(data: bytes, where: Text) -> str:
    """The text of a file's bytes: UTF-8, a leading byte-order mark dropped; an InputError
    naming the line and byte of the first invalid sequence otherwise."""
    if data.startswith(BOM):
        data = data[len(BOM):]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise InputError((*as_parts(where), f": not UTF-8 text (line {line}, byte "
                          f"{exc.start + 1}: 0x{data[exc.start]:02x})"),
                         hint="save the file as UTF-8 (e.g. iconv -f latin1 -t utf-8)"
                         ) from None


def separator(first_line: str) -> str:
    """The column separator of a table whose first line is given: a tab if the line has one,
    else a semicolon if it has one (a comma is then a decimal comma, refused with a hint),
    else a comma."""
    for sep in ("\t", ";"):
        if sep in first_line:
            return sep
    return ","
