"""gradcalc.batch."""
