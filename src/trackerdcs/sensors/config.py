"""Stand-file section `sensors` (placeholder shape; the sensors issue owns this file)."""

from __future__ import annotations

from pydantic import Field

from trackerdcs.config.base import ServiceSection, StrictModel


class SensorConfig(StrictModel):
    name: str
    location: str = ""
    temp_topic: str | None = None
    humi_topic: str | None = None


class SensorsConfig(ServiceSection):
    simulate: bool = False
    sensors: list[SensorConfig] = Field(default_factory=list)
