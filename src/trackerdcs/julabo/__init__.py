"""Julabo circulators over RS232 (or a serial-over-TCP bridge)."""
