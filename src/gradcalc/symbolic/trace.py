"""A recorded tape as the reference's compiled program (compiled.py's format): the value and
the true gradient, from each recorded primitive's SymPy counterpart, never from its VJPs.

Each tape node's SymPy counterpart (ops.Primitive.sympy) is run on registers instead of SymPy
expressions: `Reg` objects and the namespace `NS` stand in for SymPy's forms (Add, Mul, Pow,
and the functions whose class names the op table's records give), and every operation a
counterpart performs becomes one instruction of the program. So a matrix product of a
1,000 x 100 matrix is 100,000 multiplications written in a fraction of a second, where SymPy
itself would spend a minute building them. A counterpart that uses something beyond those
forms (det through sympy.Matrix) runs in SymPy itself, on placeholder symbols, and its
result is compiled into the same program.

The gradient is then reverse accumulation over the instructions: the local derivative of
each instruction by each operand is SymPy's `diff` of that instruction's form on placeholder
symbols (taken once per kind of instruction, with constant operands as their exact values),
instantiated per use; only the sum and product rules of the chain rule itself are written
here. So a wrong VJP in the op table still disagrees with this reference.

Constants are exact: a float64 constant is the rational number it holds. stop_gradient(e)
is read as e: the reference is the true gradient of the function the program computes.
"""

from __future__ import annotations

import fractions
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import ops
from ..engine.tape import Const, Node
from . import compiled
from .reverse import prune


class Untraceable(Exception):
    """A counterpart used something the registers cannot stand for (it runs in SymPy)."""


class Unsupported(Exception):
    """A recorded node has no reference: no SymPy counterpart, or one too large to build.
    node: the tape node; reason: why, in words."""

    def __init__(self, node: Node | None, reason: str):
        super().__init__(reason)
        self.node = node
        self.reason = reason


SYMPY_LIMIT = 64   # components a counterpart may take through SymPy itself (det of 8 x 8)


class Reg:
    """One register of the program being built; a constant register knows its exact value."""

    __slots__ = ("b", "i")
    free_symbols = frozenset()   # read as a SymPy-side value (ops_array.is_sym_array)

    def __init__(self, b: Builder, i: int):
        self.b, self.i = b, i

    # arithmetic: SymPy's forms (x - y is x + (-1)*y, x / y is x * y^-1)
    def __add__(self, o: Any) -> Reg: return self.b.binary("add", self, o)
    def __radd__(self, o: Any) -> Reg: return self.b.binary("add", o, self)
    def __sub__(self, o: Any) -> Reg: return self.b.op("add", self, self.b.op("mul", -1, o))
    def __rsub__(self, o: Any) -> Reg: return self.b.op("add", o, self.b.op("mul", -1, self))
    def __mul__(self, o: Any) -> Reg: return self.b.binary("mul", self, o)
    def __rmul__(self, o: Any) -> Reg: return self.b.binary("mul", o, self)
    def __truediv__(self, o: Any) -> Reg: return self.b.op("mul", self, self.b.op("pow", o, -1))
    def __rtruediv__(self, o: Any) -> Reg: return self.b.op("mul", o, self.b.op("pow", self, -1))
    def __pow__(self, o: Any) -> Reg: return self.b.op("pow", self, o)
    def __rpow__(self, o: Any) -> Reg: return self.b.op("pow", o, self)
    def __neg__(self) -> Reg: return self.b.op("mul", -1, self)
    def __pos__(self) -> Reg: return self
    def __abs__(self) -> Reg: return self.b.op("abs", self)

    # a constant register reads as its number (an index, a flag, a mask); a variable one not
    def exact(self) -> Any:
        v = self.b.const.get(self.i)
        if v is None:
            raise Untraceable("a value that depends on the arguments")
        return v

    def __int__(self) -> int: return int(self.exact())
    def __index__(self) -> int: return int(self.exact())
    def __float__(self) -> float: return float(self.exact())
    def __bool__(self) -> bool: return self.exact() != 0
    def __eq__(self, o: Any) -> Any: return self.exact() == _number(o)  # type: ignore[override]
    def __ne__(self, o: Any) -> Any: return self.exact() != _number(o)  # type: ignore[override]
    def __lt__(self, o: Any) -> bool: return self.exact() < _number(o)
    def __le__(self, o: Any) -> bool: return self.exact() <= _number(o)
    def __gt__(self, o: Any) -> bool: return self.exact() > _number(o)
    def __ge__(self, o: Any) -> bool: return self.exact() >= _number(o)
    __hash__ = object.__hash__


