"""Calibration runs (Ph2_ACF), IV curves and sequences."""
