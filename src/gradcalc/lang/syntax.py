"""Text -> syntax tree: a tokenizer and an iterative operator-precedence parser.

Deny by default: only the characters and forms of the expression language are accepted; anything
else is an InputError pointing at its column. No recursion, so nesting depth and length are
limited only by memory and MAX_SOURCE.
"""

from __future__ import annotations

import gc
import itertools
import math
import re
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple, TypeVar

from .. import ops
from ..errors import (
    FOREIGN_CHARS,
    PERCENT_HINT,
    InputError,
    Setting,
    Span,
    attribute_hint,
    foreign_function,
)

MAX_SOURCE = 1_000_000  # characters

# ---------------------------------------------------------------- syntax tree


@dataclass(frozen=True, slots=True)
class Num:
    """A number literal."""

    value: float
    text: str
    span: Span


@dataclass(frozen=True, slots=True)
class Name:
    """A reference to a variable or constant."""

    id: str
    span: Span


@dataclass(frozen=True, slots=True)
class Unary:
    """A prefix operator: '-' or '+'."""

    op: str
    operand: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class Binary:
    """An infix operator: + - * / % ^ (and ** written as ^)."""

    op: str
    left: Expr
    right: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class Call:
    """A call of a function from the op table."""

    func: str
    args: tuple[Expr, ...]
    span: Span
    name_span: Span


@dataclass(frozen=True, slots=True)
class UserCall:
    """A call of a function defined earlier in the program (expanded inline when run)."""

    func: str
    args: tuple[Expr, ...]
    span: Span
    name_span: Span


@dataclass(frozen=True, slots=True)
class Index:
    """A component of a vector, `base[index]`, or of a matrix, `base[index, column]` (a row
    when column is None): the indices are whole-number literals."""

    base: Expr
    index: int
    span: Span
    index_span: Span
    column: int | None = None
    column_span: Span | None = None


Expr = Num | Name | Unary | Binary | Call | UserCall | Index


@dataclass(frozen=True, slots=True)
class FuncDef:
    """A function definition `name(param, ...) = body`; the body sees only its parameters."""

    name: str
    params: tuple[str, ...]
    body: Expr
    span: Span
    name_span: Span


@dataclass(frozen=True, slots=True)
class Assign:
    """A statement `target op value` with op one of = += -= *= /=."""

    target: str
    op: str
    value: Expr
    span: Span
    target_span: Span


class Program:
    """Statements in order; the last may be a bare expression (the output); functions: the
    program's function definitions by name, in order.

    A program compiled straight to flat instructions (engine.program.parse_flat) has its
    syntax tree made from the source the first time something reads its statements or
    functions (Program.lazy); compiled then holds what the compiler made of it."""

    __slots__ = ("_statements", "source", "_functions", "compiled")

    def __init__(self, statements: tuple[Assign | Expr, ...], source: str,
                 functions: dict[str, FuncDef] | None = None):
        self._statements: tuple[Assign | Expr, ...] | None = statements
        self.source = source
        self._functions: dict[str, FuncDef] | None = {} if functions is None else functions
        self.compiled: Any = None

    @classmethod
    def lazy(cls, source: str) -> Program:
        """A program whose syntax tree is parsed from source when first read (the caller
        knows source parses)."""
        program = cls((), source)
        program._statements = program._functions = None
        return program

    def _tree(self) -> None:
        tree = parse(self.source)
        self._statements, self._functions = tree._statements, tree._functions

    @property
    def statements(self) -> tuple[Assign | Expr, ...]:
        if self._statements is None:
            self._tree()
        assert self._statements is not None
        return self._statements

    @property
    def functions(self) -> dict[str, FuncDef]:
        if self._functions is None:
            self._tree()
        assert self._functions is not None
        return self._functions

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Program):
            return NotImplemented
        return (self.source, self.statements) == (other.source, other.statements)

    def __hash__(self) -> int:
        return hash((self.source, self.statements))

    def __repr__(self) -> str:
        return f"Program(statements={self.statements!r}, source={self.source!r})"