def _number(o: Any) -> Any:
    if isinstance(o, Reg):
        return o.exact()
    if isinstance(o, float) and not math.isfinite(o):
        return o
    return fractions.Fraction(o)


class _S:
    """sympy.S: the singletons counterparts name; called on a number, its register."""

    def __init__(self, ns: Namespace):
        self.ns = ns

    def __call__(self, x: Any) -> Any:
        return self.ns.b.value(x)

    @property
    def Zero(self) -> Reg: return self.ns.b.num(0)     # noqa: N802 (SymPy's spelling)
    @property
    def One(self) -> Reg: return self.ns.b.num(1)      # noqa: N802
    @property
    def Half(self) -> Reg: return self.ns.b.num(fractions.Fraction(1, 2))   # noqa: N802
    @property
    def NegativeOne(self) -> Reg: return self.ns.b.num(-1)   # noqa: N802


class Namespace:
    """What a counterpart's `sp` argument offers, on registers: SymPy's structural forms and
    the functions of the op table's records (by SymPy class name). Anything else raises
    Untraceable, and the counterpart runs in SymPy itself."""

    def __init__(self, b: Builder):
        self.b = b
        self.S = _S(self)
        self._functions = {cls: p.name for cls, p in ops.by_sympy_class().items()}

    def Add(self, *a: Any) -> Any:   # noqa: N802 (SymPy's spelling)
        return self.b.op("add", *a) if a else self.b.num(0)

    def Mul(self, *a: Any) -> Any:   # noqa: N802
        return self.b.op("mul", *a) if a else self.b.num(1)

    def Pow(self, x: Any, y: Any) -> Any:   # noqa: N802
        return self.b.op("pow", x, y)

    def Integer(self, n: Any) -> Reg:   # noqa: N802
        return self.b.num(int(n))

    def Rational(self, p: Any, q: Any = 1) -> Reg:   # noqa: N802
        return self.b.num(fractions.Fraction(p) / fractions.Fraction(q))

    def nsimplify(self, x: Any) -> Any:
        return self.b.value(x)

    def sqrt(self, x: Any) -> Reg:
        return self.b.op("pow", x, fractions.Fraction(1, 2))

    def log(self, x: Any, base: Any = None) -> Reg:
        out = self.b.op("log", x)
        return out if base is None else self.b.op("mul", out, self.b.op(
            "pow", self.b.op("log", base), -1))

    def Max(self, *a: Any) -> Any:   # noqa: N802
        return a[0] if len(a) == 1 else self.b.op("max", *a)

    def Min(self, *a: Any) -> Any:   # noqa: N802
        return a[0] if len(a) == 1 else self.b.op("min", *a)

    def Heaviside(self, x: Any, h0: Any = fractions.Fraction(1, 2)) -> Reg:   # noqa: N802
        return self.b.op("heaviside", x, h0)

    def sign(self, x: Any) -> Reg:
        return self.b.op("sign", x)

    def DiracDelta(self, x: Any) -> Reg:   # noqa: N802
        return self.b.op("diracdelta", x)

    def StopGradient(self, x: Any) -> Any:   # noqa: N802
        # the function a program computes reads stop_gradient(e) as e: its true gradient
        # flows through (the tape's cut one is what a hand-derived gradient should not copy)
        return x

    @property
    def pi(self) -> Reg:
        return self.b.leaf(["pi"])

    @property
    def E(self) -> Reg:   # noqa: N802
        return self.b.leaf(["e"])

    def __getattr__(self, name: str) -> Any:
        op = self.__dict__.get("_functions", {}).get(name)
        if op is None:
            raise Untraceable(f"sympy.{name}")
        return lambda *a: self.b.op(op, *a)


@dataclass
class Reference:
    """The compiled program of the value and the true gradient: outputs[0] is the value, then
    one partial per component of each argument (row-major, in argument order); symbols: each
    argument's component symbols, as the program's `sym` names; reached: whether any path
    leads from that component to the output (False: its partial is exactly 0)."""

    program: compiled.Program
    outputs: list[int]
    symbols: list[list[str]]
    reached: list[bool]

    @property
    def size(self) -> int:
        return len(self.program)


def symbol_name(arg: int, k: int) -> str:
    """The program's symbol for component k (row-major) of argument arg."""
    return f"a{arg}_{k}"


