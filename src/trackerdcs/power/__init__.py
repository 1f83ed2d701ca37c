"""What every power supply needs, written once: limits, the power-on guard, the watchdog and
the ordered safe-off procedure. CAEN uses it now; the HMP4040 family is next."""
