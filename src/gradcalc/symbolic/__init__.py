"""gradcalc.symbolic."""