class Builder:
    """Emits instructions with common subexpressions shared (hash-consing), exact constants
    folded, and the local derivatives of every instruction on request. A constant register's
    instruction holds its exact value (a float64 or a Fraction) until program() writes it as
    the format's "p/q" text."""

    def __init__(self) -> None:
        self.program: compiled.Program = []
        self.memo: dict[tuple[Any, ...], int] = {}
        self.const: dict[int, Any] = {}      # register -> its exact value (float or Fraction)
        self.var: list[bool] = []
        self.regs: list[Reg] = []
        self.templates: dict[tuple[Any, ...], tuple[compiled.Program, list[int], int]] = {}

    # ------------------------------------------------------------ registers

    def leaf(self, ins: list[Any]) -> Reg:
        return self.regs[self._emit(ins, ins[0] == "sym")]

    def num(self, x: Any) -> Reg:
        """The register of an exact number (int, float64 or Fraction)."""
        if type(x) is not float:
            x = fractions.Fraction(x)
            if x.denominator == 1 or x.denominator & (x.denominator - 1) == 0:
                x = float(x) if abs(x.numerator) < 2 ** 53 else x   # a float64 exactly
        key = ("num", x)
        i = self.memo.get(key)
        if i is None:
            i = self._emit(("num", x), False)
            self.const[i] = x
        return self.regs[i]

    def value(self, x: Any) -> Reg:
        """A register for x: itself, or the exact number of a float, int or Fraction."""
        t = type(x)
        if t is Reg:
            return x
        if t is float or t is np.float64:
            if not math.isfinite(x):
                raise Unsupported(None, f"the constant {float(x)!r} is not a real number")
            return self.num(float(x))
        if isinstance(x, (bool, np.bool_)):
            return self.num(int(x))
        if isinstance(x, (int, np.integer, fractions.Fraction)):
            return self.num(x)
        if isinstance(x, np.floating):
            return self.value(float(x))
        raise Untraceable(type(x).__name__)

    def _emit(self, ins: Sequence[Any], var: bool) -> int:
        # instructions are kept as tuples: the memo's key is the instruction itself
        key = tuple(ins)
        i = self.memo.get(key)
        if i is None:
            i = self.memo[key] = len(self.program)
            self.program.append(key)   # type: ignore[arg-type]
            self.var.append(var)
            self.regs.append(Reg(self, i))
        return i

    def binary(self, name: str, a: Any, b: Any) -> Reg:
        """a + b or a * b (name add or mul), emitted at once (without _nary's flattening,
        which changes nothing but the instruction count) unless a constant folds."""
        if type(a) is not Reg:
            a = self.value(a)
        if type(b) is not Reg:
            b = self.value(b)
        const = self.const
        ca, cb = const.get(a.i), const.get(b.i)
        if ca is None and cb is None:
            return self.regs[self._emit((name, a.i, b.i), True)]
        if ca is not None and cb is not None:
            return self._nary(name, [a, b])
        c, v = (ca, b) if ca is not None else (cb, a)
        if name == "mul" and c == 0:
            return self.num(0)
        if c == (0 if name == "add" else 1):
            return v
        return self.regs[self._emit((name, (a if ca is not None else b).i, v.i), True)]

    def op(self, name: str, *args: Any) -> Reg:
        """The register of name(*args), arguments being registers or numbers."""
        regs = [a if type(a) is Reg else self.value(a) for a in args]
        if name == "add" or name == "mul":
            return self._nary(name, regs)
        var = self.var
        return self.regs[self._emit((name, *(r.i for r in regs)),
                                    any(var[r.i] for r in regs))]

    def _nary(self, name: str, regs: Sequence[Reg]) -> Reg:
        # flat, with exact constants folded (as SymPy's Add and Mul collect their numbers);
        # a product with an exact 0 is 0, as SymPy's Mul makes it
        const, program = self.const, self.program
        parts: list[int] = []
        consts: list[Any] = []
        for r in regs:
            i = r.i
            c = const.get(i)
            if c is not None:
                consts.append(c)
                continue
            ins = program[i]
            if ins[0] == name and len(parts) + len(ins) < 4096:
                parts.extend(ins[1:])   # Add(Add(a, b), c) is Add(a, b, c)
            else:
                parts.append(i)
        unit = 0 if name == "add" else 1
        if consts:
            if len(consts) == 1:
                folded = consts[0]
            else:
                folded = fractions.Fraction(consts[0])
                for c in consts[1:]:
                    folded = folded + c if name == "add" else folded * c
            if name == "mul" and folded == 0:
                return self.num(0)
            if folded != unit or not parts:
                parts.insert(0, self.num(folded).i)
        elif not parts:
            return self.num(unit)
        if len(parts) == 1:
            return self.regs[parts[0]]
        return self.regs[self._emit((name, *parts), True)]

    def finished(self, outputs: list[int], text: bool = False
                 ) -> tuple[compiled.Program, list[int]]:
        """The program and its outputs. Its numbers are exact values (a float64 or a Fraction,
        which the evaluators read as they read the format's "p/q" text); with text, only the
        instructions the outputs need, renumbered, numbers written as the format's text."""
        if not text:
            return self.program, outputs
        program, outs = prune(self.program, outputs)
        written: compiled.Program = []
        for ins in program:
            ins = list(ins)
            if ins[0] == "num" and not isinstance(ins[1], str):
                p, q = fractions.Fraction(ins[1]).as_integer_ratio() \
                    if type(ins[1]) is not float else ins[1].as_integer_ratio()
                ins[1] = str(p) if q == 1 else f"{p}/{q}"
            written.append(ins)
        return written, outs

    # ------------------------------------------------------------ local derivatives

    def local(self, i: int, k: int) -> Reg | None:
        """d instruction i / d its operand k (None: no dependence)."""
        ins = self.program[i]
        op, args = ins[0], ins[1:]
        prim = ops.BY_NAME.get(op)
        if prim is not None and prim.vjps and prim.vjps[min(k, len(prim.vjps) - 1)] is None:
            raise Unsupported(None, f"{op} has no derivative in its argument {k + 1} "
                              "(pass that argument as a constant, not as an argument of f)")
        if op == "add":
            return self.num(1)
        if op == "mul":
            if len(args) == 2:
                return self.regs[args[1 - k]]
            return self._nary("mul", [self.regs[a] for j, a in enumerate(args) if j != k])
        dummies: dict[int, int] = {}
        sig: list[Any] = []
        for a in args:
            c = self.const.get(a)
            if c is not None:
                sig.append(("c", c))
            else:
                sig.append(("v", dummies.setdefault(a, len(dummies))))
        key = (op, k, *sig)
        template = self.templates.get(key)
        if template is None:
            template = self.templates[key] = _template(op, sig, sig[k][1])
        prog, outs, _ = template
        order = list(dummies)   # registers in the order of their placeholders
        regs: list[Reg] = []
        for t in prog:
            if t[0] == "sym":
                regs.append(self.regs[order[int(t[1][1:])]])
            elif t[0] == "num":
                regs.append(self.num(fractions.Fraction(t[1])))
            elif t[0] in compiled.LEAVES:
                regs.append(self.leaf(list(t)))
            else:
                regs.append(self.op(t[0], *(regs[j] for j in t[1:])))
        return regs[outs[0]]

    def backward(self, out: int, sources: Sequence[int]) -> tuple[list[int], list[bool]]:
        """The register of d out / d each source (a `sym` instruction), and whether any path
        reaches it: reverse accumulation over the instructions up to out."""
        parts: dict[int, list[int]] = {out: [self.num(1).i]}
        program, const, var, regs = self.program, self.const, self.var, self.regs
        for i in range(out, -1, -1):
            got = parts.get(i)
            if got is None or not var[i]:
                continue
            ins = program[i]
            op = ins[0]
            if op == "sym":
                continue   # a source: kept
            del parts[i]
            adj = regs[got[0]] if len(got) == 1 else self._nary("add", [regs[g] for g in got])
            one = const.get(adj.i) == 1
            if op == "add":
                for a in ins[1:]:
                    if var[a]:
                        parts.setdefault(a, []).append(adj.i)
                continue
            seen: set[int] = set()
            for k, a in enumerate(ins[1:]):
                if not var[a] or (a in seen and op != "mul"):
                    continue   # (a repeated operand shares one placeholder: done at its first)
                seen.add(a)
                loc = self.local(i, k)
                if loc is None:
                    continue
                c = const.get(loc.i)
                if c == 0:
                    continue
                term = adj if c == 1 else loc if one else self.binary("mul", adj, loc)
                parts.setdefault(a, []).append(term.i)
        found, reached = [], []
        for s in sources:
            got = parts.get(s, [])
            reached.append(bool(got))
            if not got:
                found.append(self.num(0).i)
            else:
                found.append(got[0] if len(got) == 1 else self._nary(
                    "add", [regs[g] for g in got]).i)
        return found, reached


