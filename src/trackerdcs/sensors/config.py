"""Stand-file section `sensors`: named sensors fed by ESP32 topics or DHT serial lines."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from trackerdcs.config.base import ServiceSection, StrictModel


class SensorConfig(StrictModel):
    """One named sensor. Its values come from plain-float MQTT topics (ESP32 boards) or from
    a serial line printing `Temperature: 21.30 *C` / `Humidity: 40.00 %` (Arduino DHT)."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    location: str = ""
    kind: Literal["ambient", "coldbox", "surface", "module"] = "ambient"
    temp_topic: str | None = None
    humi_topic: str | None = None
    dew_topic: str | None = Field(None, description="a dew point the board computes itself")
    serial: str | None = Field(None, description="DHT serial port or pyserial URL")
    baudrate: int = 9600

    @model_validator(mode="after")
    def _has_source(self) -> SensorConfig:
        if not (self.temp_topic or self.humi_topic or self.dew_topic or self.serial):
            raise ValueError(f"sensor '{self.name}' has no source (topics or serial)")
        return self


class SimRoom(StrictModel):
    temperature: float = 22.0
    humidity: float = 40.0
    drift: float = Field(0.3, ge=0, description="amplitude of the slow drift (K, %RH)")


class SimSensors(StrictModel):
    """The simulated sensor set: ambient sensors drift around the room values; cold-box and
    surface sensors follow the chiller's bath temperature with a lag."""

    period: float = Field(1.0, gt=0, description="s between readings")
    room: SimRoom = Field(default_factory=SimRoom)
    coldbox_humidity: float = Field(8.0, ge=0, le=100, description="%RH, dry-air flushed")
    chiller_topic: str | None = Field(
        None, description="status topic with the bath temperature; default: the stand's "
        "cooling service")  # fmt: skip
    lag: float = Field(60.0, gt=0, description="s, cold box time constant")
    time_scale: float = Field(1.0, gt=0, description="speed-up of the cold box (lag / scale)")
    noise: float = Field(0.02, ge=0)


class SensorsConfig(ServiceSection):
    simulate: bool = False
    sensors: list[SensorConfig] = Field(default_factory=list)
    sim: SimSensors = Field(default_factory=SimSensors)

    @model_validator(mode="after")
    def _unique(self) -> SensorsConfig:
        names = [s.name for s in self.sensors]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"duplicate sensor names: {', '.join(sorted(dup))}")
        return self
