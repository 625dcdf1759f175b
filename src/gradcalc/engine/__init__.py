"""gradcalc.engine: the tape (tape.py), with its array operations (arrays.py) and explanations
(why.py) plugged into it on import."""

from . import arrays, why  # noqa: F401  (they plug themselves into the tape)
