"""SymPy expressions printed in gradcalc's input language: `x^2`, `abs`, `relu`, `max`,
`sigmoid`, `softplus`, `stop_gradient`, `e`, `w[0]`.

A printed form can be pasted back as an expression or a `--claim` wherever the language has a
spelling for it. What the language cannot spell is printed under SymPy's name with a capital
initial, so it is never mistaken for a function of the language (whose names are all lower
case): `Heaviside(x)` (0 below 0, 1 above, 1/2 at 0: the derivative of `relu` and of `max`),
`DiracDelta(x)`, `Floor(x)` (in the derivative of `mod`), `Derivative(...)`, `Piecewise(...)`,
and `Infinity`, `ComplexInfinity`, `NaN`, `I` for SymPy's special numbers. `sign` (the
derivative of `abs`) and `polygamma(0, x)` (as `digamma(x)`) are the language's own.

SymPy is imported only inside these functions: the module is loaded by the check, which has
SymPy loaded already.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from ..engine.vectors import Component, Grid


def to_text(expr: Any, names: Mapping[str, Any] | Sequence[str] | None = None) -> str:
    """expr in the input language. names: the bound names as given to
    symbolic.program_to_sympy; a vector's component symbols (`w_0`) print as `w[0]`."""
    printer = _printer_class()(_component_labels(names))
    return printer.doprint(_language_functions(expr))


def _component_labels(names: Mapping[str, Any] | Sequence[str] | None) -> dict[str, str]:
    """Symbol name -> how the language writes it, for the components of vectors."""
    labels: dict[str, str] = {}
    if not isinstance(names, Mapping):
        return labels
    for name, symbols in names.items():
        if isinstance(symbols, Grid):  # a matrix's components: A[i,j]
            shape = symbols.shape
            for k, sym in enumerate(symbols):
                labels[sym] = Component(name, divmod(k, shape[1]))
        elif isinstance(symbols, (list, tuple)):
            for k, sym in enumerate(symbols):
                labels[sym] = Component(name, k)
    return labels


@lru_cache(maxsize=1)
def _language() -> Any:
    """SymPy functions standing for the language's sigmoid and softplus (printing only)."""
    import sympy

    return sympy.Function("sigmoid"), sympy.Function("softplus")


def _language_functions(expr: Any) -> Any:
    """expr with 1/(1 + exp(-u)) written sigmoid(u) and log(1 + exp(u)) written softplus(u),
    as the language spells the forms its op table gives SymPy. Only for printing."""
    import sympy

    if not isinstance(expr, sympy.Basic) or not expr.has(sympy.exp):
        return expr   # (both forms have an exp inside)
    sigmoid, softplus = _language()

    def one_plus_exp(e: Any) -> Any | None:
        """u when e is 1 + exp(u), else None."""
        if isinstance(e, sympy.Add) and len(e.args) == 2 and sympy.S.One in e.args:
            other = e.args[0] if e.args[1] == sympy.S.One else e.args[1]
            if isinstance(other, sympy.exp):
                return other.args[0]
        return None

    def is_sigmoid_power(e: Any) -> bool:
        if not (isinstance(e, sympy.Pow) and e.exp.is_Integer and e.exp < 0):
            return False
        u = one_plus_exp(e.base)
        return u is not None and u.could_extract_minus_sign()

    def sigmoid_power(e: Any) -> Any:
        return sigmoid(-one_plus_exp(e.base)) ** (-e.exp)

    def is_softplus(e: Any) -> bool:
        return isinstance(e, sympy.log) and one_plus_exp(e.args[0]) is not None

    expr = expr.replace(is_sigmoid_power, sigmoid_power)
    return expr.replace(is_softplus, lambda e: softplus(one_plus_exp(e.args[0])))


@lru_cache(maxsize=1)
def _printer_class() -> type:
    """The printer: SymPy's StrPrinter, speaking gradcalc's language."""
    from sympy import S
    from sympy.printing.precedence import precedence
    from sympy.printing.str import StrPrinter

    from .. import ops

    language = set(ops.FUNCTIONS)
    renamed = {"Abs": "abs", "Max": "max", "Min": "min"}

    class LanguagePrinter(StrPrinter):
        """StrPrinter with `^` for powers, the language's function names, and SymPy's own
        functions capitalised."""

        def __init__(self, labels: Mapping[str, str]):
            super().__init__()
            self.labels = labels

        def _print_Pow(self, expr: Any, rational: bool = False) -> str:
            text = super()._print_Pow(expr, rational)
            if "**" not in text:  # sqrt(x), 1/sqrt(x), 1/x
                return text
            prec = precedence(expr)
            base = self.parenthesize(expr.base, prec, strict=False)
            exp = self.parenthesize(expr.exp, prec, strict=False)
            return f"{base}^{exp}"

        def _print_Function(self, expr: Any) -> str:
            name = expr.func.__name__
            args = [self._print(a) for a in expr.args]
            if name == "Max" and len(expr.args) == 2 and S.Zero in expr.args:
                other = expr.args[1] if expr.args[0] == S.Zero else expr.args[0]
                return f"relu({self._print(other)})"
            if name == "polygamma" and expr.args[0] == 0:
                return f"digamma({args[1]})"
            name = renamed.get(name, name)
            if name not in language and name not in ("sigmoid", "softplus"):
                name = name[:1].upper() + name[1:]
            return f"{name}({', '.join(args)})"

        _print_Max = _print_Function
        _print_Min = _print_Function
        _print_Abs = _print_Function

        def _print_Heaviside(self, expr: Any) -> str:
            return f"Heaviside({self._print(expr.args[0])})"

        def _print_Exp1(self, expr: Any) -> str:
            return "e"

        def _print_Infinity(self, expr: Any) -> str:
            return "Infinity"

        def _print_NegativeInfinity(self, expr: Any) -> str:
            return "-Infinity"

        def _print_ComplexInfinity(self, expr: Any) -> str:
            return "ComplexInfinity"

        def _print_NaN(self, expr: Any) -> str:
            return "NaN"

        def _print_Symbol(self, expr: Any) -> str:
            return self.labels.get(expr.name, expr.name)

    return LanguagePrinter


