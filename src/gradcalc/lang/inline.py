"""User-defined functions: an iterative fold that expands calls inline, and the bookkeeping that
labels a call's tape nodes `calc/t5` and lets the tape listing collapse each call to one row.

Calls are expanded with an explicit stack of frames, never by recursion, so a long chain of
functions calling earlier functions is limited by memory only; MAX_EXPANSION bounds the
work when nested calls multiply (f2(x) = f1(x) + f1(x), f3(x) = f2(x) + f2(x), ...).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import InputError, Span
from ..lang.syntax import Expr, FuncDef, UserCall, children

MAX_EXPANSION = 2_000_000  # syntax nodes visited while expanding one statement

Visit = Callable[[Expr, list[Any], Mapping[str, Any]], Any]


@dataclass(slots=True)
class _Frame:
    nodes: Iterator[tuple[Expr, int]]
    env: Mapping[str, Any]
    call: UserCall | None = None
    path: tuple[str, ...] = ()
    results: list[Any] = field(default_factory=list)


class Hooks:
    """Callbacks around each expanded call (no-ops here; CallRecorder uses them)."""

    def enter(self, call: UserCall, path: tuple[str, ...], args: list[Any]) -> None:
        """A call starts: its arguments are evaluated, its body is next."""

    def leave(self, call: UserCall, path: tuple[str, ...], result: Any) -> None:
        """A call's body has been evaluated to result."""


_END = (None, 0)


def _counted(root: Expr) -> Iterator[tuple[Expr, int]]:
    """postorder(root), each node with its number of children."""
    out: list[tuple[Expr, int]] = []
    stack: list[tuple[Expr, int]] = [(root, -1)]  # -1: children not pushed yet
    pop, push, add = stack.pop, stack.append, out.append
    while stack:
        node, n = pop()
        if n >= 0:
            add((node, n))
            continue
        kids = children(node)
        if not kids:
            add((node, 0))
            continue
        push((node, len(kids)))
        stack.extend([(k, -1) for k in reversed(kids)])
    return iter(out)


def fold_calls(expr: Expr, env: Mapping[str, Any], functions: Mapping[str, FuncDef],
               visit: Visit, hooks: Hooks | None = None,
               bind: Callable[[Any], Any] = lambda v: v, source: str | None = None) -> Any:
    """Bottom-up evaluation of expr like syntax.fold, with every UserCall replaced by its
    function's body evaluated on the argument values (bind finishes a value before it is bound
    to a parameter). visit(node, results of its children, the names in scope)."""
    hooks = hooks or Hooks()
    frames = [_Frame(_counted(expr), env)]
    budget = MAX_EXPANSION
    while True:
        frame = frames[-1]
        node, n = next(frame.nodes, _END)
        if node is None:
            result = frame.results[0]
            frames.pop()
            if frame.call is not None:
                hooks.leave(frame.call, frame.path, result)
            if not frames:
                return result
            frames[-1].results.append(result)
            continue
        budget -= 1
        if budget < 0:
            raise InputError(f"function calls expand to more than {MAX_EXPANSION:,} "
                             "operations", frame.call.span if frame.call else None, source)
        args = frame.results[len(frame.results) - n:] if n else []
        if n:
            del frame.results[len(frame.results) - n:]
        if isinstance(node, UserCall):
            fdef = functions[node.func]
            path = frame.path + (node.func,)
            hooks.enter(node, path, args)
            frames.append(_Frame(_counted(fdef.body),
                                 dict(zip(fdef.params, (bind(a) for a in args), strict=True)),
                                 node, path))
            continue
        frame.results.append(visit(node, args, frame.env))


@dataclass(slots=True)
class CallRecord:
    """One expanded call on the tape: the nodes [first, end) its body recorded, the argument
    values it received, its result, and where the call is written in the source."""

    func: str
    path: tuple[str, ...]
    first: int
    end: int
    args: list[Any]
    result: Any
    span: Span | None = None


class CallRecorder(Hooks):
    """Labels the tape nodes a call records with the call path and node id (`calc/t5`,
    `outer/inner/t7`) and keeps a CallRecord per call."""

    def __init__(self, tape: Any):
        self.tape = tape
        self.calls: list[CallRecord] = []
        self._open: list[tuple[int, list[Any]]] = []

    def enter(self, call: UserCall, path: tuple[str, ...], args: list[Any]) -> None:
        self._open.append((len(self.tape.nodes), list(args)))

    def leave(self, call: UserCall, path: tuple[str, ...], result: Any) -> None:
        first, args = self._open.pop()
        nodes = self.tape.nodes
        prefix = "/".join(path) + "/"
        for node in nodes[first:]:
            if node.label is None:
                node.label = f"{prefix}t{node.id}"
        self.calls.append(CallRecord(call.func, path, first, len(nodes), args, result,
                                     call.span))


def top_calls(calls: list[CallRecord], n: int | None = None) -> dict[int, CallRecord]:
    """Tape node id -> the top-level call whose body recorded it (calls that recorded
    nothing have none); n: only ids below it."""
    out: dict[int, CallRecord] = {}
    for call in calls:
        if len(call.path) == 1 and call.end > call.first:
            for i in range(call.first, call.end if n is None else min(call.end, n)):
                out[i] = call
    return out
