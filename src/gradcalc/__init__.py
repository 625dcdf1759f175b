"""gradcalc: gradients on a reverse-mode tape, cross-checked against SymPy."""

from .engine import functions
from .engine.functions import stop_gradient
from .engine.tape import Tape, Tensor, UnconnectedGradients, Variable, constant
from .version import __version__

__all__ = ["Tape", "Tensor", "UnconnectedGradients", "Variable", "constant", "functions",
           "stop_gradient", "__version__"]
