"""gradcalc.lang."""