def _template(op: str, sig: Sequence[Any], wrt: Any) -> tuple[compiled.Program, list[int], int]:
    """SymPy's derivative of one instruction kind by one placeholder, compiled over the
    placeholders u0, u1, ... (constant operands as their exact values)."""
    from .convert import namespace

    sp = namespace()
    count = 1 + max((s[1] for s in sig if s[0] == "v"), default=-1)
    dummies = [sp.Symbol(f"u{j}", real=True) for j in range(count)]
    args = [dummies[s[1]] if s[0] == "v" else sp.Rational(*fractions.Fraction(
        s[1]).as_integer_ratio()) for s in sig]
    form = _sympy_form(sp, op, args)
    prog, outs = compiled.compile_sympy([sp.diff(form, dummies[wrt])],
                                        [d.name for d in dummies])
    return prog, outs, count


def _sympy_form(sp: Any, op: str, args: Sequence[Any]) -> Any:
    """The SymPy expression of one instruction."""
    if op == "pow":
        return sp.Pow(*args)
    if op == "sign":
        return sp.sign(*args)
    if op == "heaviside":
        return sp.Heaviside(*args)
    if op == "diracdelta":
        return sp.DiracDelta(*args)
    return ops.BY_NAME[op].sympy(sp, *args)   # the record's own counterpart (floor's is
    # the namespace's floor whose derivative is 0, not SymPy's)


