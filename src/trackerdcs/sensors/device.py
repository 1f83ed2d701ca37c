"""One named sensor: its signals and the reading it publishes.

The published `ts` is the time of the *oldest* field the sensor is configured to report:
when one field stops coming (a board that sends `nan`, a silent topic), the reading ages
and safety's stale rule sees it, however lively the other field is.
"""

from __future__ import annotations

from typing import Any

from trackerdcs.core.device import Device
from trackerdcs.core.signal import Signal
from trackerdcs.sensors.config import SensorConfig
from trackerdcs.sensors.dewpoint import dewpoint


class Sensor(Device):
    def __init__(self, cfg: SensorConfig):
        self.cfg = cfg
        self.label = f"sensor {cfg.name}"
        self.temperature: Signal[float] = Signal("temperature", "°C", source=cfg.temp_topic or "")
        self.humidity: Signal[float] = Signal("humidity", "%RH", source=cfg.humi_topic or "")
        self.board_dew: Signal[float] = Signal("board_dew", "°C", source=cfg.dew_topic or "")
        self.errors = 0

    def expected(self) -> list[Signal[float]]:
        if self.cfg.serial:
            return [self.temperature, self.humidity]
        wanted = {"temperature": self.cfg.temp_topic, "humidity": self.cfg.humi_topic,
                  "board_dew": self.cfg.dew_topic}  # fmt: skip
        return [getattr(self, name) for name, topic in wanted.items() if topic]

    @property
    def ts(self) -> float | None:
        stamps = [s.ts for s in self.expected()]
        if not stamps or any(t is None for t in stamps):
            return None
        return min(t for t in stamps if t is not None)

    def dew(self) -> float | None:
        t, h = self.temperature.value, self.humidity.value
        if t is not None and h is not None and h > 0:
            return round(dewpoint(t, min(h, 100.0)), 3)
        return self.board_dew.value

    def derive(self) -> tuple[str, str]:
        if self.ts is not None:
            return "OK", ""
        missing = [s.name for s in self.expected() if s.ts is None]
        return "NO_DATA", f"no reading of {', '.join(missing)}"

    def payload(self) -> dict[str, Any]:
        return {
            "name": self.cfg.name,
            "location": self.cfg.location,
            "kind": self.cfg.kind,
            "temperature": self.temperature.value,
            "humidity": self.humidity.value,
            "dewpoint": self.dew(),
            "ts": self.ts,
        }
