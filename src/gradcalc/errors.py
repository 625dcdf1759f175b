"""User-facing errors: one line naming what and where, with a caret under the column."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Span:
    """A half-open character range [start, end) in the source text."""

    start: int
    end: int

    def join(self, other: Span) -> Span:
        """The smallest span covering both spans."""
        return Span(min(self.start, other.start), max(self.end, other.end))


_WINDOW = 60


def location(source: str, offset: int) -> str:
    """Where an offset is, 1-based: `line L, column C` in a multi-line source, else `column C`."""
    line = source.count("\n", 0, offset) + 1
    col = offset - (source.rfind("\n", 0, offset) + 1) + 1
    if "\n" in source.rstrip():  # leading blank lines still count: the line number matters
        return f"line {line}, column {col}"
    return f"column {col}"


class InputError(Exception):
    """Bad user input: rendered as `error: ...` with an optional caret excerpt; exit status 2."""

    def __init__(self, message: str, span: Span | None = None, source: str | None = None,
                 hint: str = ""):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.span = span
        self.source = source

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

    def render(self) -> str:
        """The full message: a first line `error: ...`, then the source line and a caret."""
        head = f"error: {self.message}"
        where = self.location()
        if where:
            head += f" at {where}"
        if self.hint:
            head += f"; {self.hint}"
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
        width = max(1, min(self.span.end, line_end) - start)
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


class CheckTimeout(Exception):
    """The symbolic check ran over its time budget."""
