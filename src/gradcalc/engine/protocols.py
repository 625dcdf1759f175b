"""Tensor's numpy protocols: numpy's functions and ufuncs called on tensors go to
numpy_table.py, imported on the first such call (it is large, and most runs never call numpy on
a tensor)."""

from __future__ import annotations

from typing import Any

from ..engine.api import plug


def array_function(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Tensor.__array_function__: numpy_table.array_function."""
    from ..engine import numpy_table

    return numpy_table.array_function(func, args, kwargs)


def array_ufunc(ufunc: Any, method: str, inputs: tuple[Any, ...],
                kwargs: dict[str, Any]) -> Any:
    """Tensor.__array_ufunc__ for the ufuncs no primitive answers: numpy_table.array_ufunc."""
    from ..engine import numpy_table

    return numpy_table.array_ufunc(ufunc, method, inputs, kwargs)


plug("array_function", array_function)
plug("array_ufunc", array_ufunc)
