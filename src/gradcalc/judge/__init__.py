"""gradcalc.judge."""
