"""check_grad: the gradient code a user wrote, judged against the true gradient of the function
it is meant for, component by component, with the verdicts of the CLI's check.

    report = check_code(loss, grad_loss, w)      # gradcalc.check_grad
    bool(report), report.status, report.worst(), report.counterexample

The function f is recorded on the tape with recording sealed (engine/record.py: a branch on a
value is refused, not recorded as the branch taken); the true gradient is built from the
recorded program by symbolic/trace.py (each primitive's SymPy counterpart and SymPy's own
derivatives, never the tape's VJPs). The user's numbers are judged as the CLI judges the
tape's (verdict.decide: a proven enclosure of the true value, the tolerance with its floor),
at the given point and then at random points of the same shapes, signs and magnitudes and
near the constants of the program (a counterexample search, seeded from the input, its work
bounded by counts). f is recorded again at every point, so a program whose recorded structure
depends on the point (np.where's masks) is judged there by its own reference.

At the search's points, and at the given point of a large program, a float64 evaluation of
the reference with a running bound on its rounding (compiled.evaluate_levels, the --points
screen) judges first: what the screen cannot vouch for, or finds wrong, is judged at full
precision before it is reported (for a large program, a bounded number of times). That bound also
enters the tolerance's floor: your float64 code cannot be closer to the truth than a float64
evaluation of the true formula is (sin(1e5*x) near x = 1e5, where 1e5*x itself rounds).
"""

from __future__ import annotations

import hashlib
import inspect
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..engine import record as recorder
from ..engine.tape import backward, depth, seed_of
from ..engine.vectors import Component
from ..judge import verdict as judge
from ..judge.check import VALUE

DEFAULT_RTOL = judge.DEFAULT_RTOL
DEFAULT_ATOL = judge.DEFAULT_ATOL
DEFAULT_POINTS = 20        # random points judged after the given one
TRIES = 10                 # points drawn per point judged, at most (outside the domain, kinks)
STRUCTURES = 8             # distinct recorded programs the search builds references for
PROVEN_SIZE = 20_000       # a reference at most this long is judged at full precision always
CONFIRMATIONS = 4          # full-precision judgements the search may ask of a longer one
SHOWN = 10                 # components a printed report lists


