"""The flat program: a language program as one list of instructions, and its builders.

Instruction k computes slot k: a leaf (a number, or a name resolved when the program runs: a
binding, or the constant pi, e or inf) or a primitive of the op table applied to earlier slots.
Calls of the program's own functions are expanded inline, each a range of slots. Spans are kept
on the side (and, for the messages of run-time errors, the syntax node of each operation, found
from the syntax tree when one is needed). The sweeps (sweep.py) are loops over this list; the
tape's nodes, names and listings are made from it only when something reads them (views.py).

Two builders make the same instructions: parse_flat() compiles the text in one pass of the
parser's operator-precedence loop, straight to instructions (the syntax tree is parsed from the
text only if something reads it); for what that pass leaves to the full parser (function
definitions, indexing, and any error, which the full parser words), compile_program() runs the
statement interpreter over the syntax tree. tests/test_flat.py checks they agree.

    code = code_of(parse_flat("y = sin(x)*x"))
    code.prims[code.output]        # Primitive(mul)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .. import ops, ops_matrix
from ..engine import matrices, sweep
from ..errors import Span
from ..lang.inline import Hooks
from ..lang.interpret import Interpretation, interpret
from ..lang.syntax import (
    Assign,
    Call,
    Expr,
    Index,
    Name,
    Num,
    Program,
    UserCall,
    parse,
    token_list,
    token_texts,
)

# what an instruction is (Code.kinds)
NUMBER = 0   # a literal: Code.numbers[k]
NAME = 1     # a name of the program's text, bound or a constant: Code.names[k]
CONSTANT = 2  # pi, e or inf inside a function body (where bindings are not seen)
OP = 3       # a primitive on its argument slots (an operator, unary minus)
CALL = 4     # a call of a built-in function
INDEX = 5    # base[k] or base[i, j]: the primitive follows from the base's shape
UPDATE = 6   # target op= value: the operator's primitive on (old, value)
RAVEL = 7    # before each argument of a reduction: a matrix's components as a vector, or
             # (anything else) the argument itself, when no instruction of the tape


@dataclass(slots=True)
class CallSlots:
    """One expanded call of a program's function: the slots [first, end) its body computed,
    its argument slots, its result slot and where the call is written."""

    func: str
    path: tuple[str, ...]
    first: int
    end: int
    args: list[int]
    result: int
    span: Span | None = None


@dataclass(slots=True)
class Code:
    """A program as flat instructions (see the module docstring).

    Per slot: kinds, prims (None for a leaf), args (argument slots), starts and ends (the
    span), dep (it depends on a NAME leaf). names: slot -> name of NAME leaves (by_name: the
    other way); numbers: slot -> value of NUMBER and CONSTANT leaves (constant_names: the
    constant's name). assigns: (slot, target) per assignment in order; calls: each expanded
    call, in the order they end; events: both, in the order they happened (the tape's labels
    follow it); env: each assigned name's last slot; output: the last statement's slot, and
    output_name its target (None for a bare expression); functions: the names the program
    defines as functions. The errors that depend on the bindings, each raised before a slot
    unless an earlier slot fails first, each with the index of its statement: bound_targets
    (slot, statement, target, its span: a statement assigns a bound name), free_names (slot of
    a NAME leaf, statement, how many assignments came before it: unbound unless a binding or a
    constant), undefined ((slot, statement, target, span): `x += ...` of a name not assigned
    yet)."""

    program: Program
    kinds: list[int] = field(default_factory=list)
    prims: list[ops.Primitive | None] = field(default_factory=list)
    args: list[tuple[int, ...]] = field(default_factory=list)
    starts: list[int] = field(default_factory=list)
    ends: list[int] = field(default_factory=list)
    dep: bytearray = field(default_factory=bytearray)
    names: dict[int, str] = field(default_factory=dict)
    numbers: dict[int, float] = field(default_factory=dict)
    constant_names: dict[int, str] = field(default_factory=dict)
    assigns: list[tuple[int, str]] = field(default_factory=list)
    calls: list[CallSlots] = field(default_factory=list)
    events: list[tuple[int, str] | CallSlots] = field(default_factory=list)
    env: dict[str, int] = field(default_factory=dict)
    by_name: dict[str, int] = field(default_factory=dict)
    output: int = -1
    output_name: str | None = None
    functions: frozenset[str] = frozenset()
    bound_targets: list[tuple[int, int, str, int, int]] = field(default_factory=list)
    free_names: list[tuple[int, int, int]] = field(default_factory=list)
    undefined: list[tuple[int, int, str, int, int]] = field(default_factory=list)
    statement: int = -1   # (while building: the statement's index)
    exprs: list[Any] | None = None
    offsets: Any = None   # token -> (start, end) where starts and ends are token positions
    _plan: tuple[sweep.Plan, list[int]] | None = None
    _spans: list[Span | None] | None = None

    def __len__(self) -> int:
        return len(self.kinds)

    def emit(self, kind: int, prim: ops.Primitive | None, args: tuple[int, ...],
             span: Span | None) -> int:
        """Append one instruction; returns its slot."""
        self.kinds.append(kind)
        self.prims.append(prim)
        self.args.append(args)
        self.starts.append(-1 if span is None else span.start)
        self.ends.append(-1 if span is None else span.end)
        dep = self.dep
        dep.append(kind == NAME or any(dep[a] for a in args))
        return len(self.kinds) - 1

    @property
    def spans(self) -> list[Span | None]:
        """Each instruction's place in the source (None for a RAVEL, which has none)."""
        if self._spans is None or len(self._spans) != len(self.kinds):
            span = self.span
            self._spans = [None if s < 0 else span(s, e)
                           for s, e in zip(self.starts, self.ends, strict=True)]
        return self._spans

    def span(self, start: int, end: int) -> Span:
        """The source span of a (start, end) pair as kept here (offsets, or token
        positions)."""
        if self.offsets is None:
            return Span(start, end)
        return Span(self.offsets[start][0], self.offsets[end][1])

    def expr(self, k: int) -> Any:
        """The syntax node of operation k (an Assign for an UPDATE), for error messages:
        from the syntax tree, compiled once more to find it."""
        if self.exprs is None:
            self.exprs = _compile_tree(self.program).exprs
        assert self.exprs is not None
        return self.exprs[k]

    def name_slot(self, name: str) -> int:
        """The NAME leaf of a name, added at the end when the program never reads it (--of
        naming a bound name)."""
        k = self.by_name.get(name)
        if k is None:
            k = self.by_name[name] = self.emit(NAME, None, (), None)
            self.names[k] = name
        return k

    def plan(self) -> tuple[sweep.Plan, list[int]]:
        """The instructions that are no leaves as sweep.Plan entries, and their slots in order
        (to cut the plan at a slot). The one-pass compiler makes it as it emits."""
        if self._plan is None:
            plan: sweep.Plan = []
            kinds, prims, args = self.kinds, self.prims, self.args
            opcodes: dict[tuple[int, int, int], int] = {}
            for k in range(len(kinds)):
                prim, kind = prims[k], kinds[k]
                if prim is None and kind != INDEX:
                    continue
                a = args[k]
                op = _opcode(opcodes, kind, prim, len(a))
                plan.append((op, k, 0, 0, None) if op == sweep.GENERAL else
                            (op, k, a[0], a[1] if len(a) == 2 else 0, prim))
            self._plan = (plan, [entry[1] for entry in plan])
        return self._plan

    def same_as(self, other: Code) -> bool:
        """Whether two compilations made the same instructions (for tests)."""
        def made(c: Code) -> tuple[Any, ...]:
            return (c.kinds, c.prims, c.args, c.spans, c.dep, c.names, c.numbers,
                    c.constant_names, c.assigns, c.calls, c.events, c.env, c.by_name, c.output,
                    c.output_name, c.functions, c.statement)

        same = made(self) == made(other)

        def errors(code: Code) -> list[Any]:
            return [[(at, stmt, t, code.span(s, e)) for at, stmt, t, s, e in code.bound_targets],
                    code.free_names,
                    [(at, stmt, t, code.span(s, e)) for at, stmt, t, s, e in code.undefined]]

        return same and errors(self) == errors(other)


def _opcode(cache: dict[tuple[int, int, int], int], kind: int, prim: ops.Primitive | None,
            nargs: int) -> int:
    """The sweep.Plan opcode of an instruction (GENERAL: the caller's step runs it), cached
    per (primitive, kind, argument count)."""
    key = (id(prim), kind, nargs)
    op = cache.get(key)
    if op is None:
        op = sweep.GENERAL
        if kind in (OP, CALL, UPDATE) and prim is not None and not prim.reduction \
                and not matrices.is_matrix_primitive(prim):
            op = sweep.opcode(prim, nargs)
            if op in (sweep.F1, sweep.F2, sweep.S1) and kind == UPDATE:
                op = sweep.GENERAL   # (its vector check runs in the caller's step)
        cache[key] = op
    return op


# ---------------------------------------------------------------- from the syntax tree


class _Builder(Interpretation, Hooks):
    """The program interpreted into instructions: values are slots."""

    def __init__(self, code: Code):
        self.code = code
        self.hooks = self
        self.top: dict[str, Any] = {}
        self.open: list[tuple[int, list[int]]] = []
        code.exprs = []

    def emit(self, kind: int, prim: ops.Primitive | None, args: tuple[int, ...],
             span: Span | None, expr: Any = None) -> int:
        assert self.code.exprs is not None
        self.code.exprs.append(expr)
        return self.code.emit(kind, prim, args, span)

    def number(self, node: Num) -> Any:
        k = self.emit(NUMBER, None, (), node.span)
        self.code.numbers[k] = float(node.value)
        return k

    def free_name(self, node: Name, scope: Mapping[str, Any]) -> Any:
        code = self.code
        if scope is not self.top:  # a function body sees only its parameters and constants
            k = self.emit(CONSTANT, None, (), node.span)
            code.numbers[k] = ops.CONSTANTS[node.id][0]
            code.constant_names[k] = node.id
            return k
        k = code.by_name.get(node.id)
        if k is None:
            k = code.by_name[node.id] = self.emit(NAME, None, (), node.span)
            code.names[k] = node.id
            code.free_names.append((k, code.statement, len(code.assigns)))
        return k

    def apply(self, prim: ops.Primitive, node: Expr, args: list[Any]) -> Any:
        if type(node) is not Call:
            return self.emit(OP, prim, tuple(args), node.span, node)
        if prim.reduction and prim is not ops.INDEX and not matrices.is_matrix_primitive(prim):
            args = [self.emit(RAVEL, ops_matrix.RAVEL, (a,), None) for a in args]
        return self.emit(CALL, prim, tuple(args), node.span, node)

    def index(self, node: Index, value: Any) -> Any:
        code = self.code
        keys = [self.emit(NUMBER, None, (), node.index_span)]
        code.numbers[keys[0]] = float(node.index)
        if node.column is not None:
            keys.append(self.emit(NUMBER, None, (), node.column_span))
            code.numbers[keys[1]] = float(node.column)
        return self.emit(INDEX, None, (value, *keys), node.span, node)

    def update(self, stmt: Assign, old: Any, value: Any) -> Any:
        code = self.code
        if old is None:
            span = stmt.target_span
            code.undefined.append((len(code), code.statement, stmt.target, span.start,
                                   span.end))
            return value
        return self.emit(UPDATE, ops.BINARY[stmt.op[0]], (old, value), stmt.span, stmt)

    def assigned(self, stmt: Assign, value: Any) -> Any:
        code = self.code
        code.assigns.append((value, stmt.target))
        code.events.append((value, stmt.target))
        return value

    def before(self, i: int, stmt: Assign | Expr) -> None:
        code = self.code
        code.statement = i
        if isinstance(stmt, Assign):
            span = stmt.target_span
            code.bound_targets.append((len(code), i, stmt.target, span.start, span.end))

    # Hooks: each expanded call's range of slots
    def enter(self, call: UserCall, path: tuple[str, ...], args: list[Any]) -> None:
        self.open.append((len(self.code), list(args)))

    def leave(self, call: UserCall, path: tuple[str, ...], result: Any) -> None:
        first, args = self.open.pop()
        code = self.code
        record = CallSlots(call.func, path, first, len(code), args, result, call.span)
        code.calls.append(record)
        code.events.append(record)


def _compile_tree(program: Program) -> Code:
    code = Code(program)
    builder = _Builder(code)
    code.output = interpret(program, builder.top, builder, before=builder.before)
    code.env = dict(builder.top)
    last = program.statements[-1]
    code.output_name = last.target if isinstance(last, Assign) else None
    code.functions = frozenset(program.functions)
    code.statement = len(program.statements) - 1
    return code


def compile_program(program: Program) -> Code:
    """The program's syntax tree interpreted into flat instructions."""
    return _compile_tree(program)


def code_of(program: Program) -> Code:
    """The program's flat instructions, made on first use and kept on the program."""
    code = program.compiled
    if code is None:
        code = program.compiled = compile_program(program)
    return code


# ---------------------------------------------------------------- straight from the text


def parse_flat(source: str) -> Program:
    """Parse an expression or a program as syntax.parse does (the same errors), compiled
    straight to flat instructions where one pass can (its syntax tree is then made only if
    something reads it)."""
    program = Program.lazy(source)
    code = _compile_text(source, program)
    if code is None:  # (definitions, indexing, or an error for the full parser to word)
        program = parse(source)
        code = compile_program(program)
    program.compiled = code
    return program


class _Bail(Exception):
    """The one-pass compiler leaves this text to the full parser."""


_ASSIGN = {"=", "+=", "-=", "*=", "/="}
_UNARY = 3     # unary minus binds looser than ^ and tighter than * and /
_PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2, "%": 2, "@": 2, "^": 4, "**": 4}
_OPEN = -1     # an open parenthesis or call on the operator stack


