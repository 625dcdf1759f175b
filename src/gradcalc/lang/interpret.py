"""One statement interpreter, many interpretations.

A program is run by one loop over its statements (`name = expr`, `name += expr`, ..., bare
expressions) and, inside each, one bottom-up walk over the expression nodes with calls of the
program's own functions expanded inline (inline.fold_calls). What a value *is* belongs to the
interpretation: a recorded tensor on the tape (engine.evaluate), a SymPy expression
(symbolic.convert), a plain or complex number (judge.numeric), a register of a straight-line
program (symbolic.reverse). The interpreter decides only the order and the scoping, so every
interpretation sees the same program (as JAX runs one jaxpr under many interpreters).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .. import ops
from ..lang.inline import Hooks, fold_calls
from ..lang.syntax import Assign, Binary, Call, Expr, FuncDef, Index, Name, Num, Program, Unary


class Interpretation:
    """What each kind of node means. Subclasses override the methods; values are whatever the
    interpretation computes with (the interpreter never looks inside them)."""

    hooks: Hooks | None = None   # told about every expanded call (the tape labels them)

    def number(self, node: Num) -> Any:
        """A numeric literal."""
        raise NotImplementedError

    def free_name(self, node: Name, scope: Mapping[str, Any]) -> Any:
        """A name not in scope: a constant (pi, e), or an error."""
        raise NotImplementedError

    def apply(self, prim: ops.Primitive, node: Expr, args: list[Any]) -> Any:
        """A primitive (an operator, unary minus or a built-in function) on its arguments."""
        raise NotImplementedError

    def index(self, node: Index, value: Any) -> Any:
        """A component of a vector, value[node.index]."""
        raise NotImplementedError

    def bind(self, value: Any) -> Any:
        """A value as it is bound to a function's parameter (default: itself)."""
        return value

    def update(self, stmt: Assign, old: Any, value: Any) -> Any:
        """The new value of `target op= value` (default: the operator's primitive); old is
        None when the target has no value yet."""
        return self.apply(ops.BINARY[stmt.op[0]], stmt, [old, value])

    def assigned(self, stmt: Assign, value: Any) -> Any:
        """A statement assigned value to its target; returns the value to keep."""
        return value


def interpret_expr(expr: Expr, env: Mapping[str, Any], functions: Mapping[str, FuncDef],
                   interp: Interpretation, source: str | None = None) -> Any:
    """The value of one expression under an interpretation; env maps names to values."""
    if not functions:  # no calls to expand
        return _fold(expr, env, interp)
    number, free_name, apply, index = (interp.number, interp.free_name, interp.apply,
                                       interp.index)
    binary, resolve, neg = ops.BINARY, ops.resolve, ops.NEG

    def visit(node: Expr, args: list[Any], scope: Mapping[str, Any]) -> Any:
        kind = type(node)
        if kind is Binary:
            return apply(binary[node.op], node, args)  # type: ignore[attr-defined]
        if kind is Name:
            name = node.id  # type: ignore[attr-defined]
            return scope[name] if name in scope else free_name(node, scope)  # type: ignore
        if kind is Num:
            return number(node)  # type: ignore[arg-type]
        if kind is Call:
            prim = resolve(node.func, len(args))  # type: ignore[attr-defined]
            assert prim is not None  # the parser checked the name and the arity
            return apply(prim, node, args)
        if kind is Unary:
            return args[0] if node.op == "+" else apply(neg, node, args)  # type: ignore
        if kind is Index:
            return index(node, args[0])  # type: ignore[arg-type]
        raise TypeError(f"unknown syntax node {kind.__name__}")

    return fold_calls(expr, env, functions, visit, interp.hooks, bind=interp.bind,
                      source=source)


def _fold(expr: Expr, scope: Mapping[str, Any], interp: Interpretation) -> Any:
    """interpret_expr for an expression without calls of the program's functions: the same
    visits in the same order (children left to right, then the node), in two flat loops.

    The first loop lists the nodes parent first, children pushed left to right (so popped right
    first); read backwards, that list is the left-to-right postorder."""
    order: list[Expr] = []
    stack: list[Expr] = [expr]
    pop, push, add = stack.pop, stack.append, order.append
    while stack:
        node = pop()
        add(node)
        kind = type(node)
        if kind is Binary:
            push(node.left)  # type: ignore[union-attr]
            push(node.right)  # type: ignore[union-attr]
        elif kind is Call:
            stack.extend(node.args)  # type: ignore[union-attr]
        elif kind is Unary:
            push(node.operand)  # type: ignore[union-attr]
        elif kind is Index:
            push(node.base)  # type: ignore[union-attr]
    number, free_name, apply, index = (interp.number, interp.free_name, interp.apply,
                                       interp.index)
    binary, resolve, neg = ops.BINARY, ops.resolve, ops.NEG
    results: list[Any] = []
    put = results.append
    for node in reversed(order):
        kind = type(node)
        if kind is Binary:
            right = results.pop()
            results[-1] = apply(binary[node.op], node, [results[-1], right])  # type: ignore
        elif kind is Name:
            name = node.id  # type: ignore[union-attr]
            put(scope[name] if name in scope else free_name(node, scope))  # type: ignore
        elif kind is Num:
            put(number(node))  # type: ignore[arg-type]
        elif kind is Call:
            n = len(node.args)  # type: ignore[union-attr]
            prim = resolve(node.func, n)  # type: ignore[union-attr]
            assert prim is not None  # the parser checked the name and the arity
            args = results[len(results) - n:] if n else []
            if n:
                del results[len(results) - n:]
            put(apply(prim, node, args))
        elif kind is Unary:
            if node.op != "+":  # type: ignore[union-attr]
                results[-1] = apply(neg, node, [results[-1]])
        elif kind is Index:
            results[-1] = index(node, results[-1])  # type: ignore[arg-type]
        else:
            raise TypeError(f"unknown syntax node {kind.__name__}")
    return results[0]


Before = Callable[[int, Assign | Expr], None]


def interpret(program: Program, env: dict[str, Any], interp: Interpretation,
              statements: Sequence[bool] | None = None, before: Before | None = None) -> Any:
    """Run the program's statements under an interpretation, updating env (name -> value);
    returns the value of the last statement run. statements: which statements to run (default
    all); before(i, stmt) is called before statement i (e.g. to check it can be run)."""
    out: Any = None
    functions, source = program.functions, program.source
    for i, stmt in enumerate(program.statements):
        if statements is not None and not statements[i]:
            continue
        if before is not None:
            before(i, stmt)
        if isinstance(stmt, Assign):
            value = interpret_expr(stmt.value, env, functions, interp, source)
            if stmt.op != "=":
                value = interp.update(stmt, env.get(stmt.target), value)
            env[stmt.target] = out = interp.assigned(stmt, value)
        else:
            out = interpret_expr(stmt, env, functions, interp, source)
    return out
