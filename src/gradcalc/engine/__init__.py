"""gradcalc.engine."""
