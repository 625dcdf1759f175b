"""gradcalc.engine: the tape (tape.py), with its array operations (arrays.py), numpy protocols
(protocols.py) and explanations (why.py) plugged into it on import."""

from . import arrays, protocols, why  # noqa: F401  (they plug themselves into the tape)
