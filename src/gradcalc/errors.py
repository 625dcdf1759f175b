"""User-facing errors: one line naming what and where, with a caret under the column."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Span:
    """A half-open character range [start, end) in the source text."""

    start: int
    end: int

    def join(self, other: Span) -> Span:
        """The smallest span covering both spans."""
        return Span(min(self.start, other.start), max(self.end, other.end))


_WINDOW = 60
WORD_CAP = 1_000    # a longer word is not echoed whole in a message: its start and its length
_LONG_WORD = re.compile(rf"\S{{{WORD_CAP + 1},}}")


def capped(text: str) -> str:
    """The text with every word (a run of non-space characters) longer than WORD_CAP shown as
    its first 60 characters, '...' and its length: a 50,000-character name is not echoed."""
    return _LONG_WORD.sub(lambda m: f"{m.group()[:60]}... ({len(m.group()):,} characters)",
                          text)


def number_text(x: Any, limit: int = 8) -> str:
    """A number, or the numbers of an array, as a message shows them: plain Python spelling
    (1.5, nan, inf, [1.0, nan]), never a numpy repr such as np.float64(nan); at most limit
    numbers of an array."""
    if hasattr(x, "tolist"):
        x = x.tolist()
    if isinstance(x, (list, tuple)):   # (nested as deep as the array has dimensions)
        items = [number_text(v, limit) for v in x[:limit]]
        return "[" + ", ".join(items + (["..."] if len(x) > limit else [])) + "]"
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return str(x)
    if isinstance(x, int):
        return str(x)
    return repr(float(x)) if math.isfinite(x) else str(x)


def location(source: str, offset: int) -> str:
    """Where an offset is, 1-based: `line L, column C` in a multi-line source, else `column C`."""
    line = source.count("\n", 0, offset) + 1
    col = offset - (source.rfind("\n", 0, offset) + 1) + 1
    if "\n" in source.rstrip():  # leading blank lines still count: the line number matters
        return f"line {line}, column {col}"
    return f"column {col}"


@dataclass(frozen=True, slots=True)
class Setting:
    """A setting of the request that a message names, as data: the command line words it as
    its option (`--at`, `--points data.csv`), the Python API as the argument passed
    (python_words).
    key: one of SETTINGS; example: what follows it (`x=VALUE`, a file name), or ''."""

    key: str
    example: str = ""


# What each setting is called in Python, the default wording of a message; the command line's
# spelling of each is the CLI's (render.words). The keys are the settings messages name.
SETTINGS: dict[str, str] = {
    "at": "the bindings",
    "wrt": "wrt",
    "of": "of",
    "points": "the points",
    "expect": "the expected values",
    "claim": "the claim",
    "numeric": "numeric",
    "hessian": "the Hessian",
    "symbolic": "the symbolic gradient",
    "dask": "dask",
    "output": "the output",
    "use": "use",
    "keep": "keep",
    "timeout": "the time budget",
    "no_check": "no check",
}

Part = str | Setting
Text = str | Sequence[Part]   # a message: plain text, or text and the settings it names
Wording = Callable[[Setting], str]


def python_words(setting: Setting) -> str:
    """A setting as the Python API's user passes it: `the bindings`, `wrt`, `the binding x=1`."""
    noun = SETTINGS[setting.key]
    if setting.example and setting.key == "at":
        noun = "the binding"
    return f"{noun} {setting.example}" if setting.example else noun


def as_parts(text: Text) -> tuple[Part, ...]:
    """A message as a tuple of its parts (a plain string is one part)."""
    return (text,) if isinstance(text, str) else tuple(text)


def worded(text: Text, words: Wording = python_words) -> str:
    """A message as text, each setting it names worded by `words`."""
    if isinstance(text, str):
        return text
    return "".join(p if isinstance(p, str) else words(p) for p in text)