def children(node: Expr) -> tuple[Expr, ...]:
    """The direct sub-expressions of a node, left to right."""
    if isinstance(node, Binary):
        return (node.left, node.right)
    if isinstance(node, Unary):
        return (node.operand,)
    if isinstance(node, (Call, UserCall)):
        return node.args
    if isinstance(node, Index):
        return (node.base,)
    return ()


def postorder(root: Expr) -> Iterator[Expr]:
    """Every node of the tree, children before parents, left to right, without recursion."""
    stack: list[tuple[Expr, bool]] = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        kids = children(node)
        if expanded or not kids:
            yield node
            continue
        stack.append((node, True))
        stack.extend((k, False) for k in reversed(kids))


T = TypeVar("T")


def fold(root: Expr, visit: Callable[[Expr, list[Any]], T]) -> T:
    """Bottom-up evaluation: visit(node, results of its children) for every node, iteratively."""
    results: list[Any] = []
    for node in postorder(root):
        n = len(children(node))
        args = results[len(results) - n:] if n else []
        if n:
            del results[len(results) - n:]
        results.append(visit(node, args))
    return results[0]


def free_names(program: Program) -> list[str]:
    """The program's inputs: names used before any assignment to them, other than the
    constants pi and e, in first-use order."""
    assigned: set[str] = set()
    seen: dict[str, None] = {}
    for stmt in program.statements:
        expr = stmt.value if isinstance(stmt, Assign) else stmt
        for name in names(expr):
            if name not in assigned and name not in ops.CONSTANTS:
                seen.setdefault(name)
        if isinstance(stmt, Assign):
            if stmt.op != "=" and stmt.target not in assigned:
                seen.setdefault(stmt.target)
            assigned.add(stmt.target)
    return list(seen)


def names(root: Expr) -> list[str]:
    """Names referenced in an expression, in first-use order."""
    seen: dict[str, None] = {}
    for node in postorder(root):
        if isinstance(node, Name):
            seen.setdefault(node.id)
    return list(seen)


# ---------------------------------------------------------------- printing

_PREC = {"+": 1, "-": 1, "*": 2, "/": 2, "%": 2, "@": 2, "^": 4}
_UNARY_PREC = 3
_ATOM = 5


def to_source(root: Expr) -> str:
    """The expression in the language's own syntax, with only the parentheses it needs."""

    def visit(node: Expr, kids: list[tuple[str, int]]) -> tuple[str, int]:
        if isinstance(node, Num):
            return node.text, _ATOM
        if isinstance(node, Name):
            return node.id, _ATOM
        if isinstance(node, (Call, UserCall)):
            return f"{node.func}({', '.join(t for t, _ in kids)})", _ATOM
        if isinstance(node, Index):
            text, prec = kids[0]
            at = f"{node.index}" if node.column is None else f"{node.index},{node.column}"
            return (text if prec == _ATOM else f"({text})") + f"[{at}]", _ATOM
        if isinstance(node, Unary):
            text, prec = kids[0]
            if prec <= _UNARY_PREC:
                text = f"({text})"
            return node.op + text, _UNARY_PREC
        prec = _PREC[node.op]
        (lt, lp), (rt, rp) = kids
        right_assoc = node.op == "^"
        if lp < prec or (lp == prec and right_assoc):
            lt = f"({lt})"
        if rp < prec or (rp == prec and not right_assoc):
            rt = f"({rt})"
        sep = "^" if node.op == "^" else f" {node.op} "
        return f"{lt}{sep}{rt}", prec

    return fold(root, visit)[0]


# ---------------------------------------------------------------- tokens


class Token(NamedTuple):
    """A lexical token: kind is num, name, op, sep (newline or ';') or end. A tuple: a program
    has one per operator and operand, and a tuple is made several times faster than a frozen
    dataclass."""

    kind: str
    text: str
    start: int
    end: int

    @property
    def span(self) -> Span:
        return Span(self.start, self.end)


