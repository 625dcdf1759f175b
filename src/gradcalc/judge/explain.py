"""Where a hand derivation went wrong: a claim (--claim) that differs from the true derivative is
compared with it structurally, and an expected value (--expect) that differs from the true
partial numerically, and the difference is named with the words `missing`, `extra`, `factor`
and `sign`.

A claim and the true derivative are brought to a canonical sum of products (SymPy's expand of
forms built from gradcalc's own syntax trees, never from text) and compared: the ratio of the
two first (a sign, a constant factor, a missing or extra factor such as the chain rule's inner
derivative), then term by term (a missing or extra term such as the product rule's second
term, a term with the wrong sign or coefficient). Where none of that explains the difference,
it says so; the counterexample stays. The comparison is bounded by counts (MAX_SIZE,
MAX_TERMS, MAX_DIFFERENCES, MAX_INNER), runs in a child stopped at the call's deadline after
the verdict is reached, and never changes a verdict: it only explains one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..budget import Deadline
    from ..lang.syntax import Program
    from .claims import Claim, ClaimVerdict

MAX_SIZE = 300          # SymPy nodes of either side: larger ones are not compared
MAX_TERMS = 60          # terms of either expanded side
MAX_DIFFERENCES = 3     # differing terms named; more is "no structural difference"
MAX_INNER = 200         # subexpressions of the function searched for chain and product rules
MAX_FACTOR = 100        # constant factors named (2, 3, 1/2, ...) up to this numerator/denominator

NONE = "no structural difference (a missing or extra term, a factor, a sign) explains it"


def annotate(verdicts: Sequence[ClaimVerdict], program: Program, variables: Sequence[str],
             of: str | None, deadline: Deadline) -> None:
    """Set `difference` on every claim verdict that differs: what differs structurally (one
    child for all of them, stopped at the call's deadline; if that stops it, it says so)."""
    differing = [v for v in verdicts if v.status == "differs"]
    if not differing:
        return
    from ..symbolic.sandbox import run_with_budget

    claims = [v.claim for v in differing]
    status, found = run_with_budget(lambda: _claims(program, variables, claims, of), deadline)
    for k, v in enumerate(differing):
        if status == "ok":
            v.difference = found[k]
        else:
            v.difference = "not compared structurally: " + (
                deadline.reason() if status == "timeout" else str(found))


def _claims(program: Program, variables: Sequence[str], claims: Sequence[Claim],
            of: str | None) -> list[str]:
    """In the child: each claim against the true derivative of the function computed."""
    from ..symbolic import convert as symbolic

    f = symbolic.program_to_sympy(program, list(variables), of)
    f = symbolic.display(symbolic.without_stop_gradient(f) or f)
    env = {n: symbolic.symbol(n) for n in variables}
    out = []
    for claim in claims:
        x = symbolic.symbol(claim.name)
        mine = symbolic.display(symbolic.expr_to_sympy(claim.expr, env))
        out.append(compare(mine, f.diff(x), f, x))
    return out


# ---------------------------------------------------------------- the comparison


def compare(mine: Any, true: Any, f: Any, x: Any) -> str:
    """What differs between a claimed derivative and the true one (SymPy expressions), in
    words; f is the function and x the variable (for the chain and product rules' terms)."""
    import sympy as sp

    if _size(mine) > MAX_SIZE or _size(true) > MAX_SIZE:
        return f"not compared structurally: more than {MAX_SIZE} SymPy nodes"
    if true == 0:
        return "extra: the true derivative is 0" if mine != 0 else NONE
    if mine == 0:
        return f"missing: yours is 0, the true derivative is {_text(true)}"
    rules = _Rules(f, x)
    said = _by_ratio(sp, mine, true, rules)
    if said:
        return said
    return _by_terms(sp, mine, true, rules)


def _by_ratio(sp: Any, mine: Any, true: Any, rules: _Rules) -> str:
    """A sign, a constant factor, or a factor missing, extra or in place of another: when
    yours over the true derivative is a product (no sums in it)."""
    r = sp.powsimp(sp.cancel(sp.together(mine / true)))
    if _size(r) > MAX_SIZE:
        return ""
    if r == -1:
        hint = rules.chain(sp.Integer(-1))
        return "sign: yours is the negative of the true derivative" + hint
    if r.is_Rational:
        hint = rules.chain(1 / r)
        return f"factor: yours is {_text(r)} times the true derivative" + hint
    num, den = sp.fraction(r)
    if not (_is_product(sp, num) and _is_product(sp, den)):
        return ""
    sign = ""
    if num.could_extract_minus_sign():
        num, sign = -num, "sign and "
    if den == 1:
        return f"{sign}factor: yours has an extra factor {_text(num)}"
    if num == 1:
        return f"{sign}factor: yours misses the factor {_text(den)}" + rules.chain(den)
    return f"{sign}factor: yours has the factor {_text(num)} where the true derivative has " \
           f"{_text(den)}" + rules.chain(den)


def _by_terms(sp: Any, mine: Any, true: Any, rules: _Rules) -> str:
    """Missing, extra, sign-flipped and rescaled terms of the expanded forms; failing that,
    of the numerators over a common denominator."""
    if _terms_bound(sp, mine) > MAX_TERMS or _terms_bound(sp, true) > MAX_TERMS:
        return f"not compared structurally: more than {MAX_TERMS} terms when expanded"
    found = [said] if (said := _term_differences(sp, _terms(sp, mine), _terms(sp, true),
                                                  rules)) is not None else []
    (n_mine, d_mine), (n_true, d_true) = (sp.fraction(sp.together(e)) for e in (mine, true))
    if d_true != 1 and sp.expand(d_mine - d_true) == 0 and \
            _terms_bound(sp, n_mine) <= MAX_TERMS and _terms_bound(sp, n_true) <= MAX_TERMS:
        said = _term_differences(sp, _terms(sp, n_mine), _terms(sp, n_true), rules)
        if said is not None:   # (the fewer differences of the two readings)
            found.append(f"over the common denominator {_text(d_true)}: {said}")
    if found:
        return min(found, key=lambda text: text.count("; "))
    return f"{NONE}: more than {MAX_DIFFERENCES} terms differ"


def _term_differences(sp: Any, yours: dict[Any, Any], truth: dict[Any, Any], rules: _Rules
                      ) -> str | None:
    """The differing terms in words, or None when more than MAX_DIFFERENCES differ."""
    missing = [m for m in truth if m not in yours]
    extra = [m for m in yours if m not in truth]
    changed = [m for m in truth if m in yours and yours[m] != truth[m]]
    if len(missing) + len(extra) + len(changed) > MAX_DIFFERENCES:
        return None
    said: list[str] = []
    if len(missing) == 1 and len(extra) == 1:   # one term changed by a factor
        want, got = truth[missing[0]] * missing[0], yours[extra[0]] * extra[0]
        num, den = sp.fraction(sp.powsimp(sp.cancel(got / want)))
        shared = {a for a in sp.Mul.make_args(got) if not a.is_number} & \
            {a for a in sp.Mul.make_args(want) if not a.is_number}
        if shared and _is_product(sp, num) and _is_product(sp, den):
            where = f"in the term {_text(want)}, "
            if num == 1:
                said.append(f"factor: {where}yours misses the factor {_text(den)}"
                            + rules.chain(den))
            elif den == 1:
                said.append(f"factor: {where}yours has an extra factor {_text(num)}")
            else:
                said.append(f"factor: {where}yours has {_text(got)}")
            missing, extra = [], []
    for m in missing:
        term = truth[m] * m
        said.append(f"missing term {_text(term)}" + rules.product(term))
    for m in extra:
        said.append(f"extra term {_text(yours[m] * m)}")
    for m in changed:
        want, got = truth[m] * m, yours[m] * m
        if yours[m] == -truth[m]:
            said.append(f"sign: the term {_text(want)} has the wrong sign in yours")
        else:
            said.append(f"factor: the term {_text(want)} is {_text(got)} in yours")
    return "; ".join(said) if said else None


def _is_product(sp: Any, e: Any) -> bool:
    """A product of factors none of which is a sum (a power of a sum is one factor)."""
    return not any(isinstance(a, sp.Add) for a in sp.Mul.make_args(e))


def _terms(sp: Any, e: Any) -> dict[Any, Any]:
    """The expanded form as {product without its number: number}: products distributed over
    sums and whole powers of sums multiplied out, but denominators left as they are."""
    e = e.replace(lambda n: n.is_Pow and n.base.is_Add and n.exp.is_Integer and n.exp > 0,
                  sp.expand_multinomial)
    out: dict[Any, Any] = {}
    for t in sp.Add.make_args(sp.expand(e, multinomial=False)):
        c, rest = t.as_coeff_Mul()
        out[rest] = out.get(rest, 0) + c
    return {k: v for k, v in out.items() if v != 0}


def _terms_bound(sp: Any, e: Any) -> int:
    """An upper bound of the number of terms e expands to, without expanding it: sums add,
    products multiply, whole powers n of a sum of k terms give at most C(k+n-1, n)."""
    counts: dict[Any, int] = {}
    for node in sp.postorder_traversal(e):
        if node in counts:
            continue
        if isinstance(node, sp.Add):
            n = sum(counts.get(a, 1) for a in node.args)
        elif isinstance(node, sp.Mul):
            n = 1
            for a in node.args:
                n *= counts.get(a, 1)
        elif isinstance(node, sp.Pow) and node.exp.is_Integer and node.exp > 0:
            k, p = counts.get(node.base, 1), int(node.exp)
            n = math.comb(k + p - 1, p) if p < 64 else MAX_TERMS + 1
        else:
            n = 1
        counts[node] = min(n, 10 * MAX_TERMS)
    return counts.get(e, 1)


class _Rules:
    """The function's inner derivatives (the chain rule's factors) and the product rule's
    terms, found in at most MAX_INNER of its subexpressions."""

    def __init__(self, f: Any, x: Any):
        import sympy as sp

        self.sp, self.f, self.x = sp, f, x
        self.inner: list[tuple[Any, Any]] = []     # (h, dh/dx) for each g(h) in f
        self.products: list[tuple[Any, Any]] = []  # (factor u, the term u' * the others)
        seen = 0
        for node in sp.preorder_traversal(f):
            seen += 1
            if seen > MAX_INNER:
                break
            if not node.has(x):
                continue
            for h in self._arguments(node):
                if h != x and h.has(x):
                    self.inner.append((h, sp.diff(h, x)))
        body = f
        while isinstance(body, sp.Function) and len(body.args) == 1:
            body = body.args[0]   # the product inside an outer function: its rule's terms
        if isinstance(body, sp.Mul) and sum(a.has(x) for a in body.args) >= 2:
            outer = sp.diff(f, x) / sp.diff(body, x) if body != f else sp.Integer(1)
            args = body.args
            for k, u in enumerate(args):
                if u.has(x):
                    others = sp.Mul(*args[:k], *args[k + 1:])
                    self.products.append((u, sp.expand(outer * sp.diff(u, x) * others)))

    def _arguments(self, node: Any) -> list[Any]:
        sp = self.sp
        if isinstance(node, sp.Function):
            return list(node.args)
        if isinstance(node, sp.Pow):
            return [node.base] if not node.exp.has(self.x) else [node.exp]
        return []

    def chain(self, factor: Any) -> str:
        """`(the chain rule's factor, the derivative of x^2)` when factor is one."""
        sp = self.sp
        for h, dh in self.inner:
            if dh != 0 and sp.cancel(factor - dh) == 0:
                return f" (the chain rule's factor, the derivative of {_text(h)})"
        return ""

    def product(self, term: Any) -> str:
        """`: the product rule's term with the derivative of sin(x)` when term is one."""
        sp = self.sp
        for u, t in self.products:
            if sp.expand(term - t) == 0:
                return f": the product rule's term with the derivative of {_text(u)}"
        return ""


def _size(e: Any) -> int:
    n = 0
    stack = [e]
    while stack:
        node = stack.pop()
        n += 1
        if n > MAX_SIZE:
            return n
        stack.extend(node.args)
    return n


def _text(e: Any) -> str:
    from ..symbolic.printer import to_text

    return to_text(e)


# ---------------------------------------------------------------- --expect


def value_difference(expected: float, truth: float, rtol: float) -> str:
    """How an expected partial relates to the true one, where a simple relation explains the
    difference: `sign: ...`, `factor: yours is 2 times the true value`; else ""."""
    if truth == 0 or not (math.isfinite(expected) and math.isfinite(truth)):
        return ""
    r = expected / truth
    slack = max(rtol, 1e-12) * 4
    if abs(r + 1) <= slack:
        return "sign: yours is the negative of the true value"
    sign = "sign and " if r < 0 else ""
    a = abs(r)
    for n in range(1, MAX_FACTOR + 1):
        for k, text in ((n, f"{n} times"), (1 / n, f"1/{n} of")):
            if (n > 1 or k != 1) and abs(a - k) <= slack * k:
                return f"{sign}factor: yours is {'-' if sign else ''}{text} the true value"
    return ""
