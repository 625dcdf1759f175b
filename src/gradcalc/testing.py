"""Assertions for a project's own test suite.

    from gradcalc.testing import assert_grad

    def test_my_gradient():
        assert_grad(loss, grad_loss, w0)
"""

from __future__ import annotations

from typing import Any


def assert_grad(f: Any, grad_f: Any, *args: Any, **options: Any) -> Any:
    """gradcalc.check_grad(f, grad_f, *args, **options), raising AssertionError with its
    report (the table the command line prints) unless the verdict is ok; returns the report.
    A function that cannot be judged raises check_grad's CheckGradError."""
    import gradcalc

    report = gradcalc.check_grad(f, grad_f, *args, **options)
    if not report:
        raise AssertionError("\n" + str(report))
    return report