_TOKEN = re.compile(
    r"""
    (?P<skip>[ \t\r]+|\#[^\n]*)
  | (?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<cmp>==|!=|<=|>=|<|>|!)
  | (?P<op>\*\*|[-+*/]=|[-+*/%^(),=\[\]@])
  | (?P<sep>[\n;])
    """,
    re.VERBOSE | re.ASCII,  # \d is 0-9 only: a digit of another script is no number
)

_LOOKALIKES = {
    "\u2212": "-", "\u2013": "-", "\u2014": "-", "\u00d7": "*", "\u22c5": "*", "\u00b7": "*",
    "\u00f7": "/", "\u2044": "/", "\uff08": "(", "\uff09": ")", "\u00b2": "^2", "\u00b3": "^3",
}


def _bad_char(source: str, i: int) -> InputError:
    ch = source[i]
    span = Span(i, i + 1)
    if ch in _LOOKALIKES:
        return InputError(f"unexpected character {ch!r} (U+{ord(ch):04X}); write "
                          f"'{_LOOKALIKES[ch]}' instead", span, source)
    if ch in "'\"`":
        return InputError("strings are not part of the expression language", span, source)
    if ch == ".":
        return InputError("unexpected '.' (attribute access is not part of the language)",
                          span, source, attribute_hint(source, i, [*ops.FUNCTIONS,
                                                                    *ops.CONSTANTS]) or "")
    if ch.isdigit():  # a digit of another script (Arabic-Indic, full-width)
        import unicodedata

        return InputError(f"unexpected character {ch!r}", span, source,
                          f"digits are ASCII: write {unicodedata.digit(ch, '0-9')}")
    if ch.isprintable() and not ch.isspace():
        return InputError(f"unexpected character {ch!r}", span, source,
                          FOREIGN_CHARS.get(ch, ""))
    return InputError(f"unexpected character U+{ord(ch):04X}", span, source)


# The tokens of _TOKEN without its comparisons, none of them in a group: findall() then
# gives every token's text in one C call. The kind of a token follows from its first character.
_TEXTS = re.compile(r"[ \t\r]+|\#[^\n]*|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"
                    r"|[A-Za-z_][A-Za-z0-9_]*|\*\*|[-+*/]=|[-+*/%^(),=\[\]@]|[\n;]", re.ASCII)
_KIND = {**dict.fromkeys(" \t\r#", "skip"), **dict.fromkeys("0123456789.", "num"),
         **dict.fromkeys("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_", "name"),
         **dict.fromkeys("*+-/%^(),=[]@", "op"), **dict.fromkeys("\n;", "sep")}
_COMPARISON = re.compile(r"[<>!]|==")


# The tokens of _TEXTS with the blanks before each absorbed into its match: findall() then
# gives only the tokens' texts. It skips what no token matches, so token_list() checks that
# the texts cover every character that is not blank (comments, where anything goes, take
# token_texts()). A number run into a '.' (1.2.3) comes out as two numbers in a row, which no
# parse accepts.
_SPACED = re.compile(r"[ \t\r]*((?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|[A-Za-z_][A-Za-z0-9_]*|\*\*"
                     r"|[-+*/]=|[-+*/%^(),=\[\]@]|[\n;])", re.ASCII)


def token_list(source: str) -> list[str] | None:
    """The texts of source's tokens (blanks and comments left out) from one C regular-
    expression pass; None where that pass would not cover the source exactly, a number runs
    into a digit or a '.', or the source is too long (tokenize() then decides and words the
    error). token_texts() gives the same tokens with their offsets."""
    if "#" in source:
        tokens = token_texts(source)
        if tokens is None:
            return None
        n = len(source)
        for text, end in tokens:
            if text[0] in "0123456789." and end < n and source[end] in "0123456789.":
                return None
        return [text for text, _ in tokens]
    if len(source) > MAX_SOURCE:
        return None
    texts = _SPACED.findall(source)
    blanks = source.count(" ") + source.count("\t") + source.count("\r")
    if sum(map(len, texts)) != len(source) - blanks:
        return None   # a character no token takes (outside the language, a comparison)
    return texts


