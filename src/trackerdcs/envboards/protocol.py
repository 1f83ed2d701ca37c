"""What the boards send (PROTOCOLS.md §1), without any I/O: one value per topic
`<board>/sensors/<chip>/<quantity>`, a plain float (`612.0`) or JSON (`{"value": 612.0}`),
and the physical range each chip can report (outside it, the reading is garbage)."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Quantity:
    unit: str
    low: float
    high: float


CHANNELS: dict[str, Quantity] = {
    "BME/temp": Quantity("°C", -40, 85),
    "BME/humi": Quantity("%RH", 0, 100),
    "BME/dew": Quantity("°C", -60, 85),
    "DS/temp": Quantity("°C", -55, 125),
    "SCD30/co2": Quantity("ppm", 0, 40000),
    "SCD30/temp": Quantity("°C", -40, 70),
    "SCD30/humi": Quantity("%RH", 0, 100),
    "CCS/co2": Quantity("ppm", 400, 29206),
    "CCS/tvoc": Quantity("ppb", 0, 32768),
}


class NoReading(ValueError):
    """Not a usable value: text, NaN, or outside what the chip can report."""


def field(channel: str) -> str:
    """`SCD30/co2` -> `SCD30_co2`, the field name the labs' history uses."""
    return channel.replace("/", "_")


def parse(channel: str, raw: bytes) -> float:
    text = raw.decode("utf-8", "replace").strip()
    try:
        value = json.loads(text)
    except ValueError:
        raise NoReading(f"{channel}: not a number: {text[:40]!r}") from None
    if isinstance(value, dict):
        value = value.get("value")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise NoReading(f"{channel}: not a number: {text[:40]!r}")
    value = float(value)
    q = CHANNELS[channel]
    if not math.isfinite(value) or not q.low <= value <= q.high:
        raise NoReading(f"{channel}: {value} outside {q.low:g}..{q.high:g} {q.unit}")
    return value