# ---------------------------------------------------------------- the tape, node by node


def _data(b: Builder, value: Any) -> Any:
    """A constant input as a counterpart receives it: a float64 number or array as exact
    registers (nested tuples for an array), anything else (an int, an axis, a shape, an index
    map) as it is: counterparts compute with ints as SymPy does."""
    if isinstance(value, (complex, np.complexfloating)) or (
            isinstance(value, np.ndarray) and value.dtype.kind == "c"):
        raise Unsupported(None, "a complex constant: the reference is of real functions")
    if isinstance(value, (float, np.floating)):
        return b.value(value)
    if isinstance(value, np.ndarray) and value.dtype.kind == "f":
        if not np.all(np.isfinite(value)):
            raise Unsupported(None, "a constant array holds a value that is not a real number")
        num = b.num
        return _nest([num(v) for v in value.ravel().tolist()], value.shape)
    return value


def _nest(flat: list[Any], shape: tuple[int, ...]) -> Any:
    if not shape:
        return flat[0]
    for n in reversed(shape[1:]):
        flat = [tuple(flat[i:i + n]) for i in range(0, len(flat), n)]
    return tuple(flat)


def _objects(x: Any) -> Any:
    """A SymPy-side value (a register or nested tuples) as a numpy object array."""
    shape: list[int] = []
    probe = x
    while isinstance(probe, tuple):
        shape.append(len(probe))
        probe = probe[0] if probe else None
    out = np.empty(tuple(shape), dtype=object)
    if not shape:
        out[()] = x
        return out
    for k, v in zip(np.ndindex(*shape), _leaves(x), strict=True):
        out[k] = v
    return out


def _leaves(x: Any) -> list[Any]:
    """The components of nested tuples, row-major (iteratively)."""
    out: list[Any] = []
    stack = [x]
    while stack:
        v = stack.pop()
        if isinstance(v, tuple):
            stack.extend(reversed(v))
        else:
            out.append(v)
    return out


def _elementwise(b: Builder, prim: ops.Primitive, ns: Namespace, args: list[Any]) -> Any:
    """An elementwise primitive applied per component, broadcasting as numpy does."""
    arrays = np.broadcast_arrays(*(_objects(a) for a in args))
    shape = arrays[0].shape
    flat = [prim.sympy(ns, *row) for row in zip(*(a.ravel().tolist() for a in arrays),
                                                strict=True)]
    return _nest(flat, shape)