def token_texts(source: str) -> list[tuple[str, int]] | None:
    """(text, end offset) of each of source's tokens, blanks and comments left out, from one C
    regular-expression pass; None where that pass does not cover the source exactly or the
    source is too long (tokenize() then decides and words the error)."""
    if len(source) > MAX_SOURCE or _COMPARISON.search(source):
        return None
    texts = _TEXTS.findall(source)
    ends = list(itertools.accumulate(map(len, texts)))
    if (ends[-1] if ends else 0) != len(source):
        return None
    return [(t, e) for t, e in zip(texts, ends, strict=True) if t[0] not in " \t\r#"]


def tokenize(source: str) -> list[Token]:
    """Split source into tokens; the list always ends with an `end` token."""
    if len(source) > MAX_SOURCE:
        raise InputError(f"input is too long ({len(source):,} characters; the limit is "
                         f"{MAX_SOURCE:,})")
    # The fast way: all texts at once, then their kinds and offsets. It covers the source
    # exactly when every character belongs to a token; anything else (a character outside the
    # language, a comparison, a number run into a '.' or a digit) is for _tokens(), which
    # raises the error that names it.
    texts = _TEXTS.findall(source)
    ends = list(itertools.accumulate(map(len, texts)))
    if (ends[-1] if ends else 0) != len(source) or _COMPARISON.search(source):
        return _tokens(source)
    kind = _KIND
    new = tuple.__new__
    tokens = [new(Token, (kind[t[0]], t, e - len(t), e)) for t, e in zip(texts, ends,
                                                                          strict=True)
              if kind[t[0]] != "skip"]
    n = len(source)
    for tok in tokens:
        if tok[0] == "num" and tok[3] < n and source[tok[3]] in "0123456789.":
            return _tokens(source)  # a malformed number
    tokens.append(Token("end", "", n, n))
    return tokens


def _tokens(source: str) -> list[Token]:
    """tokenize(), one match at a time, raising an InputError at the first character that does
    not belong to a token."""
    tokens: list[Token] = []
    pos, n = 0, len(source)
    match = _TOKEN.match
    while pos < n:
        m = match(source, pos)
        if m is None:
            raise _bad_char(source, pos)
        kind = m.lastgroup
        end = m.end()
        if kind == "cmp":
            if m.group() == "!":
                raise InputError("unexpected '!'", Span(pos, end), source, FOREIGN_CHARS["!"])
            raise InputError(f"unexpected '{m.group()}' (comparisons are not part of the "
                             "language)", Span(pos, end), source)
        if kind == "num":
            if end < n and (source[end] == "." or source[end].isdigit()):
                raise InputError("malformed number", Span(pos, end + 1), source)
        if kind != "skip":
            assert kind is not None
            tokens.append(Token(kind, m.group(), pos, end))
        pos = end
    tokens.append(Token("end", "", n, n))
    return tokens


# ---------------------------------------------------------------- parser

_BINARY = {"+", "-", "*", "/", "%", "@", "^", "**"}
_ASSIGN_OPS = {"=", "+=", "-=", "*=", "/="}


@dataclass(slots=True)
class _Open:
    """An open parenthesis or call on the operator stack."""

    token: Token
    func: str | None = None
    name_token: Token | None = None
    argc: int = 0
    base: int = 0  # operand-stack height when it opened


def _number(tok: Token, source: str) -> Num:
    value = float(tok.text)
    if math.isinf(value):
        raise InputError(f"number {tok.text} is too large for a float", tok.span, source)
    return Num(value, tok.text, tok.span)


def _describe(tok: Token) -> str:
    if tok.kind == "end":
        return "end of input"
    if tok.kind == "sep":
        return "end of line" if tok.text == "\n" else "';'"
    return f"'{tok.text}'"


