"""Stand-file section `julabo`: the circulator, its serial line, limits and simulator."""

from __future__ import annotations

from pydantic import Field, model_validator

from trackerdcs.config.base import ServiceSection, StrictModel
from trackerdcs.core.setpoint_guard import DewpointGuard

# Negative STATUS codes are alarms; the exact list differs by model, so it is configurable.
DEFAULT_ALARMS: dict[int, str] = {
    -1: "low liquid level",
    -2: "refrigerator failure",
    -3: "excess temperature (high temperature warning)",
    -4: "low temperature warning",
    -5: "working sensor break",
    -6: "sensor difference alarm",
    -7: "I2C bus error",
    -8: "invalid command",
    -10: "excess temperature protection",
    -11: "safety sensor break",
    -13: "high pressure (refrigeration)",
    -14: "excess temperature protection setpoint too low",
    -15: "external control sensor break",
}


class SimJulabo(StrictModel):
    """The simulated circulator (with `simulate: true`)."""

    time_scale: float = Field(1.0, gt=0, description="bath physics speed-up (tests: 60)")
    ambient: float = Field(21.0, description="°C the bath drifts to when stopped")
    tau: float = Field(300.0, gt=0, description="bath time constant, s")
    max_cooling: float = Field(3.0, gt=0, description="K/min")
    max_heating: float = Field(5.0, gt=0, description="K/min")
    response_delay: float = Field(0.05, ge=0, description="s before each answer")
    start_temp: float = 21.0
    running: bool = Field(
        False,
        description="circulating from the start (REMOTE START), "
        "as a lab's chiller usually is; false: stopped, as after power-up",
    )


class JulaboConfig(ServiceSection):
    simulate: bool = False
    port: str = Field("/dev/ttyUSB0", description="device path or pyserial URL")
    sim_tcp: str = Field("127.0.0.1:18500", description="where `sim julabo` listens (TCP)")
    baudrate: int = 4800
    bytesize: int = Field(7, ge=5, le=8)
    parity: str = Field("E", pattern="^[NEOMS]$")
    stopbits: float = 1
    rtscts: bool = True
    timeout: float = Field(1.0, gt=0, description="s to wait for an answer")
    write_spacing: float = Field(0.25, ge=0, description="s between OUT_ commands")
    read_spacing: float = Field(0.01, ge=0, description="s between IN_ commands")
    poll: float = Field(2.0, gt=0, description="s between status reads")
    reconnect_max: float = Field(30.0, gt=0, description="s, longest reconnect backoff")
    setpoint_min: float = -40.0
    setpoint_max: float = 40.0
    pressure_stages: tuple[int, int] = (1, 4)
    alarm_codes: dict[int, str] = Field(default_factory=lambda: dict(DEFAULT_ALARMS))
    dewpoint_guard: DewpointGuard | None = None
    sim: SimJulabo = Field(default_factory=SimJulabo)

    @model_validator(mode="after")
    def _limits(self) -> JulaboConfig:
        if self.setpoint_min >= self.setpoint_max:
            raise ValueError("setpoint_min must be below setpoint_max")
        return self

    def where(self) -> list[str]:
        return [f"Julabo        {self.port}"] if self.simulate else []

    def sim_address(self) -> tuple[str, int]:
        host, _, port = self.sim_tcp.rpartition(":")
        return host or "127.0.0.1", int(port)
