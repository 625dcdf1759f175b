"""--function FILE.py:NAME --grad FILE.py:NAME: a user's gradient code, judged from the shell.

The named file is the user's own Python code: it is imported (importlib, from its path, that
file only) to get the two functions; nothing else is ever run as Python, and expressions are
still never evaluated. The function's parameters are bound by name from --at (numbers,
vectors, matrices, @file), --wrt picks the differentiated ones (default: every bound one), and
judge/code.py judges the gradient function's numbers.
"""

from __future__ import annotations

import importlib.util
import inspect
import os
import sys
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

from ..engine.evaluate import parse_bindings
from ..errors import InputError
from ..judge.result import Result


def _spec(text: str, option: str) -> tuple[str, str]:
    path, sep, name = text.rpartition(":")
    if not sep or not path or not name:
        raise InputError(f"{option} needs FILE.py:NAME, the file and the function's name, not "
                         f"'{text}'", hint=f"e.g. {option} loss.py:NAME")
    if not name.isidentifier():
        raise InputError(f"{option}: '{name}' is not a Python name")
    return path, name


def load(text: str, option: str, modules: dict[str, ModuleType]) -> Callable[..., Any]:
    """The function NAME of FILE.py (imported once per path: modules keeps them)."""
    path, name = _spec(text, option)
    full = os.path.abspath(path)
    module = modules.get(full)
    if module is None:
        if not os.path.isfile(full):
            raise InputError(f"{option}: cannot read {path}: "
                             + ("it is a directory" if os.path.isdir(full) else
                                "no such file"))
        module = modules[full] = _import(full, path, option)
    space = vars(module)
    if name not in space:
        found = sorted(k for k, v in space.items() if inspect.isfunction(v)
                       and not k.startswith("_") and v.__module__ == module.__name__)
        raise InputError(f"{option}: {path} has no '{name}'",
                         hint="its functions: " + (", ".join(found) or "none"))
    fn = space[name]
    if not callable(fn):
        raise InputError(f"{option}: {path}'s '{name}' is a {type(fn).__name__}, not a "
                         "function")
    return fn


def _import(full: str, path: str, option: str) -> ModuleType:
    """Run the user's file as a module of its own (its directory first on sys.path while it
    imports, as `python FILE.py` would see its neighbours)."""
    name = "gradcalc_user_" + str(abs(hash(full)))
    spec = importlib.util.spec_from_file_location(name, full)
    if spec is None or spec.loader is None:
        raise InputError(f"{option}: {path} is not a Python file (FILE.py)")
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, os.path.dirname(full))
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        raise InputError(f"{option}: {path} line {exc.lineno}: {exc.msg}") from None
    except Exception as exc:
        from ..engine.record import user_line

        where = user_line(exc.__traceback__)
        text = str(exc).split("\n")[0]
        raise InputError(f"{option}: importing {path} raised {type(exc).__name__}"
                         + (f": {text}" if text else "") + (f" ({where})" if where else "")
                         ) from None
    finally:
        if sys.path and sys.path[0] == os.path.dirname(full):
            del sys.path[0]
    return module


def _parameters(fn: Callable[..., Any], option: str, text: str) -> list[inspect.Parameter]:
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        raise InputError(f"{option}: cannot read the parameters of {text}") from None
    return [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]


def run_code(function: str, gradient: str, at: Sequence[str], wrt: list[str] | None,
             rtol: float, atol: float, points: int, search: bool) -> Result:
    """The Result of judging --grad as the gradient of --function at the --at bindings."""
    from ..judge.code import CheckGradError, check_code

    modules: dict[str, ModuleType] = {}
    f = load(function, "--function", modules)
    g = load(gradient, "--grad", modules)
    bindings = parse_bindings(at)
    params = _parameters(f, "--function", function)
    names = [p.name for p in params]
    extra = [n for n in bindings if n not in names]
    if extra:
        raise InputError(f"--at binds '{extra[0]}', which is not a parameter of {function}",
                         hint="its parameters: " + (", ".join(names) or "none"))
    args: list[Any] = []
    for p in params:
        if p.name in bindings:
            args.append(bindings[p.name])
        elif p.default is inspect.Parameter.empty:
            raise InputError(f"--at: {function}'s parameter '{p.name}' is not bound",
                             hint=f"give its value, e.g. --at {p.name}=1.5 (or a vector "
                                  "[1,2], a matrix [[1,2],[3,4]], @file.npy)")
        else:
            break   # the rest keep their defaults
    names = names[:len(args)]
    try:
        inspect.signature(g).bind(*args)
    except TypeError as exc:
        raise InputError(f"--grad: {gradient} cannot take {function}'s arguments "
                         f"({', '.join(names)}): {exc}") from None
    except ValueError:
        pass   # a builtin without a signature: called as it is
    differentiate = wrt if wrt is not None else names
    for n in differentiate:
        if n not in names:
            raise InputError(f"--wrt: '{n}' is not a bound parameter of {function}",
                             hint="bound: " + ", ".join(names))
    argnums = [names.index(n) for n in differentiate]
    try:
        report = check_code(f, g, args, rtol, atol, points, search, argnums, names)
    except CheckGradError as exc:
        raise InputError(exc.message) from None
    return Result(None, code=report)   # type: ignore[arg-type]  (no program: Python code)