class InputError(Exception):
    """Bad user input: rendered as `error: ...` with an optional caret excerpt; exit status 2.

    message and hint are plain text or parts naming settings of the request (Setting): the
    CLI words those as its options, anything else as Python (python_words)."""

    def __init__(self, message: Text, span: Span | None = None, source: str | None = None,
                 hint: Text = ""):
        self.parts = as_parts(message)
        self.hint_parts = as_parts(hint)
        super().__init__(worded(self.parts))
        self.span = span
        self.source = source

    @property
    def message(self) -> str:
        """The message worded for Python."""
        return worded(self.parts)

    @property
    def hint(self) -> str:
        """The hint worded for Python ('' without one)."""
        return worded(self.hint_parts)

    def with_source(self, source: str) -> InputError:
        """This error, attached to the text its span points into (if not attached already)."""
        if self.source is None:
            self.source = source
        return self

    def location(self) -> str:
        """`column C` or `line L, column C` (1-based) for the span, or '' without one."""
        if self.span is None or self.source is None:
            return ""
        return location(self.source, self.span.start)

    def render(self, words: Wording = python_words) -> str:
        """The full message: a first line `error: ...`, then the source line and a caret;
        each setting named worded by `words` (the command line's options in the CLI)."""
        head = f"error: {worded(self.parts, words)}"
        where = self.location()
        if where:
            head += f" at {where}"
        hint = worded(self.hint_parts, words)
        if hint:
            head += f"; {hint}"
        head = capped(head)
        if not where:
            return head
        src = self.source or ""
        start = self.span.start
        line_start = src.rfind("\n", 0, start) + 1
        line_end = src.find("\n", start)
        if line_end < 0:
            line_end = len(src)
        text = src[line_start:line_end]
        col = start - line_start
        width = max(1, min(self.span.end, line_end, start + _WINDOW) - start)
        # window very long lines around the caret
        lo = max(0, col - _WINDOW)
        hi = min(len(text), col + width + _WINDOW)
        prefix = "..." if lo > 0 else ""
        suffix = "..." if hi < len(text) else ""
        # one printable character per source character keeps the caret aligned
        shown = prefix + "".join(c if c.isprintable() else "?" for c in text[lo:hi]) + suffix
        pad = len(prefix) + col - lo
        caret = "^" + "~" * (min(width, hi - col) - 1)
        return f"{head}\n  {shown}\n  {' ' * pad}{caret}"

    def __str__(self) -> str:
        return self.render()

    def __reduce__(self) -> tuple[Any, ...]:
        # whole, settings and all, across processes (a Dask worker raises it)
        return _restore, (type(self), self.__dict__.copy())


def _restore(cls: type[InputError], state: dict[str, Any]) -> InputError:
    """An InputError from its pickled state (InputError.__reduce__)."""
    exc = cls.__new__(cls)
    Exception.__init__(exc, worded(state["parts"]))
    exc.__dict__.update(state)
    return exc


def unassigned_output(name: str, hint: Text = "") -> InputError:
    """The error for an output to differentiate (--of) that the program never assigns."""
    return InputError((Setting("of"), f" names '{name}', which the program never assigns"),
                      hint=hint)


# the hint for vectors and matrices without bindings: their shapes come from the bindings
SHAPES_HINT: tuple[Part, ...] = (
    "e.g. ", Setting("at", "'X=[[1,2],[3,4]]'"), " ", Setting("at", "'w=[1,-1]'"), " (or ",
    Setting("at", "X=@data.npy"), ")")


# ---------------------------------------------------------------- spellings from elsewhere
# What people type from other calculators, languages and libraries, and gradcalc's spelling.
# Read by the parser (unknown functions, stray characters) and the evaluator (unbound names);
# every hint is the whole advice, so it must be right on its own.

FOREIGN_FUNCTIONS: dict[str, str] = {
    "ln": "write log(...) (the natural logarithm)",
    "exp10": "write 10^(...)",
    "sqr": "write sqrt(...) for the square root, square(...) for the square",
    "arcsin": "write asin(...)",
    "arccos": "write acos(...)",
    "arctan": "write atan(...)",
    "arctan2": "write atan2(y, x)",
    "arcsinh": "write asinh(...)",
    "arccosh": "write acosh(...)",
    "arctanh": "write atanh(...)",
    "sec": "write 1/cos(...)",
    "csc": "write 1/sin(...)",
    "cot": "write 1/tan(...)",
    "fabs": "write abs(...)",
    "absolute": "write abs(...)",
    "power": "write pow(x, y) or x^y",
    "maximum": "write max(...)",
    "minimum": "write min(...)",
    "fmax": "write max(...)",
    "fmin": "write min(...)",
    "remainder": "write mod(x, y) or x % y",
    "radians": "write deg2rad(...)",
    "degrees": "write rad2deg(...)",
    "loggamma": "write lgamma(...)",
    "gammaln": "write lgamma(...)",
    "psi": "write digamma(...)",
    "trigamma": "write polygamma(1, ...)",
    "logistic": "write sigmoid(...)",
    "expit": "write sigmoid(...)",
    "swish": "write x*sigmoid(x)",
    "silu": "write x*sigmoid(x)",
    "sgn": "write sign(...)",
    "signum": "write sign(...)",
    "heaviside": "not in the language (its derivative is 0 wherever it exists)",
    "step": "not in the language (its derivative is 0 wherever it exists)",
}
for _name in ("floor", "ceil", "round", "trunc", "fmod", "rem", "int", "factorial"):
    FOREIGN_FUNCTIONS[_name] = "not in the language: gradcalc has only differentiable functions"

