"""The functions of the op table for the Python API: each records its primitive on the active
tapes, on Variables, tensors or plain numbers alike.

    from gradcalc import Tape, Variable, functions as F
    x = Variable(0.5)
    with Tape() as tape:
        y = F.relu(x) + F.stop_gradient(x) * x
    tape.gradient(y, x)            # 1.5: stop_gradient's factor is a constant
"""

from __future__ import annotations

from typing import Any

from .. import ops, ops_matrix
from ..engine.tape import Tensor, apply

# arrays.py (indexing, where, matrix products) is imported where used: not at start-up


def sin(x: Any) -> Tensor:
    """sin(x)."""
    return apply(ops.SIN, x)


def cos(x: Any) -> Tensor:
    """cos(x)."""
    return apply(ops.COS, x)


def tan(x: Any) -> Tensor:
    """tan(x)."""
    return apply(ops.TAN, x)


def asin(x: Any) -> Tensor:
    """arcsine, defined on [-1, 1]."""
    return apply(ops.ASIN, x)


def acos(x: Any) -> Tensor:
    """arccosine, defined on [-1, 1]."""
    return apply(ops.ACOS, x)


def atan(x: Any) -> Tensor:
    """arctangent."""
    return apply(ops.ATAN, x)


def atan2(y: Any, x: Any) -> Tensor:
    """The angle of the point (x, y)."""
    return apply(ops.ATAN2, y, x)


def sinh(x: Any) -> Tensor:
    """sinh(x)."""
    return apply(ops.SINH, x)


def cosh(x: Any) -> Tensor:
    """cosh(x)."""
    return apply(ops.COSH, x)


def tanh(x: Any) -> Tensor:
    """tanh(x)."""
    return apply(ops.TANH, x)


def exp(x: Any) -> Tensor:
    """e to the x."""
    return apply(ops.EXP, x)


def log(x: Any, base: Any = None) -> Tensor:
    """Natural logarithm, or the logarithm to a base."""
    return apply(ops.LOG, x) if base is None else apply(ops.LOGB, x, base)


def log2(x: Any) -> Tensor:
    """Base-2 logarithm."""
    return apply(ops.LOG2, x)


def log10(x: Any) -> Tensor:
    """Base-10 logarithm."""
    return apply(ops.LOG10, x)


def sqrt(x: Any) -> Tensor:
    """Square root."""
    return apply(ops.SQRT, x)


def abs(x: Any) -> Tensor:  # noqa: A001 - the language's name for it
    """|x|; its derivative at 0 is taken as 0."""
    return apply(ops.ABS, x)


def pow(x: Any, y: Any) -> Tensor:  # noqa: A001
    """x to the y."""
    return apply(ops.POW, x, y)


def hypot(x: Any, y: Any) -> Tensor:
    """sqrt(x^2 + y^2)."""
    return apply(ops.HYPOT, x, y)


def min(*args: Any) -> Tensor:  # noqa: A001
    """The smallest argument, or the smallest component of a single vector; ties split the
    gradient evenly."""
    return apply(ops.MIN_OF, *args) if len(args) == 1 else apply(ops.MIN, *args)


def max(*args: Any) -> Tensor:  # noqa: A001
    """The largest argument, or the largest component of a single vector; ties split the
    gradient evenly."""
    return apply(ops.MAX_OF, *args) if len(args) == 1 else apply(ops.MAX, *args)


def sum(x: Any) -> Tensor:  # noqa: A001
    """The sum of a vector's components."""
    return apply(ops.SUM, x)


def mean(x: Any) -> Tensor:
    """The mean of a vector's components (of all components, for any other shape)."""
    from ..engine.arrays import as_vector

    return apply(ops.MEAN, as_vector(x))


def prod(x: Any) -> Tensor:
    """The product of a vector's components (of all components, for any other shape)."""
    from ..engine.arrays import as_vector

    return apply(ops.PROD, as_vector(x))


