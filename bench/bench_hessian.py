"""Hessian cost against gradient cost, measured in the same run: the Hessian of an n-variable
function (reverse over reverse) should cost about n backward passes of the first-order tape;
the extended Rosenbrock function at n = 100 has issue 26's target, 1.5 gradient calls.

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
    """Hessian vs gradient rows for both functions with n variables."""
    from gradcalc.engine.evaluate import run
    from gradcalc.engine.higher import hessian
    from gradcalc.engine.tape import backward
    from gradcalc.lang.syntax import parse

    rows = []
    for label, source in (("extended Rosenbrock", rosenbrock(n)), ("dense", dense(n))):
        program = parse(source)
        point = {f"x{i}": 0.5 + 0.01 * i for i in range(n)}
        result = run(program, point)
        target = result.target_id()
        sources = [result.tape.node_of(result.sources[k]).id for k in result.wrt]

        def one_backward(result=result, target=target, sources=sources) -> None:
            backward(result.nodes, target, sources)

        t_back = common.median_time(one_backward)
        t_grad = common.median_time(lambda program=program, point=point: run(program, point))
        t_hess = common.median_time(lambda result=result: hessian(result))
        name = f"{label}, n = {n} ({len(result.nodes)} tape nodes): Hessian"
        rows.append(common.Row(name, t_hess, "n x first-order backward pass", n * t_back,
                               "a small constant (<= 10x)"))
        # issue 26's target for the banded case: forward-over-reverse with all n tangents as
        # one numpy block would cost about one gradient; reverse over reverse costs n
        target = "<= 1.5x" if label == "extended Rosenbrock" and n >= 100 else f"<= n x ({n}x)"
        rows.append(common.Row(name, t_hess, "1 gradient (forward + backward)", t_grad,
                               target))
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
    common.print_table("Hessian (reverse over reverse) vs first-order costs of the same "
                       "function, in-process, no check", rows)
    common.print_table("Hessian at every row of --points", points_rows())

if __name__ == "__main__":
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
    main()
