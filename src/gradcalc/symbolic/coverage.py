"""The coverage table (docs/python-api.md) of the numpy functions recorded on tensors:
generated from the op table and the numpy handlers (engine/numpy_table.py), with each record's
SymPy counterpart as the check builds it (convert.namespace)."""

from __future__ import annotations

import numpy as np

from .. import ops
from ..engine.numpy_table import HANDLERS, UFUNC_HANDLERS, np_name
from ..ops import Primitive
from .convert import namespace


def _sympy_text(prim: Primitive) -> str:
    """The record's SymPy counterpart in a few words: the first sentence of its docstring, or
    the counterpart itself on example symbols."""
    doc = (prim.sympy.__doc__ or "").strip()
    if doc:
        return doc.split("\n\n")[0].replace("\n", " ").split(". ")[0].rstrip(".")
    import sympy

    ns = namespace()
    if not prim.reduction:
        names = prim.argument_names() if prim.arity is not None else ("x", "y")
        syms = [sympy.Symbol(n, real=True) for n in names]
        return f"`{prim.sympy(ns, *syms)}`"
    vectors = [tuple(sympy.Symbol(f"{n}{k}", real=True) for k in range(3))
               for n in ("x", "y")[: prim.arity or 1]]
    return f"`{prim.sympy(ns, *vectors)}` for vectors of 3"


def coverage_rows() -> list[tuple[str, str, str, str]]:
    """The coverage table: per numpy function recorded on tensors, the records it uses,
    their spellings in the language and their SymPy counterparts; the ufuncs of the op table
    first, then HANDLERS, sorted by name."""
    rows = []
    for prim in ops.PRIMITIVES:
        for u in prim.numpy_ufuncs():
            rows.append((f"np.{u.__name__}", (prim,)))
        for f, _ in prim.functions:   # numpy functions a record answers to (np.sinc)
            rows.append((np_name(f), (prim,)))
    rows += [(np_name(f) if f is not np.matmul else "np.matmul", h.records)
             for f, h in HANDLERS.items()]
    rows += [(f"np.{u.__name__}", h.records) for u, h in UFUNC_HANDLERS.items()
             if u is not np.matmul]
    out = []
    for name, records in sorted(rows, key=lambda r: r[0]):
        if not records:
            out.append((name, "(identity: a tensor is real)", "", ""))
            continue
        spellings = sorted({p.spelling or p.symbol for p in records if p.spelling or p.symbol})
        texts = list(dict.fromkeys(_sympy_text(p) for p in records))
        out.append((name, ", ".join(p.name for p in records),
                    ", ".join(f"`{s}`" for s in spellings) or "-", "; ".join(texts)))
    return out


def coverage_table() -> str:
    """The coverage table as markdown (docs/python-api.md shows it)."""
    lines = ["| numpy | records | language | SymPy counterpart |", "|---|---|---|---|"]
    lines += [f"| `{name}` | {recs} | {lang} | {sym} |" for name, recs, lang, sym
              in coverage_rows()]
    return "\n".join(lines) + "\n"
