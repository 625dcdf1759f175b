"""gradcalc: gradients on a reverse-mode tape, cross-checked against SymPy."""

from typing import Any

from . import ops_matrix  # noqa: F401  (its records join the op table)
from .engine import functions
from .engine.api import GradientTape, Tape, Tensor, UnconnectedGradients, Variable, constant
from .engine.custom import custom_gradient, custom_vjp
from .engine.functional import grad, hessian, jacobian, value_and_grad
from .engine.functions import stop_gradient
from .version import __version__

__all__ = ["CheckGradError", "GradientTape", "Tape", "Tensor", "UnconnectedGradients",
           "Variable", "check_grad", "constant", "custom_gradient", "custom_vjp", "functions",
           "grad", "hessian", "jacobian", "stop_gradient", "value_and_grad", "__version__"]


def check_grad(f: Any, grad_f: Any, *args: Any, rtol: float = 1e-9, atol: float = 0.0,
               points: int = 20, search: bool = True, argnums: Any = None,
               names: Any = None) -> Any:
    """Judge your gradient code: grad_f(*args) against the true gradient of f (a function of
    floats and numpy arrays returning a scalar) at args, component by component, then at
    random points of the same shapes, signs and magnitudes (a counterexample search seeded
    from the input; search=False or points=0 judges args only).

    Returns a report: .status ok, mismatch, undefined or skipped; truthy only for ok;
    .components (yours, true, error, verdict), .worst(), .counterexample; print(report) is
    the table the command line prints. argnums: the differentiated arguments (default all;
    grad_f returns one array, or a tuple for several); names: their names in the report.
    Raises CheckGradError (a ValueError) when it cannot judge: f cannot be recorded (a numpy
    function or a branch on a value the tape refuses, f raising), or grad_f returns another
    shape. README: Checking gradient code."""
    from .judge.code import check_code, plug_renderer
    from .render.text import code_text

    plug_renderer("text", code_text)
    return check_code(f, grad_f, args, rtol, atol, points, search, argnums, names)


def __getattr__(name: str) -> Any:
    if name == "CheckGradError":   # (judge.code loads when used: start-up stays light)
        from .judge.code import CheckGradError

        return CheckGradError
    raise AttributeError(f"module 'gradcalc' has no attribute {name!r}")