class _Parser:
    def __init__(self, source: str):
        self.source = source
        self.tokens = tokenize(source)
        self.pos = 0
        self.functions: dict[str, FuncDef] = {}   # defined so far
        self.defining: str | None = None           # the function whose body is being parsed
        defs = _definitions(self.tokens)           # name tokens of definition statements
        self.def_starts = {t.start for t in defs}
        self.later: dict[str, Token] = {}          # each defined name's first definition
        for t in defs:
            self.later.setdefault(t.text, t)
        self.assigned: set[str] = set()

    def error(self, message: str, span: Span) -> InputError:
        return InputError(message, span, self.source)

    def peek(self, k: int = 0) -> Token:
        try:
            return self.tokens[self.pos + k]
        except IndexError:  # past the end: the `end` token
            return self.tokens[-1]

    # -- statements

    def program(self) -> Program:
        statements: list[Assign | Expr] = []
        while True:
            while self.peek().kind == "sep":
                self.pos += 1
            tok = self.peek()
            if tok.kind == "end":
                break
            if statements and not isinstance(statements[-1], Assign):
                raise self.error("only the last statement may be a bare expression; "
                                 "assign it to a name", _span_of(statements[-1]))
            if tok.kind == "name" and tok.start in self.def_starts:
                fdef = self.definition()
                self.functions[fdef.name] = fdef
            else:
                statements.append(self.statement())
            nxt = self.peek()
            if nxt.kind not in ("sep", "end"):
                raise self.error(f"unexpected {_describe(nxt)}", nxt.span)
        if not statements:
            if self.functions:
                raise self.error("the program only defines functions; add a statement that "
                                 "uses them", Span(0, max(1, len(self.source))))
            raise self.error("empty expression", Span(0, max(1, len(self.source))))
        return Program(tuple(statements), self.source, dict(self.functions))

    def is_function(self, name: str) -> bool:
        """Whether name is a built-in function or one defined earlier in the program."""
        return name in ops.FUNCTIONS or name in self.functions

    def definition(self) -> FuncDef:
        """`name(param, ...) = body`: parameters are plain, distinct names; the body may use
        only them and constants, and call built-ins and functions defined before this one."""
        name_tok = self.peek()
        name = name_tok.text
        if name in ops.FUNCTIONS:
            raise self.error(f"cannot define '{name}': it is a built-in function", name_tok.span)
        if name in ops.CONSTANTS:
            raise self.error(f"cannot define '{name}': it is a constant", name_tok.span)
        if name in self.functions:
            raise self.error(f"function '{name}' is already defined", name_tok.span)
        if name in self.assigned:
            raise self.error(f"cannot define function '{name}': it is already a variable",
                             name_tok.span)
        self.pos += 2  # name (
        params: list[str] = []
        seen: set[str] = set()   # (a set: a wide definition is not quadratic)
        while True:
            tok = self.peek()
            if tok.kind == "op" and tok.text == ")" and not params:
                break
            if tok.kind != "name":
                raise self.error(f"a parameter must be a name, not {_describe(tok)}", tok.span)
            if tok.text in seen:
                raise self.error(f"duplicate parameter '{tok.text}'", tok.span)
            if self.is_function(tok.text) or tok.text in ops.CONSTANTS:
                kind = "constant" if tok.text in ops.CONSTANTS else "function"
                raise self.error(f"parameter '{tok.text}' would hide the {kind} {tok.text}",
                                 tok.span)
            params.append(tok.text)
            seen.add(tok.text)
            sep = self.peek(1)
            self.pos += 2
            if sep.text == ")":
                break
            if sep.text != ",":
                raise self.error(f"unexpected {_describe(sep)} in the parameter list",
                                 sep.span)
        eq = self.peek()
        if eq.text != "=":
            raise self.error(f"a function is defined with '=', not {_describe(eq)}", eq.span)
        self.pos += 1
        self.defining = name
        try:
            body = self.expression()
        finally:
            self.defining = None
        for node in postorder(body):
            if isinstance(node, Name) and node.id not in seen and node.id not in ops.CONSTANTS:
                raise InputError(f"'{node.id}' is not a parameter of {name}(); a function "
                                 "sees only its parameters", node.span, self.source,
                                 f"add {node.id} to them and pass it in")
        return FuncDef(name, tuple(params), body, name_tok.span.join(body.span), name_tok.span)

    def statement(self) -> Assign | Expr:
        tok, nxt = self.peek(), self.peek(1)
        if tok.kind == "name" and nxt.kind == "op" and nxt.text in _ASSIGN_OPS:
            if self.is_function(tok.text):
                raise self.error(f"cannot assign to '{tok.text}': it is a function", tok.span)
            self.assigned.add(tok.text)
            self.pos += 2
            value = self.expression()
            return Assign(tok.text, nxt.text, value, tok.span.join(_span_of(value)), tok.span)
        return self.expression()

    # -- expressions: operator precedence with explicit stacks

    def expression(self) -> Expr:
        source = self.source
        operands: list[Expr] = []
        # operator stack entries: ("bin", op, tok) | ("neg", op, tok) | _Open
        stack: list[Any] = []
        expect_operand = True
        prev: Token | None = None

        def reduce_top() -> None:
            kind, op, tok, _ = stack.pop()
            if kind == "bin":
                right = operands.pop()
                left = operands[-1]
                a, b = left.span, right.span
                operands[-1] = Binary(op, left, right,
                                      Span(a.start if a.start < b.start else b.start,
                                           a.end if a.end > b.end else b.end))
            else:
                operand = operands[-1]
                b = operand.span
                operands[-1] = Unary(op, operand, Span(tok.start if tok.start < b.start
                                                       else b.start,
                                                       tok.end if tok.end > b.end else b.end))

        def depth() -> int:
            return sum(1 for e in stack if isinstance(e, _Open))

        tokens = self.tokens  # the last is `end`, where every statement stops
        while True:
            tok = tokens[self.pos]
            if tok.kind == "sep" and tok.text == "\n" and depth():
                self.pos += 1  # newlines inside parentheses are whitespace
                continue
            if expect_operand:
                if tok.kind == "num":
                    operands.append(_number(tok, source))
                    expect_operand = False
                elif tok.kind == "name":
                    nxt = tokens[self.pos + 1]
                    if nxt.kind == "op" and nxt.text == "(":
                        if not self.is_function(tok.text):
                            raise self.unknown_function(tok)
                        stack.append(_Open(nxt, tok.text, tok, 0, len(operands)))
                        self.pos += 1
                        tok = nxt
                    elif self.is_function(tok.text):
                        raise self.error(f"'{tok.text}' is a function; call it as "
                                         f"{tok.text}(...)", tok.span)
                    else:
                        operands.append(Name(tok.text, Span(tok.start, tok.end)))
                        expect_operand = False
                elif tok.kind == "op" and tok.text == "(":
                    stack.append(_Open(tok, base=len(operands)))
                elif tok.kind == "op" and tok.text in ("-", "+"):
                    stack.append(("neg", tok.text, tok, _UNARY_PREC))
                elif tok.kind == "op" and tok.text == "[":
                    raise InputError("unexpected '[' (vector literals are not part of the "
                                     "language)", tok.span, source,
                                     ("bind a vector with ", Setting("at", "w=[1,2,3]")))
                elif (tok.kind == "op" and tok.text == ")" and stack
                      and isinstance(stack[-1], _Open) and stack[-1].func is not None
                      and len(operands) == stack[-1].base and prev is stack[-1].token):
                    self._close_call(stack.pop(), operands, tok, 0)
                    expect_operand = False
                elif prev is not None and prev.text == "%":   # 50% or x%*2: a percent
                    raise InputError(f"unexpected {_describe(tok)} after '%'", tok.span if
                                     tok.kind not in ("end", "sep") else prev.span, source,
                                     PERCENT_HINT)
                elif tok.kind in ("end", "sep"):
                    where = f"after {_describe(prev)}" if prev is not None else ""
                    raise self.error(f"expression ends too early {where}".rstrip(), tok.span
                                     if tok.kind == "sep" else Span(tok.start, tok.start + 1))
                else:
                    raise self.error(f"unexpected {_describe(tok)}", tok.span)
                prev = tok
                self.pos += 1
                continue

            # expecting an operator
            if tok.kind == "op" and tok.text == "[":
                operands.append(self.index(operands.pop()))
                prev = tokens[self.pos]
                self.pos += 1
                continue
            if tok.kind == "op" and tok.text in _BINARY:
                op = "^" if tok.text == "**" else tok.text
                prec = _PREC[op]
                while stack and type(stack[-1]) is tuple:
                    top = stack[-1][3]
                    if top > prec or (top == prec and op != "^"):
                        reduce_top()
                    else:
                        break
                stack.append(("bin", op, tok, prec))
                expect_operand = True
            elif tok.kind == "op" and tok.text in (")", ","):
                while stack and not isinstance(stack[-1], _Open):
                    reduce_top()
                if not stack:
                    raise self.error(f"unexpected {_describe(tok)}"
                                     + (" (no '(' to close)" if tok.text == ")" else
                                        " (commas separate function arguments)"), tok.span)
                top = stack[-1]
                if tok.text == ",":
                    if top.func is None:
                        raise self.error("unexpected ',' (commas separate function arguments)",
                                         tok.span)
                    top.argc += 1
                    expect_operand = True
                else:
                    stack.pop()
                    if top.func is not None:
                        self._close_call(top, operands, tok, top.argc + 1)
            elif tok.kind in ("end", "sep"):
                while stack and not isinstance(stack[-1], _Open):
                    reduce_top()
                if stack:
                    open_tok = stack[-1].token
                    raise self.error("'(' is never closed", open_tok.span)
                return operands[0]
            elif tok.kind == "op" and tok.text in _ASSIGN_OPS:
                raise self.error(f"unexpected {_describe(tok)} (an assignment must be "
                                 "`name = expression` at the start of a statement)", tok.span)
            elif tok.kind in ("num", "name") or (tok.kind == "op" and tok.text == "("):
                if prev is not None and prev.kind == "num" and tok.kind == "name":
                    hint = f"write {prev.text}*{tok.text}"
                else:
                    hint = "multiplication must be written with *"
                raise InputError(f"missing operator before {_describe(tok)}", tok.span, source,
                                 hint)
            else:
                raise self.error(f"unexpected {_describe(tok)}", tok.span)
            prev = tok
            self.pos += 1

    def _close_call(self, open_: _Open, operands: list[Expr], close: Token, argc: int) -> None:
        assert open_.name_token is not None and open_.func is not None
        name_tok = open_.name_token
        args = tuple(operands[len(operands) - argc:]) if argc else ()
        if argc:
            del operands[len(operands) - argc:]
        if open_.func in self.functions:
            params = self.functions[open_.func].params
            if argc != len(params):
                raise self.error(f"{open_.func}() takes {len(params)} argument"
                                 f"{'' if len(params) == 1 else 's'} "
                                 f"({', '.join(params)}), got {argc}",
                                 name_tok.span.join(close.span))
            operands.append(UserCall(open_.func, args, name_tok.span.join(close.span),
                                     name_tok.span))
            return
        if ops.resolve(open_.func, argc) is None:
            raise self.error(f"{open_.func}() takes {ops.arities(open_.func)} argument"
                             f"{'' if ops.arities(open_.func) == '1' else 's'}, got {argc}",
                             name_tok.span.join(close.span))
        operands.append(Call(open_.func, args, name_tok.span.join(close.span), name_tok.span))


    def index(self, base: Expr) -> Index:
        """`base[k]` with the '[' at the current token: k must be a whole-number literal."""
        open_tok, num, close = self.peek(), self.peek(1), self.peek(2)
        if num.kind != "num" or not num.text.isdigit():
            raise self.error("an index must be a whole number, counting from 0, as in w[0]",
                             num.span if num.kind not in ("end", "sep") else open_tok.span)
        column: Token | None = None
        if close.text == ",":  # A[i, j]
            column, close = self.peek(3), self.peek(4)
            if column.kind != "num" or not column.text.isdigit():
                raise self.error("a column index must be a whole number, counting from 0, as "
                                 "in A[0,1]", column.span if column.kind not in ("end", "sep")
                                 else num.span)
        if close.text != "]":
            raise self.error(f"expected ']' to close the index, not {_describe(close)}",
                             close.span)
        self.pos += 2 if column is None else 4  # the caller steps over ']'
        if column is None:
            return Index(base, int(num.text), base.span.join(close.span), num.span)
        return Index(base, int(num.text), base.span.join(close.span), num.span,
                     int(column.text), column.span)

    def unknown_function(self, tok: Token) -> InputError:
        """The error for a call of a name that is not a function (yet)."""
        name = tok.text
        if name == self.defining:
            return self.error(f"recursion is not supported: {name}() calls itself", tok.span)
        if name in self.later:
            where = self.later[name]
            line = self.source.count("\n", 0, where.start) + 1
            return InputError(f"{name}() is called before its definition on line {line}",
                              tok.span, self.source, "define a function before calling it "
                              "(functions cannot call each other in a cycle)")
        import difflib  # only on errors: start-up cost of the CLI

        close = difflib.get_close_matches(name, [*ops.FUNCTIONS, *self.functions], n=1,
                                          cutoff=0.6)
        hint = foreign_function(name, list(ops.FUNCTIONS)) or (
            f"did you mean {close[0]}?" if close else f"to multiply, write {name}*(...)")
        return InputError(f"unknown function '{name}'", tok.span, self.source, hint)


