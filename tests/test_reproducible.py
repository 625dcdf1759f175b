"""A verdict depends only on the input: the same command prints the same bytes and exits with
the same status on a quiet machine and on a slow one. The slow machine is simulated by a
clock that runs FAST times faster than the real one (the forked children of the check inherit
it), so every piece of work looks FAST times as long: a limit measured on the clock would
change the verdicts; limits that are counts of work do not."""

from __future__ import annotations

import time

import pytest

FAST = 8.0   # within the safety net's default (the whole call gets 120 s of clock time)

INV_4X4 = "[[4,1,0,1],[1,5,1,0],[0,1,6,1],[1,0,1,7]]"


@pytest.fixture
def points(points_file) -> str:
    return points_file("x,y\n" + "".join(f"{k / 7 - 1},{k % 5 - 2}\n" for k in range(40)))


def _cases(points: str) -> list[list[str]]:
    return [
        # a claim in matrix notation (the Matrix Cookbook identity of the issue)
        ["trace(A@inv(X)@B)", "--at", f"X={INV_4X4}", "--at",
         "A=[[1,0,0,0],[0,2,0,0],[0,0,1,1],[1,0,0,1]]", "--at",
         "B=[[1,1,0,0],[0,1,0,0],[0,0,1,0],[2,0,0,1]]",
         "--claim", "X: -transpose(inv(X)@B@A@inv(X))"],
        # a claim without a point, on a function with kinks and a domain
        ["x*abs(x) + log(1+x^2)", "--claim", "x: 2*abs(x) + 2*x/(1+x^2)"],
        # a Hessian
        ["(1-x)^2 + 100*(y-x^2)^2 + abs(x*y)", "--at", "x=1.5,y=0.7", "--hessian"],
        # a 4x4 matrix check
        ["logdet(X) + sum(inv(X))", "--at", f"X={INV_4X4}"],
        # a batch, with rows at a kink and at a domain edge
        ["abs(x)*sqrt(y+2) + max(x, y)", "--points", points],
        # the point check of the sixteen parallel calls
        ["x^3+y", "--at", "x=3,y=1"],
        # issue 24's functions where the judge's limits and jump tests decide: sinc at 0,
        # mod at a jump, digamma far from 0, and a solve past SymPy's work limit
        ["sum(solve(X, w)) + sinc(x) + x % 2 + digamma(y)", "--at", f"X={INV_4X4}",
         "--at", "w=[1,2,3,4]", "--at", "x=0,y=-1000000.5"],
        # a Hessian over a vector's components, and --steps
        ["w@w + sum(w)^3 + sinc(w[0])", "--at", "w=[0,2,-1]", "--hessian"],
        ["x*sin(y) + sinc(x) + y % 3", "--at", "x=0,y=3", "--steps"],
    ]


def test_the_same_bytes_on_a_quiet_and_on_a_slow_machine(gradcalc, points, monkeypatch
                                                         ) -> None:
    cases = _cases(points)
    quiet = [gradcalc(*argv, "--no-cache", "--format", "json") for argv in cases]
    real = time.monotonic
    start = real()
    monkeypatch.setattr(time, "monotonic", lambda: start + FAST * (real() - start))
    slow = [gradcalc(*argv, "--no-cache", "--format", "json") for argv in cases]
    for argv, a, b in zip(cases, quiet, slow, strict=True):
        assert "time limit" not in a.out + b.out, argv
        assert (a.status, a.out) == (b.status, b.out), argv
