"""gradcalc: gradients on a reverse-mode tape, cross-checked against SymPy."""

from .tape import Tape, Tensor, Variable, constant

__version__ = "0.1.0"
__all__ = ["Tape", "Tensor", "Variable", "constant", "__version__"]
