"""gradcalc: gradients on a reverse-mode tape, cross-checked against SymPy."""

from . import ops_matrix  # noqa: F401  (its records join the op table)
from .engine import functions
from .engine.custom import custom_gradient, custom_vjp
from .engine.functional import grad, hessian, jacobian, value_and_grad
from .engine.functions import stop_gradient
from .engine.tape import GradientTape, Tape, Tensor, UnconnectedGradients, Variable, constant
from .version import __version__

__all__ = ["GradientTape", "Tape", "Tensor", "UnconnectedGradients", "Variable", "constant",
           "custom_gradient", "custom_vjp", "functions", "grad", "hessian", "jacobian",
           "stop_gradient", "value_and_grad", "__version__"]
