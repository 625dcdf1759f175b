"""`python -m gradcalc`."""

from .cli.main import entry

entry()