def dot(u: Any, v: Any) -> Tensor:
    """The dot product of two vectors of the same length (anything else is refused: matmul
    multiplies matrices)."""
    from ..engine.arrays import check_vectors

    check_vectors("dot", u, v)
    return apply(ops.DOT, u, v)


def norm(x: Any) -> Tensor:
    """The Euclidean norm of a vector."""
    return apply(ops.NORM, x)


def relu(x: Any) -> Tensor:
    """max(x, 0)."""
    return apply(ops.RELU, x)


def sigmoid(x: Any) -> Tensor:
    """1 / (1 + exp(-x))."""
    return apply(ops.SIGMOID, x)


def softplus(x: Any) -> Tensor:
    """log(1 + exp(x))."""
    return apply(ops.SOFTPLUS, x)


def log_sigmoid(x: Any) -> Tensor:
    """log(sigmoid(x)) = -softplus(-x), finite for every finite x."""
    return apply(ops.LOG_SIGMOID, x)


def expm1(x: Any) -> Tensor:
    """exp(x) - 1, accurate for x near 0."""
    return apply(ops.EXPM1, x)


def log1p(x: Any) -> Tensor:
    """log(1 + x), accurate for x near 0."""
    return apply(ops.LOG1P, x)


def logaddexp(a: Any, b: Any) -> Tensor:
    """log(exp(a) + exp(b)), without overflow or underflow."""
    return apply(ops.LOGADDEXP, a, b)


def stop_gradient(x: Any) -> Tensor:
    """x's value, with no gradient flowing back through it."""
    return apply(ops.STOP_GRADIENT, x)


# ---------------------------------------------------------------- matrices (ops_matrix)


def transpose(a: Any) -> Tensor:
    """The transpose of a matrix."""
    return apply(ops_matrix.TRANSPOSE, a)


def outer(u: Any, v: Any) -> Tensor:
    """The outer product of two vectors: the matrix of u[i]*v[j]."""
    return apply(ops_matrix.OUTER, u, v)


def trace(a: Any) -> Tensor:
    """The sum of a square matrix's diagonal."""
    return apply(ops_matrix.TRACE, a)


def det(a: Any) -> Tensor:
    """The determinant of a square matrix."""
    return apply(ops_matrix.DET, a)


def inv(a: Any) -> Tensor:
    """The inverse of a square matrix (inf where it is singular)."""
    return apply(ops_matrix.INV, a)


def logdet(a: Any) -> Tensor:
    """log(det(a)) from the LU factors (slogdet): -inf where a is singular, nan where its
    determinant is negative."""
    return apply(ops_matrix.LOGDET, a)


def diag(x: Any) -> Tensor:
    """The diagonal matrix of a vector, or the diagonal of a square matrix."""
    return apply(ops_matrix.DIAG, x)


def softmax(x: Any) -> Tensor:
    """exp(x) / sum(exp(x)) over all components, without overflow."""
    return apply(ops_matrix.SOFTMAX, x)


def logsumexp(x: Any) -> Tensor:
    """log(sum(exp(x))) over all components, without overflow."""
    return apply(ops_matrix.LOGSUMEXP, x)


# ---------------------------------------------------------------- Python API only (arrays.py)


def where(condition: Any, x: Any, y: Any) -> Tensor:
    """x where condition holds, else y (numpy broadcasting); the condition is a constant and no
    gradient reaches the branch not taken, not even a nan."""
    from ..engine import arrays

    return arrays.where(condition, x, y)


def matmul(a: Any, b: Any) -> Tensor:
    """a @ b for vectors and matrices; vector @ vector is the dot product."""
    from ..engine import arrays

    return arrays.matmul(a, b)


def stack(values: Any, axis: int = 0) -> Tensor:
    """Tensors (or numbers) of one shape stacked along a new axis."""
    from ..engine import arrays

    return arrays.stack(values, axis)


def reshape(x: Any, shape: Any) -> Tensor:
    """x with a new shape (numpy's rules, -1 allowed)."""
    from ..engine import arrays

    return arrays.reshape(x, shape)