def _compile_text(source: str, program: Program) -> Code | None:
    """The one-pass compiler: the parser's operator-precedence loop (syntax._Parser), emitting
    instructions where the parser builds nodes; None for what it leaves to the full parser.
    Its spans are token positions, turned into offsets when first read (Code.offsets)."""
    texts = token_list(source)
    if not texts:
        return None
    try:
        code = _one_pass(texts, program)
    except (_Bail, IndexError, KeyError):
        return None
    code.offsets = _Offsets(source)
    return code


class _Offsets:
    """Each token's (start, end) offsets in the source, found when first needed."""

    def __init__(self, source: str):
        self.source = source
        self._table: list[tuple[int, int]] | None = None

    def __getitem__(self, t: int) -> tuple[int, int]:
        if self._table is None:
            tokens = token_texts(self.source)
            assert tokens is not None
            self._table = [(end - len(text), end) for text, end in tokens]
        return self._table[t]


def _one_pass(texts: list[str], program: Program) -> Code:
    """The instructions of a program of assignments (= += -= *= /=) and a last bare
    expression, made of numbers, names, + - * / % ^ ** @, unary - and +, parentheses and calls
    of built-in functions; raises _Bail on anything else (or on an error)."""
    code = Code(program)
    kinds, prims, args_ = code.kinds, code.prims, code.args
    starts, ends, dep = code.starts, code.ends, code.dep
    k_add, p_add, a_add = kinds.append, prims.append, args_.append
    s_add, e_add, d_add = starts.append, ends.append, dep.append
    numbers, by_name, names = code.numbers, code.by_name, code.names
    env = code.env
    functions, binary = ops.FUNCTIONS, ops.BINARY
    neg = ops.NEG
    precedence = _PRECEDENCE
    free_add = code.free_names.append
    plan: sweep.Plan = []   # the sweep's plan, made as the instructions are
    put = plan.append
    opcodes: dict[tuple[int, int, int], int] = {}
    general = sweep.GENERAL
    neg_op = _opcode(opcodes, OP, neg, 1)
    binops = {t: (p, _opcode(opcodes, OP, p, 2)) for t, p in binary.items()}
    binops["**"] = binops["^"]
    # (function, argument count) -> (primitive, plan opcode), for the calls of one argument
    # of an elementwise primitive (emitted here; the others by _call)
    calls: dict[tuple[str, int], tuple[ops.Primitive, int] | None] = {}
    digits = _DIGITS
    known: dict[str, int] = {}   # each name's slot: its last assignment, or its leaf
    texts.append("")   # the end
    n = len(texts) - 1
    i = 0
    statement = -1
    last_bare = False
    while True:
        while i < n and texts[i] in ("\n", ";"):
            i += 1
        if i >= n:
            break
        if last_bare:
            raise _Bail   # only the last statement may be a bare expression
        statement += 1
        text = texts[i]
        target = None
        op_text = ""
        target_at = i
        if texts[i + 1] in _ASSIGN and (text[0].isalpha() or text[0] == "_"):
            if text in functions or text == "inf":
                raise _Bail
            target, op_text = text, texts[i + 1]
            code.bound_targets.append((len(kinds), statement, target, i, i))
            i += 2
        elif texts[i + 1] == "(" and (text[0].isalpha() or text[0] == "_"):
            _no_definition(texts, i)
        # ---- one expression: operands are (slot, first token, last token); the operator
        # stack holds (precedence, primitive, token): unary minus, binary operators, and
        # (_OPEN, function or None, token, operand count when opened, commas) for an open
        # parenthesis or call
        operands: list[tuple[int, int, int]] = []
        o_add, o_pop = operands.append, operands.pop
        stack: list[Any] = []
        s_push, s_pop = stack.append, stack.pop
        depth = 0   # the open parentheses and calls on the stack
        while True:
            # an operand: any unary signs and open parentheses, then a number, a name or a call
            text = texts[i]
            k = known.get(text, -1)
            if k >= 0:
                o_add((k, i, i))
            elif text[0] in digits:
                value = float(text)
                if value == _INF:
                    raise _Bail
                k = len(kinds)
                k_add(NUMBER)
                p_add(None)
                a_add(())
                s_add(i)
                e_add(i)
                d_add(0)
                numbers[k] = value
                o_add((k, i, i))
            elif text in functions:
                if texts[i + 1] != "(":
                    raise _Bail
                s_push((_OPEN, text, i, len(operands), 0))
                depth += 1
                i += 2
                continue
            elif text[0].isalpha() or text[0] == "_":
                if text == "inf":
                    raise _Bail
                k = len(kinds)
                k_add(NAME)
                p_add(None)
                a_add(())
                s_add(i)
                e_add(i)
                d_add(1)
                names[k] = text
                by_name[text] = known[text] = k
                free_add((k, statement, len(code.assigns)))
                o_add((k, i, i))
            elif text == "(":
                s_push((_OPEN, None, i, len(operands), 0))
                depth += 1
                i += 1
                continue
            elif text == "-" or text == "+":
                s_push((_UNARY, text, i))
                i += 1
                continue
            elif text == "\n" and depth:
                i += 1   # a newline inside parentheses is blank
                continue
            else:
                raise _Bail
            i += 1
            # then operators, closing parentheses and commas, until the next operand: each
            # first applies the operators on the stack that bind tighter (a closer: all of
            # them, down to the innermost open parenthesis)
            while True:
                text = texts[i]
                prec = precedence.get(text, 0)
                if text == "\n" and depth:
                    i += 1   # a newline inside parentheses is blank
                    continue
                while stack:
                    top = stack[-1]
                    p = top[0]
                    if p == _OPEN or p < prec or (p == prec and prec == 4):
                        break
                    s_pop()
                    if p == _UNARY:
                        slot, s, e = operands[-1]
                        if top[1] == "+":   # no operation: only the span grows
                            operands[-1] = (slot, top[2], e)
                            continue
                        k = len(kinds)
                        k_add(OP)
                        p_add(neg)
                        a_add((slot,))
                        s_add(top[2])
                        e_add(e)
                        d_add(dep[slot])
                        put((neg_op, k, slot, 0, neg) if neg_op != general else
                            (general, k, 0, 0, None))
                        operands[-1] = (k, top[2], e)
                        continue
                    b, _, e = o_pop()
                    a, s, _ = operands[-1]
                    k = len(kinds)
                    prim, op = top[1], top[2]
                    k_add(OP)
                    p_add(prim)
                    a_add((a, b))
                    s_add(s)
                    e_add(e)
                    d_add(dep[a] or dep[b])
                    put((op, k, a, b, prim) if op != general else (general, k, 0, 0, None))
                    operands[-1] = (k, s, e)
                if prec:
                    s_push((prec, *binops[text], i))
                    i += 1
                    break
                if text == ")" or text == ",":
                    if not stack:
                        raise _Bail
                    _, func, at, base, argc = stack[-1]
                    if text == ",":
                        if func is None:
                            raise _Bail
                        stack[-1] = (_OPEN, func, at, base, argc + 1)
                        i += 1
                        break
                    s_pop()
                    depth -= 1
                    if func is not None:
                        argc += 1
                        key = (func, argc)
                        call = calls.get(key, False)
                        if call is False:
                            call = calls[key] = _one_argument(func, argc, opcodes)
                        if call is None or len(operands) - base != 1:
                            _call(code, func, argc, at, i, operands, base, put, opcodes)
                        else:   # _call's common case, inline
                            prim, op = call
                            a = operands[-1][0]
                            k = len(kinds)
                            k_add(CALL)
                            p_add(prim)
                            a_add((a,))
                            s_add(at)
                            e_add(i)
                            d_add(dep[a])
                            put((op, k, a, 0, prim) if op != general else
                                (general, k, 0, 0, None))
                            operands[-1] = (k, at, i)
                    i += 1
                    continue
                if (text == "\n" or text == ";" or text == "") and not stack \
                        and len(operands) == 1:
                    break
                raise _Bail   # '[', '=', an operand after an operand, an unclosed '(', ...
            if text == "\n" or text == ";" or text == "":
                break
        slot, _, last = operands[0]
        if target is not None:
            if op_text != "=":
                old = env.get(target, -1)
                if old < 0:   # (a name not assigned yet: its value is no old one)
                    code.undefined.append((len(kinds), statement, target, target_at,
                                           target_at))
                else:
                    slot = _emit(code, UPDATE, binary[op_text[0]], (old, slot), target_at,
                                 last, put, opcodes)
            env[target] = known[target] = slot
            code.assigns.append((slot, target))
            code.events.append((slot, target))
            last_bare = False
        else:
            last_bare = True
        code.output, code.output_name = slot, target
    if not kinds or code.output < 0:
        raise _Bail
    code.statement = statement
    code._plan = (plan, [entry[1] for entry in plan])
    return code


