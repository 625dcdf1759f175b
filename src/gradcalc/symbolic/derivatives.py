"""Symbolic derivatives for the check, from the disk cache or from SymPy, within the call's
deadline.

A cache hit needs no SymPy: the cached program is evaluated with mpmath (one point) or numpy
(a batch). A miss runs SymPy in the forked child of sandbox.run_with_budget, which returns the
printed forms and the compiled program; the parent stores it and evaluates it exactly as a hit
would, so hit and miss give identical results. Derivatives the program format cannot express
(rare: e.g. re/im of a non-real argument) fall back to SymPy's own evaluation in the child and
are not cached.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from ..budget import Deadline
from ..lang.syntax import Program
from ..symbolic import cache, compiled, reverse
from ..symbolic.sandbox import run_with_budget

# SymPy's diff of one tree is used (and its simplified derivative shown) when the program's
# output unfolds into a tree of at most TREE_MAX_NODES nodes (vector components counted), or
# of at most TREE_MAX_DEPTH levels (chains of + or * count as one level: wide flat sums are
# easy for SymPy) and at most TREE_MAX_WORK tree nodes times names differentiated (SymPy
# differentiates the whole tree once per name; a vector's components count as one name, as
# each component's diff skips the terms without it). Larger ones get their reference
# derivatives by reverse accumulation over each primitive's SymPy derivative (reverse.py):
# one sweep for every partial, its work linear in the program.
TREE_MAX_NODES = 400
TREE_MAX_DEPTH = 8
TREE_MAX_WORK = 10_000
# A program with a matrix binding becomes SymPy's expression of every component (a symbolic
# inverse or determinant grows factorially with the size), and SymPy's diff and printing take
# time in proportion to that tree once per partial: beyond this many tree nodes times partials
# the check compares with numeric differences instead (check.numeric_check).
MATRIX_WORK = 50_000


def matrix_work(expr: Any, names: Any, partials: int) -> int | None:
    """The work of SymPy's derivatives of a matrix program's expression (its tree's nodes
    times the partials), when it is beyond MATRIX_WORK; None when it is within it, or when
    the program has no matrix binding (its size was judged before SymPy: tree_shape)."""
    from ..engine.vectors import Grid
    from ..symbolic.convert import tree_size

    if not isinstance(names, Mapping) or not any(isinstance(s, Grid) for s in names.values()):
        return None
    size = tree_size(expr, MATRIX_WORK // max(1, partials) + 1)
    return size * partials if size * partials > MATRIX_WORK else None


def use_tree(size: int, depth: int, partials: int) -> bool:
    """Whether SymPy's diff of the unfolded tree (of this size and depth, see
    reverse.tree_shape) is the reference of the partials by `partials` names (a vector
    counted once), rather than reverse accumulation: a function of counts only."""
    return size <= TREE_MAX_NODES or (depth <= TREE_MAX_DEPTH
                                      and size * max(1, partials) <= TREE_MAX_WORK)


def symbol_names(names: Sequence[str] | Mapping[str, str | list[str]]) -> list[str]:
    """Every SymPy symbol's name: the bound names, or (for a mapping as in
    vectors.symbol_names) each name's symbol or its vector's component symbols."""
    if not isinstance(names, Mapping):
        return list(names)
    out: list[str] = []
    for value in names.values():
        out.extend([value] if isinstance(value, str) else value)
    return out


def _derive(program: Program, names: Any, wrt: Sequence[str], of: str | None,
            fallback: Any, finish: Any) -> dict[str, Any]:
    """In the child: derivatives with SymPy, compiled to a program and evaluated by finish
    (or, when they cannot be compiled, evaluated by fallback with SymPy itself).

    Outputs, in order: the value, each partial, when the program uses stop_gradient each true
    partial (stop_gradient(e) read as e), then the arguments of each domain guard."""
    from ..symbolic import convert as symbolic

    mapping = names if isinstance(names, Mapping) else {n: n for n in names}
    sizes = {n: 1 if isinstance(s, str) else len(s) for n, s in mapping.items()}
    size, depth = reverse.tree_shape(program, sizes, of)
    wanted = set(wrt)
    differentiated = sum(1 for s in mapping.values()   # a vector counts once: SymPy's diff by
                         if (s in wanted if isinstance(s, str)   # one component skips the
                             else any(c in wanted for c in s)))  # terms without it at once
    if not use_tree(size, depth, differentiated):
        try:
            dag = reverse.derive(program, mapping, wrt, of,
                                 symbolic.needed_statements(program, of))
        except compiled.Unsupported:
            dag = None   # (rare: a constant SymPy cannot compile) the tree below decides
        if dag is not None:
            values = None if finish is None else finish(dag.program, dag.outputs, dag.guards)
            return {"forms": dag.forms, "true_forms": dag.true_forms, "guards": dag.guards,
                    "program": dag.program, "outputs": dag.outputs, "values": values}
    guards: list[symbolic.Guard] = []
    expr = symbolic.program_to_sympy(program, names, of, guards)
    work = matrix_work(expr, names, len(wrt))
    if work is not None:
        return {"too_large": work}
    derivs = [symbolic.derivative(expr, n) for n in wrt]
    true_expr = symbolic.without_stop_gradient(expr)
    true_derivs = [] if true_expr is None else [symbolic.derivative(true_expr, n) for n in wrt]
    forms = {n: symbolic.form(d, names) for n, d in zip(wrt, derivs, strict=True)}
    true_forms = {n: symbolic.form(d, names) for n, d in zip(wrt, true_derivs, strict=False)}
    meta = [[g.kind, g.op, None if g.span is None else g.span.start,
             None if g.span is None else g.span.end, len(g.args)] for g in guards]
    exprs = [expr, *derivs, *true_derivs, *(a for g in guards for a in g.args)]
    try:
        prog, outputs = compiled.compile_sympy(exprs, symbol_names(names),
                                               symbolic.constants_of(exprs))
    except compiled.Unsupported:
        return {"forms": forms, "true_forms": true_forms, "guards": meta, "program": None,
                "values": fallback(exprs)}
    values = None if finish is None else finish(prog, outputs, meta)
    return {"forms": forms, "true_forms": true_forms, "guards": meta, "program": prog,
            "outputs": outputs, "values": values}


def obtain(program: Program, names: Any, wrt: Sequence[str], of: str | None,
           deadline: Deadline, use_cache: bool, fallback: Any, finish: Any = None
           ) -> tuple[str, Any]:
    """Derivatives from the cache or SymPy, evaluated by finish(program, outputs, guards)
    before the deadline (in a forked child either way, so a pathological evaluation cannot
    hang): ("ok", dict with forms, guards, program, outputs, values), ("timeout", None),
    ("too large", work) for a matrix program beyond MATRIX_WORK, or ("error", msg). Reads and
    fills the cache unless use_cache is False, and the memory of an open remembering() block
    either way."""
    key = cache.make_key(program.source, names, wrt, of)
    memo = _MEMO[-1] if _MEMO else None
    entry = memo.get(key.digest()) if memo is not None else None
    if entry is None and use_cache:
        entry = cache.load(key)
    if entry is not None:
        result = {"forms": entry.forms, "true_forms": entry.true_forms,
                  "guards": entry.guards, "program": entry.program,
                  "outputs": entry.outputs, "values": None}
        if finish is not None:
            status, values = run_with_budget(
                lambda: finish(entry.program, entry.outputs, entry.guards), deadline)
            if status != "ok":
                return status, values
            result["values"] = values
        return "ok", result
    status, result = run_with_budget(
        lambda: _derive(program, names, wrt, of, fallback, finish), deadline)
    if status == "ok" and "too_large" in result:
        return "too large", result["too_large"]
    if status == "ok" and result["program"] is not None:
        entry = cache.Entry(result["forms"], result["program"], result["outputs"],
                            result["true_forms"], result["guards"])
        if use_cache:
            cache.store(key, entry)
        if memo is not None:
            memo[key.digest()] = entry
    return status, result


_MEMO: list[dict[str, cache.Entry]] = []  # per open remembering() block: key digest -> entry


@contextmanager
def remembering() -> Iterator[None]:
    """Inside the block, derivatives obtained once are kept in memory and reused, as a disk
    cache hit would be (with or without the disk cache: --points --hessian --no-cache derives
    them once per call, not once per row)."""
    _MEMO.append({})
    try:
        yield
    finally:
        _MEMO.pop()


def at_point(program: Program, names: Any, wrt: Sequence[str],
             point: Mapping[str, float], of: str | None, deadline: Deadline,
             use_cache: bool = True, judge_fn: Any = None) -> tuple[str, Any]:
    """The derivatives judged at one point: judge_fn(program, outputs, guards) runs in the
    child before the deadline and returns its verdicts. ("ok", {"forms", "true_forms",
    "guards", "judged"}) - judged is None when the derivatives could not be compiled, and
    "fallback" then holds SymPy's own float values of every output - or ("timeout", None) or
    ("error", msg)."""

    def fallback(exprs: Sequence[Any]) -> list[Any]:
        from ..symbolic import convert as symbolic
        return [symbolic.evaluate(e, point) for e in exprs]

    status, result = obtain(program, names, wrt, of, deadline, use_cache, fallback, judge_fn)
    if status != "ok":
        return status, result
    compiled_ok = result["program"] is not None
    return "ok", {"forms": result["forms"], "true_forms": result["true_forms"],
                  "guards": result["guards"],
                  "judged": result["values"] if compiled_ok else None,
                  "fallback": None if compiled_ok else result["values"]}


def for_columns(program: Program, names: Any, wrt: Sequence[str],
                columns: Mapping[str, Any] | None, n: int, of: str | None, deadline: Deadline,
                use_cache: bool = True) -> tuple[str, Any]:
    """The symbolic derivatives of a batch, obtained once for all its rows (from the cache or
    SymPy): ("ok", derived) to hand to on_rows chunk by chunk, ("timeout", None) or ("error",
    msg). derived holds "forms", "true_forms", "guards", "program" and "outputs" (plain data, so
    it can be shipped to other processes). Without a program (derivatives the program format
    cannot express), SymPy's lambdify (numpy) evaluated the value and partials over the whole
    columns (float64 arrays of length n) in the child: derived["values"] (empty when columns
    is None: no rows to evaluate here)."""

    def fallback(exprs: Sequence[Any]) -> list[Any]:
        import numpy as np

        if columns is None:
            return []
        from ..symbolic import convert as symbolic
        sp = symbolic.namespace()
        syms = [symbolic.symbol(name) for name in names]
        out = []
        with np.errstate(all="ignore"):
            for e in exprs[:1 + len(wrt)]:
                fn = sp.lambdify(syms, symbolic.display(e), modules="numpy")
                v = np.asarray(fn(*(columns[name] for name in names)))
                if np.iscomplexobj(v):
                    v = np.where(v.imag == 0, v.real, np.nan)
                out.append(np.broadcast_to(v.astype(np.float64), (n,)))
        return out

    return obtain(program, names, wrt, of, deadline, use_cache, fallback)


def on_rows(derived: Mapping[str, Any], wrt: Sequence[str], columns: Mapping[str, Any],
            lo: int, hi: int, deadline: Deadline) -> dict[str, Any]:
    """The symbolic value and partials at rows lo:hi, each with a bound on its float64
    rounding error: {"value": (array, bound), "partials": {name: (form, array, bound)},
    "guards": (meta, [(array, bound) per argument])}. columns: those rows of every bound name
    (arrays of length hi - lo, or floats). Without a program the bound is unknown (inf).
    Raises TimeoutError once the deadline has passed."""
    import numpy as np

    n = hi - lo
    guards = derived["guards"]
    if derived["program"] is None:
        values = [(v[lo:hi], np.full(n, np.inf)) for v in derived["values"]]
        guard_values: list[Any] = []
    else:
        values = compiled.evaluate_np(derived["program"], derived["outputs"], columns, n,
                                      deadline.at, bounds=True)
        first = len(derived["outputs"]) - sum(g[4] for g in guards)
        guard_values = values[first:]
    forms = derived["forms"]
    return {"value": values[0], "guards": (guards, guard_values),
            "partials": {n_: (forms[n_], *v) for n_, v in zip(wrt, values[1:1 + len(wrt)],
                                                               strict=True)}}
