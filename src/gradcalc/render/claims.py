"""Renderings of a verification (--expect, --claim, --numeric): a text section for people and
extra keys in the JSON object for scripts."""

from __future__ import annotations

from typing import Any

from ..judge.claims import MISS_FRACTION, NUMERIC_SAFETY, ClaimVerdict, Opinions, Verification
from ..lang.syntax import Assign, Program
from ..render.report import fit, fmt, jnum, paint, shorten, verdict_table


def tolerances(ver: Verification) -> str:
    """The tolerances every verdict was reached with."""
    return f"rtol {ver.rtol:g}, atol {ver.atol:g}"


def _point(at: dict[str, Any]) -> str:
    return ", ".join(f"{n}={fmt(v)}" for n, v in at.items())


def claim_verdict(v: ClaimVerdict) -> str:
    """One claim's verdict in words."""
    if v.status == "proved":
        text = "proved equal"
    elif v.status == "equal":
        miss = v.miss_probability
        chance = f"{miss:.2%}" if miss >= 1e-4 else f"{miss:.1e}"
        text = (f"equal at {v.points} random points (a difference on {MISS_FRACTION:.0%} of the "
                f"sampled region would be missed with probability {chance}); SymPy could not "
                "prove it")
        if v.reason:
            text += f": {v.reason}"
    elif v.status == "differs":
        c = v.counterexample or {}
        text = (f"differs: e.g. at {_point(c.get('at', {}))}, yours gives {fmt(c.get('yours'))}"
                f", true is {fmt(c.get('true'))}")
    else:
        text = f"{v.status}: {v.reason}"
    if v.at_point is not None and v.status != "differs":
        text += (f"; at the --at point yours {fmt(v.at_point['yours'])}, true "
                 f"{fmt(v.at_point['true'])}")
    return text


def _numeric(p: Opinions) -> str:
    if p.numeric is None:
        return "-"
    return f"{fmt(p.numeric.value)} ± {p.numeric.error:.2g}"


def text(ver: Verification, colour: bool = False) -> str:
    """The verification section: a table of opinions per partial, the claims, a summary."""
    out: list[str] = []
    if ver.numeric or any(p.expected is not None for p in ver.partials.values()):
        note = f"; numeric within {NUMERIC_SAFETY:g}x its error estimate" if ver.numeric else ""
        out.append(f"verify ({tolerances(ver)}{note}):")
        rows = [["partial", "tape", "symbolic"] + (["numeric"] if ver.numeric else [])
                + ["expected", "verdict"]]
        for p in ver.partials.values():
            verdict = p.status + (f": {p.reason}" if p.reason else "")
            rows.append([f"d/d{p.name}", fmt(p.tape), "-" if p.symbolic is None else
                         fmt(p.symbolic)] + ([_numeric(p)] if ver.numeric else [])
                        + ["-" if p.expected is None else fmt(p.expected), verdict])
        out += verdict_table(rows, [p.status for p in ver.partials.values()], colour)
        if ver.numeric:
            methods: dict[str, list[str]] = {}
            for p in ver.partials.values():
                if p.numeric is not None:
                    methods.setdefault(p.numeric.method, []).append(p.name)
            out.append("  numeric: " + "; ".join(f"{m} for {', '.join(n)}"
                                                 for m, n in methods.items()))
        out.append("")
    if ver.claims:
        out += fit(f"claims (counterexample search at random points where the derivative "
                   f"exists, then SymPy simplification; {tolerances(ver)}):", 4)
        rows = [["partial", "yours", "true", "verdict"]]
        for v in ver.claims:
            rows.append([f"d/d{v.claim.name}", shorten(v.claim.formula, 40),
                         shorten(v.true_form or "-", 40), claim_verdict(v)])
        out += verdict_table(rows, [_claim_word(v) for v in ver.claims], colour)
        out.append("")
    lines = fit(summary(ver), 4)
    lines[0] = paint(lines[0], len("verify: "), "ok" if ver.status == "ok" else "MISMATCH",
                     colour)
    out += lines
    return "\n".join(out) + "\n"