def _through_sympy(b: Builder, prim: ops.Primitive, node: Node, args: list[Any]) -> Any:
    """The counterpart run in SymPy on placeholder symbols, its result compiled into the
    program (for counterparts that need more than the registers offer)."""
    from .convert import namespace

    sp = namespace()
    dummies: dict[int, Any] = {}

    def swap(v: Any) -> Any:
        if isinstance(v, tuple):
            return tuple(swap(x) for x in v)
        if isinstance(v, Reg):
            c = b.const.get(v.i)
            if c is not None:
                return sp.Rational(*fractions.Fraction(c).as_integer_ratio())
            if v.i not in dummies:
                dummies[v.i] = sp.Symbol(f"u{len(dummies)}", real=True)
            return dummies[v.i]
        return v

    swapped = [swap(a) for a in args]
    if len(dummies) > SYMPY_LIMIT:
        raise Unsupported(node, f"{prim.name} of {len(dummies)} components is beyond the "
                          f"symbolic reference (at most {SYMPY_LIMIT} through SymPy)")
    try:
        out = prim.sympy(sp, *swapped)
    except Exception as exc:
        raise Unsupported(node, f"{prim.name} has no symbolic counterpart here ({exc})") from None
    shape = _objects(out).shape
    flat = _leaves(out)
    try:
        prog, outs = compiled.compile_sympy([v if isinstance(v, sp.Basic) else sp.Rational(
            *fractions.Fraction(v).as_integer_ratio()) for v in flat],
                                            [d.name for d in dummies.values()])
    except compiled.Unsupported as exc:
        raise Unsupported(node, f"{prim.name}'s counterpart uses {exc}, which the reference "
                          "cannot evaluate") from None
    order = list(dummies)
    regs: list[Reg] = []
    for t in prog:
        if t[0] == "sym":
            regs.append(b.regs[order[int(t[1][1:])]])
        elif t[0] == "num":
            regs.append(b.num(fractions.Fraction(t[1])))
        elif t[0] in compiled.LEAVES:
            regs.append(b.leaf(list(t)))
        else:
            regs.append(b.op(t[0], *(regs[j] for j in t[1:])))
    return _nest([regs[o] for o in outs], shape)


def _apply(b: Builder, ns: Namespace, node: Node, args: list[Any]) -> Any:
    prim = node.prim
    assert prim is not None
    try:
        if not prim.reduction and any(isinstance(a, tuple) for a in args):
            return _elementwise(b, prim, ns, args)
        return prim.sympy(ns, *args)
    except Untraceable:
        return _through_sympy(b, prim, node, args)
    except (TypeError, NotImplementedError) as exc:
        raise Unsupported(node, f"{prim.name} has no symbolic counterpart ({exc})") from None


def reference(nodes: Sequence[Node], leaves: Sequence[int], output: int | None) -> Reference:
    """The value and the true gradient of the tape's output node with respect to the leaf
    nodes (the arguments), as one compiled program (see the module docstring)."""
    b = Builder()
    ns = Namespace(b)
    values: dict[int, Any] = {}
    symbols: list[list[str]] = []
    sources: list[int] = []
    for arg, leaf in enumerate(leaves):
        v = nodes[leaf].value
        shape = np.shape(v)
        names = [symbol_name(arg, k) for k in range(int(np.prod(shape, dtype=np.int64)))]
        regs = [b.leaf(["sym", n]) for n in names]
        symbols.append(names)
        sources += [r.i for r in regs]
        values[leaf] = _nest(regs, shape)
    if output is None:
        zero = b.num(0).i
        program, outputs = b.finished([zero] * (1 + len(sources)))
        return Reference(program, outputs, symbols, [False] * len(sources))
    for node in nodes[: output + 1]:
        if node.prim is None or node.id in values:
            continue
        args = [values.get(r) if type(r) is int else _data(b, r.value) for r in node.inputs]
        if any(a is None for a, r in zip(args, node.inputs, strict=True) if type(r) is int):
            raise Unsupported(node, f"{node.op} uses a value that was not recorded")
        out = _apply(b, ns, node, args)
        if not isinstance(out, (Reg, tuple)):
            out = _nest([b.value(v) for v in _leaves(out)], np.shape(node.value)) \
                if isinstance(out, (np.ndarray, tuple)) else b.value(out)
        values[node.id] = out
    top = values[output]
    if isinstance(top, tuple):
        raise Unsupported(nodes[output], "the output is not a scalar")
    partials, reached = b.backward(top.i, sources)
    program, outputs = b.finished([top.i, *partials])
    return Reference(program, outputs, symbols, reached)


def constant_of(c: Const) -> Any:
    """A constant input's value (for messages)."""
    return c.value