# ---------------------------------------------------------------- numpy (--symbolic python)


def to_numpy(expr: Any) -> str:
    """expr (a scalar or a SymPy matrix expression of MatrixSymbols) as readable numpy code:
    `@` for matrix products, `-x` and `2*x` for scalar factors, `x.T`, `numpy.linalg.inv`,
    `numpy.sin`; a name that is a Python keyword gets a trailing `_` (python_name)."""
    return _numpy_class()({"fully_qualified_modules": True}).doprint(expr)


def python_name(name: str) -> str:
    """A bound name as a Python identifier: a keyword (`lambda`, `in`) gets a trailing `_`."""
    import keyword

    return name + "_" if keyword.iskeyword(name) or name == "numpy" else name


def python_module(source: str, functions: Sequence[str]) -> str:
    """A module of numpy functions: a comment naming the program, `import numpy`, then the
    functions two blank lines apart (PEP 8)."""
    shown = ["".join(c if c.isprintable() else "?" for c in line)
             for line in source.strip("\n").split("\n")]
    head = ["# The gradient of this program, printed by gradcalc as a Python module:"]
    head += [f"#   {line}" for line in shown]
    head += ["# One function per partial, of the bound names in binding order (numbers or",
             "# numpy arrays in, numpy out).", "import numpy"]
    return "\n\n\n".join(["\n".join(head), *(f.rstrip("\n") for f in functions)])


@lru_cache(maxsize=1)
def _numpy_class() -> type:
    """SymPy's NumPyPrinter, written as a person writes numpy."""
    from sympy import S
    from sympy.printing.numpy import NumPyPrinter
    from sympy.printing.precedence import PRECEDENCE

    class ReadableNumPy(NumPyPrinter):
        """NumPyPrinter with `@`, `*` by scalars, `-` for negation, `.T`, and the linear
        algebra SymPy's printer lacks (det, trace)."""

        def _factor(self, expr: Any) -> str:
            return self.parenthesize(expr, PRECEDENCE["Mul"], strict=True)

        def _print_MatMul(self, expr: Any) -> str:
            coeff, factors = expr.as_coeff_matrices()
            text = " @ ".join(self._factor(f) for f in factors)
            if coeff == 1:
                return text
            if coeff == -1:
                return "-" + text
            if coeff.is_number and coeff < 0:
                return f"-{self._factor(-coeff)}*{text}"
            return f"{self._factor(coeff)}*{text}"

        def _print_MatAdd(self, expr: Any) -> str:
            out = ""
            terms = sorted(expr.args, key=lambda t: t.could_extract_minus_sign())  # + first
            for term in terms:
                negative = term.could_extract_minus_sign()
                text = self._print(-term if negative else term)
                if not out:
                    out = ("-" + self._factor(-term)) if negative else text
                else:
                    out += (" - " + self._factor(-term)) if negative else f" + {text}"
            return out

        def _print_HadamardProduct(self, expr: Any) -> str:
            return "*".join(self._factor(a) for a in expr.args)

        def _print_Transpose(self, expr: Any) -> str:
            return f"{self.parenthesize(expr.arg, PRECEDENCE['Atom'], strict=True)}.T"

        def _print_Inverse(self, expr: Any) -> str:
            return f"numpy.linalg.inv({self._print(expr.arg)})"

        def _print_Determinant(self, expr: Any) -> str:
            return f"numpy.linalg.det({self._print(expr.arg)})"

        def _print_Trace(self, expr: Any) -> str:
            return f"numpy.trace({self._print(expr.arg)})"

        def _print_Symbol(self, expr: Any) -> str:
            return python_name(super()._print_Symbol(expr))

        def _print_MatrixSymbol(self, expr: Any) -> str:
            return python_name(expr.name)

        def _print_Exp1(self, expr: Any) -> str:
            return "numpy.e"

        def _print_Pow(self, expr: Any, rational: bool = False) -> str:
            if expr.exp == S.Half:
                return f"numpy.sqrt({self._print(expr.base)})"
            return super()._print_Pow(expr, rational)

    return ReadableNumPy
