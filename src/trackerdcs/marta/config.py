"""Stand-file section `marta`: the CO2 plant's PLC, the stand's own set-point limits within
the reference ones, and the simulator."""

from __future__ import annotations

from pydantic import Field, model_validator

from trackerdcs.config.base import ServiceSection, StrictModel
from trackerdcs.core.setpoint_guard import DewpointGuard
from trackerdcs.marta.protocol import SETPOINTS


class SimMarta(StrictModel):
    """The simulated plant (with `simulate: true`): a pymodbus server with the register map
    and first-order dynamics."""

    time_scale: float = Field(1.0, gt=0, description="dynamics speed-up (demo, tests)")
    ambient: float = Field(20.0, description="°C of the plant at rest")
    tau: float = Field(120.0, gt=0, description="s, CO2 supply time constant")
    chiller_tau: float = Field(30.0, gt=0, description="s, R452A circuit settling")
    flow: float = Field(2.5, ge=0, description="g/s the pump delivers at the flow set-point")
    update: float = Field(0.2, gt=0, description="s between simulation steps")


class MartaConfig(ServiceSection):
    simulate: bool = False
    host: str = Field("127.0.0.1", description="the PLC's address")
    port: int = Field(502, ge=1, le=65535)
    unit: int = Field(1, ge=0, le=247, description="Modbus device id")
    timeout: float = Field(2.0, gt=0, description="s to wait for an answer")
    poll: float = Field(1.0, gt=0, description="s between reads")
    reconnect_max: float = Field(30.0, gt=0, description="s, longest reconnect backoff")
    temperature_min: float = Field(SETPOINTS["temperature"][1], description="°C, stand limit")
    temperature_max: float = Field(SETPOINTS["temperature"][2], description="°C, stand limit")
    speed_max: float = Field(SETPOINTS["speed"][2], ge=0, description="rpm, stand limit")
    flow_max: float = Field(SETPOINTS["flow"][2], ge=0, description="g/s, stand limit")
    dewpoint_guard: DewpointGuard | None = Field(
        None, description="refuse CO2 set-points below the dew point + margin"
    )
    sim: SimMarta = Field(default_factory=SimMarta)

    @model_validator(mode="after")
    def _within_reference(self) -> MartaConfig:
        _, lo, hi = SETPOINTS["temperature"]
        if not lo <= self.temperature_min < self.temperature_max <= hi:
            raise ValueError(f"temperature_min < temperature_max, both within {lo:g} .. {hi:g}")
        if self.speed_max > SETPOINTS["speed"][2] or self.flow_max > SETPOINTS["flow"][2]:
            raise ValueError("speed_max and flow_max cannot exceed the plant's own limits")
        return self

    def where(self) -> list[str]:
        return [f"MARTA         modbus://{self.host}:{self.port}"] if self.simulate else []
