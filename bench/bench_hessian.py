"""Hessian cost against gradient cost, measured in the same run (each pair alternately, so both
see the same load): the Hessian of an n-variable function by forward over reverse with all n
tangents as one block (engine/tangents.py), and by reverse over reverse (n backward passes of
a recorded gradient, the fallback), each against one gradient call (run: forward and backward)
of the same program. Issue 26's target: the extended Rosenbrock function at n = 100, at most
1.5 gradient calls.

`python bench/run.py hessian` or `python bench/bench_hessian.py`.
"""

from __future__ import annotations

import common


def rosenbrock(n: int) -> str:
    """The extended Rosenbrock function of x0..x{n-1} (a banded Hessian)."""
    return " + ".join(f"100*(x{i + 1} - x{i}^2)^2 + (1 - x{i})^2" for i in range(n - 1))


def dense(n: int) -> str:
    """A function whose Hessian is dense: exp of the mean times a sum of squares and sines."""
    mean = "(" + " + ".join(f"x{i}" for i in range(n)) + f")/{n}"
    terms = " + ".join(f"x{i}^2*sin(x{i})" for i in range(n))
    return f"m = {mean}\ns = {terms}\nf = exp(m) * s"


def scenarios(n: int) -> list[common.Row]:
    """Hessian vs gradient rows for both functions with n variables, both methods."""
    from gradcalc.engine.evaluate import run
    from gradcalc.engine.higher import hessian
    from gradcalc.lang.syntax import parse

    rows = []
    for label, source in (("extended Rosenbrock", rosenbrock(n)), ("dense", dense(n))):
        program = parse(source)
        point = {f"x{i}": 0.5 + 0.01 * i for i in range(n)}
        result = run(program, point)
        assert hessian(result).method == "block"
        name = f"{label}, n = {n} ({len(result.code)} slots): Hessian"
        target = "<= 1.5x" if label == "extended Rosenbrock" and n >= 100 else ""
        for block, how in ((True, "forward over reverse (block)"),
                           (False, "reverse over reverse")):
            t_hess, t_grad = common.paired_times(
                lambda result=result, block=block: hessian(result, block=block),
                lambda program=program, point=point: run(program, point))
            rows.append(common.Row(f"{name}, {how}", t_hess,
                                   "1 gradient (forward + backward)", t_grad,
                                   target if block else ""))
    return rows


def points_rows() -> list[common.Row]:
    """`--points --hessian` over 100 rows, checked as by default (SymPy derives the Hessian
    once per call and the first-order derivatives once into the disk cache; every row is
    judged at its own point), and checked with --no-cache (the derivatives are shared in
    memory), each against the same call with --no-check."""
    import random
    import tempfile
    from pathlib import Path

    rng = random.Random(1)
    with tempfile.TemporaryDirectory() as tmp:
        points = Path(tmp) / "p.csv"
        points.write_text("x,y\n" + "".join(f"{rng.uniform(0.5, 3)},{rng.uniform(0.5, 3)}\n"
                                             for _ in range(100)))
        base = ["x^2*sin(y)", "--points", str(points), "--hessian", "--format", "csv"]
        checked, unchecked = common.paired_command_times(
            common.gradcalc_argv(*base),
            common.gradcalc_argv(*base, "--no-check"), min(common.REPEATS, 3))
        # without the disk cache: the rows share the first row's derivatives in memory
        fresh, unchecked2 = common.paired_command_times(
            common.gradcalc_argv(*base, "--no-cache"),
            common.gradcalc_argv(*base, "--no-check"), min(common.REPEATS, 3))
    return [common.Row("--points --hessian, 100 rows of x^2*sin(y), checked", checked,
                       "the same with --no-check", unchecked, ""),
            common.Row("the same, checked with --no-cache", fresh,
                       "the same with --no-check", unchecked2, "")]


def main() -> None:
    rows = scenarios(10) + scenarios(100)
    common.print_table("Hessian (forward over reverse, and reverse over reverse) vs one "
                       "gradient of the same function, in-process, no check", rows)
    common.print_table("Hessian at every row of --points", points_rows())

if __name__ == "__main__":
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
    main()
