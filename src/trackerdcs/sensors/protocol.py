"""What the sensor boards send, without any I/O: ESP32 plain floats on MQTT topics and
Arduino DHT serial lines (`Temperature: 21.30 *C`, `Humidity: 40.00 %`)."""

from __future__ import annotations

import math
import re

DHT_LINE = re.compile(r"^\s*(Temperature|Humidity)\s*:\s*(-?\d+(?:\.\d+)?)", re.I)


class NoReading(ValueError):
    """A payload that is not a usable reading (text, NaN, humidity outside 0..100 %)."""


def check(quantity: str, value: float) -> float:
    if not math.isfinite(value):
        raise NoReading(f"{quantity} {value} is not a number")
    if quantity == "humidity" and not 0 <= value <= 100:
        raise NoReading(f"humidity {value:g} % out of range")
    return value


def parse_float(quantity: str, raw: bytes) -> float:
    """One ESP32 plain-float payload."""
    text = raw.decode("utf-8", "replace").strip()
    try:
        value = float(text)
    except ValueError:
        raise NoReading(f"not a number: {text[:40]!r}") from None
    return check(quantity, value)


def parse_dht(line: str) -> tuple[str, float] | None:
    """(quantity, value) from a DHT line; None for a line that carries no reading."""
    m = DHT_LINE.match(line)
    if m is None:
        return None
    quantity = "temperature" if m.group(1).lower() == "temperature" else "humidity"
    return quantity, check(quantity, float(m.group(2)))