def _definitions(tokens: list[Token]) -> list[Token]:
    """The name token of each statement shaped like a definition, `name(...) =`."""
    found: list[Token] = []
    start = True
    for i, tok in enumerate(tokens):
        if start and tok.kind == "name" and tokens[i + 1].text == "(":
            j = i + 2
            while tokens[j].kind not in ("sep", "end") and tokens[j].text not in ("(", ")"):
                j += 1
            if tokens[j].text == ")" and tokens[j + 1].text in _ASSIGN_OPS:
                found.append(tok)
        start = tok.kind == "sep"
    return found


def _span_of(node: Assign | Expr) -> Span:
    return node.span


def parse(source: str) -> Program:
    """Parse an expression or a program."""
    # Python's cyclic garbage collector is paused: the tree's O(n) objects form no cycles to
    # reclaim, and its repeated scans of them made a 100,000-node parse about 1.5x slower
    was = gc.isenabled()
    gc.disable()
    try:
        program = _Parser(source).program()
    finally:
        if was:
            gc.enable()
    return program


def check_inf(program: Program, bound: Collection[str] = ()) -> None:
    """`inf` is norm's order (norm(x, inf)) and nothing else, gradcalc's numbers being finite;
    unless a binding of that name shadows the constant (as pi and e can be shadowed)."""
    if "inf" in bound or "inf" not in program.source:
        return
    roots = [s.value if isinstance(s, Assign) else s for s in program.statements]
    roots += [f.body for f in program.functions.values()]
    allowed: set[int] = set()
    found: list[Name] = []
    for root in roots:
        for node in postorder(root):
            if isinstance(node, Call) and node.func == "norm" and len(node.args) == 2:
                allowed.add(id(node.args[1]))
            elif isinstance(node, Name) and node.id == "inf":
                found.append(node)
    for node in found:
        if id(node) not in allowed:
            raise InputError("inf is only the order of a norm, norm(x, inf): numbers are "
                             "finite", node.span, program.source,
                             "for a large number write it out (1e300)")


def parse_expression(source: str) -> Expr:
    """Parse a single expression (no assignments, one statement)."""
    program = parse(source)
    if len(program.statements) != 1 or isinstance(program.statements[0], Assign):
        first = program.statements[0]
        raise InputError("expected a single expression", first.span, source)
    return program.statements[0]


def split_top_level(text: str) -> list[tuple[int, str]]:
    """Split at commas outside brackets and parentheses: (offset, piece) pairs."""
    pieces: list[tuple[int, str]] = []
    depth, start = 0, 0
    for i, ch in enumerate(text):
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif ch == "," and depth == 0:
            pieces.append((start, text[start:i]))
            start = i + 1
    pieces.append((start, text[start:]))
    return pieces