FOREIGN_NAMES: dict[str, str] = {
    "E": "write e (or exp(...))",
    "PI": "write pi",
    "Pi": "write pi",
    "M_PI": "write pi",
    "M_E": "write e",
    "tau": "write 2*pi",
    "inf": "infinity is not a value here: gradcalc computes with finite numbers",
    "Inf": "infinity is not a value here: gradcalc computes with finite numbers",
    "infinity": "infinity is not a value here: gradcalc computes with finite numbers",
    "oo": "infinity is not a value here: gradcalc computes with finite numbers",
    "nan": "nan is not a value here: gradcalc computes with finite numbers",
    "NaN": "nan is not a value here: gradcalc computes with finite numbers",
    "true": "the language has numbers only (no booleans)",
    "false": "the language has numbers only (no booleans)",
    "True": "the language has numbers only (no booleans)",
    "False": "the language has numbers only (no booleans)",
}

PERCENT_HINT = "'%' is the remainder, as in Python (x % y is mod(x, y)); a percent is /100"

FOREIGN_CHARS: dict[str, str] = {
    "|": "write abs(...) for an absolute value",
    "!": "factorials are not part of the language",
    "&": "logical operators are not part of the language",
    "$": "names have no '$' (the shell expands $NAME inside double quotes: use single quotes)",
    "{": "group with ( and )",
    "}": "group with ( and )",
    "\\": "write a program's statements on separate lines or separate them with ';'",
    "~": "write - for a negation",
}


def foreign_function(name: str, known: list[str]) -> str | None:
    """A hint for a call of `name`, a function from another tool, or None.

    known: the language's function names (a differently capitalised one is suggested)."""
    if name in FOREIGN_FUNCTIONS:
        return FOREIGN_FUNCTIONS[name]
    lower = name.lower()
    if lower != name and lower in known:
        return f"names are case-sensitive: write {lower}(...)"
    if lower in FOREIGN_FUNCTIONS:
        return FOREIGN_FUNCTIONS[lower]
    return None


def foreign_name(name: str) -> str | None:
    """A hint for an unbound `name` that is a constant or value from another tool, or None."""
    return FOREIGN_NAMES.get(name)


def attribute_hint(source: str, dot: int, known: list[str]) -> str | None:
    """A hint for `np.exp(x)`, `math.pi`: a module prefix before a name the language knows.

    dot: the offset of the '.'; known: the language's function and constant names."""
    head = dot
    while head > 0 and (source[head - 1].isalnum() or source[head - 1] in "_."):
        head -= 1
    tail = dot + 1
    while tail < len(source) and (source[tail].isalnum() or source[tail] == "_"):
        tail += 1
    prefix, name = source[head:dot], source[dot + 1:tail]
    if not prefix or not name or prefix[0].isdigit():
        return None
    if name in known:
        return f"write {name} without the '{prefix}.' prefix"
    spelled = FOREIGN_FUNCTIONS.get(name) or FOREIGN_NAMES.get(name) or FOREIGN_NAMES.get(
        name.upper())
    if spelled is not None:
        return f"drop the '{prefix}.' prefix; {spelled}"
    return None


class UnboundName(InputError):
    """An unbound name in the program: the command line can list every other one too."""

    def __init__(self, name: str, message: Text, span: Span | None = None,
                 source: str | None = None, hint: Text = ""):
        super().__init__(message, span, source, hint)
        self.name = name


class NotDifferentiable(ArithmeticError):
    """A derivative that does not exist at this point and that a rule would otherwise give as a
    silent inf, nan or arbitrary number (the eigenvectors of a repeated eigenvalue, the singular
    vectors of a repeated singular value): the Python API raises it from the backward pass."""