class CheckGradError(ValueError):
    """check_grad could not judge: f could not be recorded (a numpy function or a branch the
    tape refuses, f raising, a non-scalar result), the reference could not be built, or
    grad_f returned something that is not a gradient of the arguments' shapes. kind names
    which; the message is one line naming the call and, where known, the user's line."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind
        self.message = message


@dataclass
class Verdict:
    """One component of the gradient at the given point: yours (grad_f's number), the true
    value, |yours - true|, and the verdict (ok, mismatch, undefined, skipped) with its reason;
    certified: decided by a proven enclosure (False: vouched for by the float64 screen)."""

    label: Component
    yours: float
    true: float
    error: float | None
    status: str
    reason: str = ""
    certified: bool = True
    floor: float = 0.0


@dataclass
class Counterexample:
    """A point where your gradient differs from the true one: the arguments there, the
    worst component, and why (a number that differs, or grad_f raising)."""

    at: list[Any]
    label: Component | None
    yours: float | None
    true: float | None
    error: float | None
    reason: str
    given: bool = False       # the given point itself


@dataclass
class GradCheck:
    """The verdict on a gradient function: status ok, mismatch, undefined (the true gradient
    does not exist at the given point, so it is not verified) or skipped; truthy only for ok.
    components: every component's verdict at the given point; counterexample: where yours
    differs (the given point or a search point); searched: search points judged, of tried
    drawn (outside: where f is not defined or raised, or the true gradient does not exist)."""

    status: str
    function: str
    gradient: str
    names: list[str]
    point: list[Any]
    value: float
    components: list[Verdict]
    counterexample: Counterexample | None = None
    search: bool = True
    points: int = DEFAULT_POINTS
    searched: int = 0
    tried: int = 0
    outside: int = 0
    structures: int = 1
    rtol: float = DEFAULT_RTOL
    atol: float = DEFAULT_ATOL
    notes: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return self.status == "ok"

    def worst(self, n: int = SHOWN) -> list[Verdict]:
        """The n components most worth reading: mismatches by error, then undefined and
        skipped, then the rest by error."""
        rank = {"mismatch": 0, "undefined": 1, "skipped": 2, "ok": 3}
        return sorted(self.components, key=lambda v: (
            rank.get(v.status, 3), -(v.error if v.error is not None and
                                     math.isfinite(v.error) else math.inf)))[:n]

    def __str__(self) -> str:
        render = _RENDERERS.get("text")
        if render is None:   # gradcalc.check_grad plugs the text renderer in
            return f"check_grad: {self.status}"
        return render(self).rstrip("\n")


_RENDERERS: dict[str, Callable[[GradCheck], str]] = {}


def plug_renderer(name: str, fn: Callable[[GradCheck], str]) -> None:
    """Install the renderer str(report) uses (render/text.py, which this layer cannot
    import, plugs itself in)."""
    _RENDERERS[name] = fn


# ---------------------------------------------------------------- the user's functions


def argument_names(f: Callable[..., Any], count: int) -> list[str]:
    """The names of f's first count positional parameters (arg0, arg1, ... where it has none)."""
    try:
        params = [p for p in inspect.signature(f).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        params = []
    names = [p.name for p in params[:count]]
    return names + [f"arg{k}" for k in range(len(names), count)]


def function_name(fn: Callable[..., Any]) -> str:
    """How messages name a user's function."""
    name = fn.__name__ if hasattr(fn, "__name__") else ""
    return name if isinstance(name, str) and name else type(fn).__name__


@dataclass
class _Raised:
    """grad_f raised: what, and where in the user's code."""

    text: str


def _yours(grad_f: Callable[..., Any], gname: str, args: Sequence[Any], names: Sequence[str],
           shapes: Sequence[tuple[int, ...]], wrt: Sequence[int]) -> list[np.ndarray] | _Raised:
    """grad_f's gradient at args as one flat float64 array per differentiated argument; a
    _Raised if it raised; a CheckGradError if it is not a gradient of the arguments' shapes."""
    try:
        got = grad_f(*args)
    except Exception as exc:   # the user's code: reported as such, never our traceback
        text = str(exc).split("\n")[0]
        where = recorder.user_line(exc.__traceback__)
        return _Raised(f"{gname} raised {type(exc).__name__}" + (f": {text}" if text else "")
                       + (f" ({where})" if where else ""))
    several = len(wrt) > 1
    if several:
        if not isinstance(got, (tuple, list)) or len(got) != len(wrt):
            kind = f"{type(got).__name__}" + (f" of {len(got)}" if isinstance(
                got, (tuple, list)) else "")
            raise CheckGradError("gradient", f"{gname} must return a tuple of {len(wrt)} "
                                 f"gradients (one per argument: {', '.join(names[k] for k in wrt)}"
                                 f"), but it returned {kind}")
        parts = list(got)
    else:
        parts = [got]
    out = []
    for k, part in zip(wrt, parts, strict=True):
        try:
            arr = np.asarray(part)
        except Exception:
            arr = np.asarray(None)
        if arr.dtype.kind == "c":
            raise CheckGradError("gradient", f"{gname}'s gradient for {names[k]} is complex: "
                                 "a gradient of a real function is real")
        if arr.dtype.kind not in "fiub":
            raise CheckGradError("gradient", f"{gname}'s gradient for {names[k]} is "
                                 f"{type(part).__name__}, not an array of numbers")
        if arr.shape != shapes[k]:
            raise CheckGradError("gradient", f"{gname}'s gradient for {names[k]} has shape "
                                 f"{arr.shape}, but {names[k]} has shape {shapes[k]}: return "
                                 f"an array of {names[k]}'s shape" + (
                                     " (a tuple of arrays, one per argument)" if several
                                     else ""))
        out.append(np.ravel(arr.astype(np.float64)))
    return out


# ---------------------------------------------------------------- one point


@dataclass
class _Program:
    """A recorded structure's reference, prepared for the screen and the proven judge."""

    ref: Any
    levels: Any

    @property
    def proven(self) -> bool:
        return self.ref.size <= PROVEN_SIZE


def _reference(rec: recorder.Recording, fname: str) -> _Program:
    from ..symbolic import compiled, trace

    try:
        ref = trace.reference(rec.nodes, rec.leaves, rec.output)
    except trace.Unsupported as exc:
        what = exc.node.op if exc.node is not None else ""
        raise CheckGradError("reference", f"{fname}: cannot build the true gradient"
                             + (f" of its {what}" if what else "") + f": {exc.reason}") from None
    return _Program(ref, compiled.Levels(ref.program))


def _floors(rec: recorder.Recording, atol: float) -> list[float]:
    """The absolute floor of each component's tolerance (verdict.floor), from the tape's
    magnitudes of the recorded program, component by component in argument order."""
    if rec.output is None:
        return [atol] * sum(int(np.prod(s, dtype=np.int64)) for s in rec.shapes)
    nodes, out = rec.nodes, rec.output
    mags = backward(nodes, out, rec.leaves, seed_of(nodes[out].value), magnitude=True).adjoints
    d = depth(nodes, out)
    floors: list[float] = []
    for leaf, shape in zip(rec.leaves, rec.shapes, strict=True):
        m = mags[leaf]
        size = int(np.prod(shape, dtype=np.int64))
        values = [0.0] * size if m is None else np.ravel(
            np.broadcast_to(np.abs(m), shape)).tolist()
        floors += [judge.floor(atol, float(v), d) for v in values]
    return floors


def _screen_ok(t: float, v: float, e: float, rtol: float, fl: float) -> bool:
    """The float64 screen vouches that t is within tolerance of every value within its error
    bound of v (as --points' screen does)."""
    if not (math.isfinite(t) and math.isfinite(v) and math.isfinite(e)):
        return False
    return abs(t - v) + e <= rtol * max(abs(v) - e, 0.0) + fl or (t == v and e == 0)


def _judge(prog: _Program, rec: recorder.Recording, point: list[np.ndarray],
           yours: list[np.ndarray], labels: list[Component], rtol: float, atol: float,
           proven: bool, budget: list[int] | None = None) -> tuple[str, list[Verdict]]:
    """Every component's verdict at one point: ("defined" or the reason the function is not
    defined there, verdicts). proven: judge every component at full precision, not only
    those the float64 screen cannot vouch for. budget: [full-precision judgements left] for
    what the screen cannot vouch for (_NoBudget when none is left); None: no limit."""
    from ..symbolic import compiled

    ref = prog.ref
    flat_point = np.concatenate([np.ravel(p) for p in point]) if point else np.zeros(0)
    flat_yours = np.concatenate(yours) if yours else np.zeros(0)
    syms = [s for names in ref.symbols for s in names]
    values = {s: float(v) for s, v in zip(syms, flat_point.tolist(), strict=True)}
    floors = _floors(rec, atol)
    screen = compiled.evaluate_levels(prog.levels, ref.outputs, {
        s: np.array([v]) for s, v in values.items()}, 1)
    verdicts: list[Verdict | None] = [None] * len(labels)
    questions: list[judge.Question] = []
    asked: list[int] = []
    value_floor = judge.floor(atol, abs(rec.value), 1)
    questions.append(judge.Question(VALUE, 0, rec.value, rtol, value_floor))
    for k, label in enumerate(labels):
        t = float(flat_yours[k])
        v, e = screen[1 + k]
        # the floor: the tape's (verdict.floor), or the float64 rounding of the true formula
        # itself at this point where that is larger (sin(1e5*x) at x = 1e5: 1e5*x rounds)
        fl = max(floors[k], float(e[0])) if math.isfinite(float(e[0])) else floors[k]
        floors[k] = fl
        if not ref.reached[k]:   # no path from this component: the true partial is exactly 0
            ok = judge.within(t, 0.0, rtol, fl)
            verdicts[k] = Verdict(label, t, 0.0, abs(t) if math.isfinite(t) else math.inf,
                                  "ok" if ok else "mismatch",
                                  "" if ok else f"yours {t!r} but f does not depend on "
                                  f"{label} (its true partial is 0)", True, fl)
            continue
        if not proven and _screen_ok(t, float(v[0]), float(e[0]), rtol, fl):
            verdicts[k] = Verdict(label, t, float(v[0]), abs(t - float(v[0])), "ok", "",
                                  False, fl)
            continue
        questions.append(judge.Question(k, 1 + k, t, rtol, fl, side=(syms[k],),
                                        labels={syms[k]: str(label)}))
        asked.append(k)
    v0, e0 = screen[0]
    screened_value = math.isfinite(float(v0[0])) and math.isfinite(float(e0[0]))
    if asked or not screened_value:
        if budget is not None:
            if budget[0] <= 0:
                raise _NoBudget
            budget[0] -= 1
        answers = judge.decide(ref.program, ref.outputs, values, questions)
        first = answers[VALUE]
        if first.status == "undefined":
            return first.reason or "f is not defined here", []
        for k in asked:
            verdicts[k] = _verdict(labels[k], float(flat_yours[k]), answers[k], floors[k])
    return "defined", [v for v in verdicts if v is not None]


def _verdict(label: Component, t: float, a: judge.Answer, fl: float) -> Verdict:
    error = abs(t - a.value) if math.isfinite(a.value) and math.isfinite(t) else (
        None if math.isnan(a.value) else math.inf)
    if a.status == "mismatch" and a.excess is not None and a.excess <= fl:
        return Verdict(label, t, a.value, error, "ok", "", a.certified, fl)
    reason = a.reason if a.status != "ok" or not a.certified else ""
    if a.status == "mismatch":
        reason = f"yours {t!r} but the true partial is {a.value!r}" + (
            f" ({a.reason})" if a.reason else "")
    elif a.status == "undefined":
        reason = a.reason or "the derivative is not defined here"
    return Verdict(label, t, a.value, error, a.status, reason, a.certified, fl)


# ---------------------------------------------------------------- the search


def _seed(rec: recorder.Recording, point: Sequence[np.ndarray]) -> int:
    """The search's seed: a digest of the recorded program and the point (same input, same
    points, on any machine)."""
    h = hashlib.blake2b(rec.key, digest_size=8)
    for p in point:
        h.update(np.ascontiguousarray(p, dtype=np.float64).tobytes())
    return int.from_bytes(h.digest(), "little")


def anchors(rec: recorder.Recording) -> list[float]:
    """Numbers to sample near: the scalar constants of the recorded program (relu(x - 25)
    changes at 25) and the numbers recorded values were compared with (np.where(x > 25, ...))."""
    found: set[float] = set(rec.thresholds)
    for node in rec.nodes:
        for r in node.inputs:
            if type(r) is not int:
                v = r.value
                if isinstance(v, (float, int, np.floating, np.integer)) and \
                        not isinstance(v, (bool, np.bool_)):
                    found.add(float(v))
    return sorted(v for v in found if math.isfinite(v) and (v == 0 or 1e-300 < abs(v) < 1e300))


def _coordinate(rng: np.random.Generator, marks: Sequence[float]) -> float:
    """One coordinate as claims draw it: near an anchor half the time when there are any,
    else uniform on [-3, 3] or a log-uniform magnitude in [0.01, 30] of either sign."""
    if marks and rng.random() < 0.5:
        c = marks[int(rng.integers(len(marks)))]
        sign = 1.0 if rng.random() < 0.5 else -1.0
        if rng.random() < 0.5:
            return c + sign * max(abs(c), 1.0) * 10 ** rng.uniform(-6.0, 0.0)
        return c + sign * 10 ** rng.uniform(-3.0, 1.0)
    if rng.random() < 0.5:
        return float(rng.uniform(-3.0, 3.0))
    return float((1.0 if rng.random() < 0.5 else -1.0) * 10 ** rng.uniform(-2.0,
                                                                          math.log10(30.0)))


def draw(rng: np.random.Generator, point: Sequence[np.ndarray], marks: Sequence[float]
         ) -> list[np.ndarray]:
    """A random point of the arguments' shapes: near the given point, with its magnitudes and
    random signs, as claims draw coordinates, or near the anchors."""
    how = rng.random()
    out = []
    for p in point:
        p = np.asarray(p, dtype=np.float64)
        size = p.size
        if how < 0.3:       # near the given point
            scale = np.maximum(np.abs(p), 1.0) * 10 ** rng.uniform(-3.0, 0.0, size).reshape(
                p.shape)
            q = p + rng.standard_normal(p.shape) * scale
        elif how < 0.6:     # the given magnitudes (spread), random signs
            mag = np.where(p != 0, np.abs(p), 1.0) * 10 ** rng.uniform(-1.0, 1.0, p.shape)
            q = mag * np.where(rng.random(p.shape) < 0.5, -1.0, 1.0)
        else:               # as claims draw, near the anchors when there are some
            use = marks if how >= 0.8 else ()
            q = np.array([_coordinate(rng, use) for _ in range(size)]).reshape(p.shape)
        out.append(q)
    return out


# ---------------------------------------------------------------- check_grad


def check_code(f: Callable[..., Any], grad_f: Callable[..., Any], args: Sequence[Any],
               rtol: float = DEFAULT_RTOL, atol: float = DEFAULT_ATOL,
               points: int = DEFAULT_POINTS, search: bool = True,
               argnums: int | Sequence[int] | None = None,
               names: Sequence[str] | None = None) -> GradCheck:
    """Judge grad_f(*args) as the gradient of f at args, then search for a counterexample
    (see the module docstring). argnums: the positions of the differentiated arguments
    (default: all; the others are passed to both functions as they are); names: the
    arguments' names in messages (default: f's parameter names)."""
    fname, gname = function_name(f), function_name(grad_f)
    if not args:
        raise CheckGradError("argument", f"check_grad({fname}, {gname}) needs the point: the "
                             f"arguments of {fname}, e.g. check_grad(f, grad_f, x)")
    if not (rtol >= 0 and atol >= 0):
        raise CheckGradError("argument", "rtol and atol must be non-negative numbers")
    if isinstance(points, bool) or not isinstance(points, (int, np.integer)) or points < 0:
        raise CheckGradError("argument", f"points must be a whole number >= 0, not {points!r}")
    count = len(args)
    wrt = _argnums(argnums, count)
    names = list(names) if names is not None else argument_names(f, count)
    constants = {k: a for k, a in enumerate(args) if k not in wrt}
    values: list[Any] = []
    for k, a in enumerate(args):
        if k in constants:
            values.append(a)
            continue
        try:
            values.append(recorder.as_argument(a, names[k]))
        except recorder.RecordError as exc:
            raise CheckGradError("argument", exc.message) from None
    rec = _record(f, values, names, constants, fname)
    again = _record(f, values, names, constants, fname)
    if again.key != rec.key:
        raise CheckGradError("record", f"{fname} records a different program when called "
                             "twice with the same arguments (random numbers, or state it "
                             f"changes?): {recorder.differences(rec, again)}; check_grad "
                             "needs a function of its arguments")
    shapes = [np.shape(values[k]) for k in wrt]
    labels = _labels([names[k] for k in wrt], shapes)
    given = [np.asarray(values[k], dtype=np.float64) for k in wrt]
    prog = _reference(rec, fname)
    mine = _yours(grad_f, gname, args, names, [np.shape(values[k]) for k in range(count)], wrt)
    report = GradCheck("ok", fname, gname, [names[k] for k in wrt], given, rec.value, [],
                       search=search and points > 0, points=points, rtol=rtol, atol=atol)
    if isinstance(mine, _Raised):
        report.status = "mismatch"
        report.counterexample = Counterexample(given, None, None, None, None, mine.text,
                                               given=True)
        return report
    where, verdicts = _judge(prog, rec, given, mine, labels, rtol, atol, proven=prog.proven)
    if where != "defined":
        report.status = "undefined"
        report.components = [Verdict(label, float(t), math.nan, None, "undefined",
                                     f"{fname} is not defined here: {where}")
                             for label, t in zip(labels, np.concatenate(mine), strict=True)]
        report.notes.append(f"{fname} is not defined at the given point ({where}); the "
                            "search looks for points where it is")
    else:
        report.components = verdicts
        report.status = judge.combine(v.status for v in verdicts) if verdicts else "ok"
    bad = [v for v in report.components if v.status == "mismatch"]
    if bad:
        worst = max(bad, key=lambda v: v.error if v.error is not None else math.inf)
        report.counterexample = Counterexample(given, worst.label, worst.yours, worst.true,
                                               worst.error, worst.reason, given=True)
        return report
    if report.search:
        _search(report, f, grad_f, rec, prog, values, constants, names, wrt, labels)
        if report.counterexample is not None:
            report.status = "mismatch"
    return report


def _argnums(argnums: int | Sequence[int] | None, count: int) -> list[int]:
    if argnums is None:
        return list(range(count))
    nums = [argnums] if isinstance(argnums, (int, np.integer)) else list(argnums)
    out = []
    for k in nums:
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or \
                not -count <= k < count:
            raise CheckGradError("argument", f"argnums={argnums!r} does not name arguments "
                                 f"of a call with {count}")
        out.append(int(k) % count)
    if len(set(out)) != len(out) or not out:
        raise CheckGradError("argument", f"argnums={argnums!r} names an argument twice, or "
                             "none")
    return sorted(out)


def _labels(names: Sequence[str], shapes: Sequence[tuple[int, ...]]) -> list[Component]:
    out: list[Component] = []
    for name, shape in zip(names, shapes, strict=True):
        if not shape:
            out.append(Component(name))
        elif len(shape) == 1:
            out += [Component(name, k) for k in range(shape[0])]
        else:
            out += [Component(name, k) for k in np.ndindex(*shape)]
    return out


def _record(f: Callable[..., Any], values: Sequence[Any], names: Sequence[str],
            constants: dict[int, Any], fname: str) -> recorder.Recording:
    try:
        return recorder.record(f, values, names, constants, fname)
    except recorder.RecordError as exc:
        raise CheckGradError(exc.kind, str(exc)) from None


def _search(report: GradCheck, f: Callable[..., Any], grad_f: Callable[..., Any],
            rec: recorder.Recording, prog: _Program, values: list[Any],
            constants: dict[int, Any], names: list[str], wrt: list[int],
            labels: list[Component]) -> None:
    """Judge random points until `points` of them were judged or TRIES times as many were
    drawn; the first proven mismatch is the counterexample (rounded where it stays one)."""
    rng = np.random.default_rng(_seed(rec, [np.asarray(values[k], dtype=float) for k in wrt]))
    marks = anchors(rec)
    programs = {rec.key: prog}
    confirmations = [CONFIRMATIONS]
    given = [np.asarray(values[k], dtype=np.float64) for k in wrt]
    shapes = [np.shape(values[k]) for k in range(len(values))]
    while report.searched < report.points and report.tried < TRIES * report.points:
        report.tried += 1
        pt = draw(rng, given, marks)
        found = _at(report, f, grad_f, pt, programs, values, constants, names, wrt, labels,
                    shapes, confirmations)
        if found is None:
            report.outside += 1
            continue
        if found == "structures":
            report.notes.append(f"the search stopped: {report.function} records more than "
                                f"{STRUCTURES} different programs at the points drawn")
            break
        report.searched += 1
        if isinstance(found, Counterexample):
            report.counterexample = _simplest(report, found, f, grad_f, programs, values,
                                              constants, names, wrt, labels, shapes)
            break
    report.structures = len(programs)


def _at(report: GradCheck, f: Callable[..., Any], grad_f: Callable[..., Any],
        pt: list[np.ndarray], programs: dict[bytes, _Program], values: list[Any],
        constants: dict[int, Any], names: list[str], wrt: list[int], labels: list[Component],
        shapes: list[tuple[int, ...]], confirmations: list[int]) -> Any:
    """The verdict at one search point: a Counterexample, "judged", "structures" (too many
    programs), or None (not judged: f undefined or raising there, a kink, or no budget)."""
    args = list(values)
    for k, p in zip(wrt, pt, strict=True):
        args[k] = p if np.ndim(values[k]) else np.float64(p)
    try:
        rec = recorder.record(f, args, names, constants, report.function)
    except recorder.RecordError as exc:
        if exc.kind == "refused":   # a branch or a function refused here only: as anywhere
            raise CheckGradError(exc.kind, str(exc)) from None
        return None
    if not math.isfinite(rec.value):
        return None
    prog = programs.get(rec.key)
    if prog is None:
        if len(programs) >= STRUCTURES:
            return "structures"
        prog = programs[rec.key] = _reference(rec, report.function)
    mine = _yours(grad_f, report.gradient, args, names, shapes, wrt)
    if isinstance(mine, _Raised):
        return Counterexample(pt, None, None, None, None, mine.text)
    try:
        where, verdicts = _judge(prog, rec, pt, mine, labels, report.rtol, report.atol,
                                 proven=False, budget=None if prog.proven else confirmations)
    except _NoBudget:
        return None
    if where != "defined" or any(v.status in ("undefined", "skipped") for v in verdicts):
        return None
    bad = [v for v in verdicts if v.status == "mismatch"]
    if not bad:
        return "judged"
    worst = max(bad, key=lambda v: v.error if v.error is not None else math.inf)
    return Counterexample(pt, worst.label, worst.yours, worst.true, worst.error, worst.reason)


class _NoBudget(Exception):
    """The search has no full-precision judgements left."""


def _simplest(report: GradCheck, found: Counterexample, f: Callable[..., Any],
              grad_f: Callable[..., Any], programs: dict[bytes, _Program], values: list[Any],
              constants: dict[int, Any], names: list[str], wrt: list[int],
              labels: list[Component], shapes: list[tuple[int, ...]]) -> Counterexample:
    """The counterexample at the point rounded to 0, 1 or 2 decimals where yours still differs
    there (an easier point to read), else as found."""
    if any(not p.proven for p in programs.values()):
        return found
    for digits in (0, 1, 2):
        rounded = [np.round(p, digits) + 0.0 for p in found.at]
        try:
            other = _at(report, f, grad_f, rounded, programs, values, constants, names, wrt,
                        labels, shapes, [CONFIRMATIONS])
        except CheckGradError:
            continue
        if isinstance(other, Counterexample):
            return other
    return found