_INF = float("inf")
_DIGITS = frozenset("0123456789.")


def _no_definition(texts: list[str], i: int) -> None:
    """Bail out of a statement shaped like a function definition, `name(...) =`."""
    j = i + 2
    while texts[j] not in ("\n", ";", "", "(", ")"):
        j += 1
    if texts[j] == ")" and texts[j + 1] in _ASSIGN:
        raise _Bail


def _one_argument(func: str, argc: int, opcodes: dict[tuple[int, int, int], int]
                  ) -> tuple[ops.Primitive, int] | None:
    """A call's primitive and plan opcode where it is an elementwise primitive of one
    argument (None otherwise: _call emits it)."""
    prim = ops.resolve(func, argc)
    if argc != 1 or prim is None or prim.reduction or matrices.is_matrix_primitive(prim):
        return None
    return prim, _opcode(opcodes, CALL, prim, 1)


def _emit(code: Code, kind: int, prim: ops.Primitive, args: tuple[int, ...], start: int,
          end: int, put: Any, opcodes: dict[tuple[int, int, int], int]) -> int:
    """Append one instruction and its plan entry (put); returns its slot."""
    k = len(code.kinds)
    _planned(put, opcodes, kind, prim, k, args)
    code.kinds.append(kind)
    code.prims.append(prim)
    code.args.append(args)
    code.starts.append(start)
    code.ends.append(end)
    dep = code.dep
    code.dep.append(1 if any(dep[a] for a in args) else 0)
    return k


