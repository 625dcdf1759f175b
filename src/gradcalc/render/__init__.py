"""gradcalc.render."""
