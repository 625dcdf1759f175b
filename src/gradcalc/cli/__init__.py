"""gradcalc.cli."""
