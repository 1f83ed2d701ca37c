"""Stand-file section `julabo` (placeholder shape; the Julabo issue owns this file)."""

from __future__ import annotations

from pydantic import Field

from trackerdcs.config.base import ServiceSection


class JulaboConfig(ServiceSection):
    simulate: bool = False
    port: str = Field("/dev/ttyUSB0", description="device path or pyserial URL")
    sim_tcp: str = Field("127.0.0.1:18500", description="where the simulator listens")
    setpoint_min: float = -40.0
    setpoint_max: float = 40.0
