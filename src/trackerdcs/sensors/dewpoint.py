"""Dew point by the Magnus formula with Sonntag's constants over water (-45..60 °C)."""

from __future__ import annotations

import math

A = 17.62
B = 243.12  # °C


def dewpoint(temperature: float, humidity: float) -> float:
    """Dew point in °C of air at `temperature` °C and `humidity` %RH."""
    if not 0 < humidity <= 100:
        raise ValueError(f"relative humidity {humidity} % outside (0, 100]")
    gamma = math.log(humidity / 100.0) + A * temperature / (B + temperature)
    return B * gamma / (A - gamma)


def humidity_for(temperature: float, dew: float) -> float:
    """%RH at `temperature` that gives dew point `dew` (used by tests and the simulator)."""
    gamma = A * dew / (B + dew)
    return 100.0 * math.exp(gamma - A * temperature / (B + temperature))