def _planned(put: Any, opcodes: dict[tuple[int, int, int], int], kind: int,
             prim: ops.Primitive, k: int, args: tuple[int, ...]) -> None:
    """Append instruction k's plan entry (see Code.plan)."""
    op = _opcode(opcodes, kind, prim, len(args))
    put((op, k, 0, 0, None) if op == sweep.GENERAL else
        (op, k, args[0], args[1] if len(args) == 2 else 0, prim))


def _call(code: Code, func: str, argc: int, start: int, end: int,
          operands: list[tuple[int, int, int]], base: int, put: Any,
          opcodes: dict[tuple[int, int, int], int]) -> None:
    """A call of a built-in function with the argc operands on top of the stack."""
    if len(operands) - base != argc:
        raise _Bail
    prim = ops.resolve(func, argc)
    if prim is None:
        raise _Bail
    slots = [o[0] for o in operands[base:]]
    del operands[base:]
    if prim.reduction and prim is not ops.INDEX and not matrices.is_matrix_primitive(prim):
        slots = [_emit(code, RAVEL, ops_matrix.RAVEL, (a,), -1, -1, put, opcodes)
                 for a in slots]
    k = len(code.kinds)
    _planned(put, opcodes, CALL, prim, k, tuple(slots))
    code.kinds.append(CALL)
    code.prims.append(prim)
    code.args.append(tuple(slots))
    code.starts.append(start)
    code.ends.append(end)
    dep = code.dep
    d = 0
    for a in slots:
        if dep[a]:
            d = 1
            break
    dep.append(d)
    operands.append((k, start, end))