def _claim_word(v: ClaimVerdict) -> str:
    """The first word of a claim's verdict: proved, equal, differs, or the status."""
    return {"proved": "proved", "equal": "equal", "differs": "differs"}.get(v.status, v.status)


def summary(ver: Verification) -> str:
    """One line: the overall verdict, what disagreed, and the tolerances."""
    parts = []
    if ver.numeric or any(p.expected is not None or p.status == "mismatch"
                          for p in ver.partials.values()):
        bad = sum(p.status == "mismatch" for p in ver.partials.values())
        parts.append(f"partials in disagreement: {bad} of {len(ver.partials)}")
    if ver.claims:
        bad = sum(v.status == "differs" for v in ver.claims)
        parts.append(f"claims that differ: {bad} of {len(ver.claims)}")
        open_ = sum(v.status == "undecided" for v in ver.claims)
        if open_:
            parts.append(f"undecided: {open_} (not a success)")
    word = {"ok": "ok", "mismatch": "MISMATCH"}.get(ver.status, "UNDECIDED")
    return f"verify: {word}: {', '.join(parts)} ({tolerances(ver)})"


def _claim_json(v: ClaimVerdict) -> dict[str, Any]:
    c = v.counterexample
    at = v.at_point
    return {
        "name": v.claim.name, "claim": v.claim.formula, "source": v.claim.label,
        "true": v.true_form, "status": v.status, "verdict": claim_verdict(v),
        "points": v.points, "miss_probability": v.miss_probability
        if v.points and v.status in ("equal", "proved") else None,
        "counterexample": None if c is None else {
            "at": {n: jnum(x) for n, x in c["at"].items()}, "yours": jnum(c["yours"]),
            "true": jnum(c["true"])},
        "at_point": None if at is None else {k: jnum(x) for k, x in at.items()},
        "reason": v.reason or None,
    }


def extend(check: dict[str, Any], ver: Verification) -> None:
    """Add the verification to a JSON object's "check": opinions per partial, claims, and
    the overall verdict (a mismatch makes the check's status mismatch)."""
    partials = check.setdefault("partials", {})
    for name, p in ver.partials.items():
        entry = partials.setdefault(name, {})
        entry.update({
            "tape": jnum(p.tape), "symbolic": jnum(p.symbolic),
            "numeric": None if p.numeric is None else jnum(p.numeric.value),
            "numeric_error": None if p.numeric is None else jnum(p.numeric.error),
            "numeric_method": None if p.numeric is None else p.numeric.method,
            "expected": jnum(p.expected), "agree": p.agree, "status": p.status,
            "reason": p.reason or None,
        })
    if ver.claims:
        check["claims"] = [_claim_json(v) for v in ver.claims]
    check["verify"] = {"status": ver.status, "rtol": ver.rtol, "atol": ver.atol,
                       "numeric_safety": NUMERIC_SAFETY if ver.numeric else None}
    if ver.status == "mismatch":
        check["status"] = "mismatch"


def output_name(program: Program, of: str | None) -> str | None:
    """The name of the program's output, if it has one."""
    last = program.statements[-1]
    return of or (last.target if isinstance(last, Assign) else None)


def claims_only_json(program: Program, ver: Verification, of: str | None) -> dict[str, Any]:
    """The JSON object for claims given without --at: no point, so no value and no gradient."""
    check: dict[str, Any] = {"status": ver.status, "symbolic": ver.true_forms,
                             "reason": "no --at: the claims were checked, there was no tape run",
                             "rtol": ver.rtol, "atol": ver.atol}
    extend(check, ver)
    return {"expression": program.source, "at": {}, "output": output_name(program, of),
            "value": None, "gradient": {}, "check": check}
