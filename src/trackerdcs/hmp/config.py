"""Stand-file section `hmp`: one HMP supply, its outputs mapped to modules as LV.

```yaml
hmp:
  host: 192.168.1.40          # SCPI over TCP, port 5025
  model: HMP4040
  channels:
    1: {module: PS_26_05-IPG_00101, voltage: 10.5, current: 2.5, ovp: 12.0}
```
An output with a module is *active*; HV for that module comes from another supply (a CAEN
channel with the same module and no `lv`), and the two services keep HV-before-LV order
between them over the bus.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from trackerdcs.config.base import ServiceSection, StrictModel
from trackerdcs.config.modules import ModuleRef
from trackerdcs.hmp.protocol import MODELS, OVP_MAX
from trackerdcs.power.config import Watchdog, watchdog_warning


class Limits(StrictModel):
    """Hard limits on an output's set values (commands beyond them are refused)."""

    vmax: float = Field(12.5, gt=0, description="V")
    imax: float = Field(5.0, gt=0, description="A")


class OutputConfig(StrictModel):
    module: str | None = None
    voltage: float | None = Field(None, ge=0, description="V, written at every connect")
    current: float | None = Field(None, ge=0, description="A, current limit")
    ovp: float | None = Field(None, gt=0, le=OVP_MAX, description="V, over-voltage protection")
    limits: Limits | None = None

    @property
    def active(self) -> bool:
        return bool(self.module)


class SimHmp(StrictModel):
    """The simulated supply (with `simulate: true`): a SCPI server on TCP."""

    load_ohm: float = Field(7.0, gt=0, description="module load on every output (PS ≈ 7 Ω)")
    settle: float = Field(0.3, ge=0, description="s for an output to reach its set value")
    write_log: str | None = Field(None, description="JSON-lines file recording client writes")


class HmpConfig(ServiceSection):
    simulate: bool = False
    host: str = Field("127.0.0.1", description="the supply's address")
    port: int = Field(5025, ge=1, le=65535, description="SCPI raw socket port")
    model: str = Field("HMP4040", description=f"one of {', '.join(MODELS)}")
    timeout: float = Field(2.0, gt=0, description="s to wait for an answer")
    poll: float = Field(1.0, gt=0, description="s between reads")
    reconnect_max: float = Field(30.0, gt=0, description="s, longest reconnect backoff")
    limits: Limits = Field(default_factory=Limits)
    channels: dict[int, OutputConfig] = Field(default_factory=dict)
    watchdog: Watchdog = Field(default_factory=Watchdog)
    hv_off_timeout: float = Field(
        120.0, gt=0, description="s to wait for a module's HV to come down before its LV goes off"
    )
    hv_sources_max_age: float = Field(
        15.0, gt=0, description="s after which another supply's word on a module's HV is unknown"
    )
    sim: SimHmp = Field(default_factory=SimHmp)

    @model_validator(mode="after")
    def _check(self) -> HmpConfig:
        if self.model not in MODELS:
            raise ValueError(f"model must be one of {', '.join(MODELS)}, got {self.model!r}")
        n, vtop, itop = MODELS[self.model]
        for cid, ch in self.channels.items():
            where = f"channels.{cid}"
            if not 1 <= cid <= n:
                raise ValueError(f"{where}: the {self.model} has outputs 1..{n}")
            lim = self.limits_of(cid)
            if ch.voltage is not None and ch.voltage > min(lim.vmax, vtop):
                raise ValueError(f"{where}.voltage {ch.voltage:g} V is beyond the limit of "
                                 f"{min(lim.vmax, vtop):g} V")  # fmt: skip
            if ch.current is not None and ch.current > min(lim.imax, itop):
                raise ValueError(f"{where}.current {ch.current:g} A is beyond the limit of "
                                 f"{min(lim.imax, itop):g} A")  # fmt: skip
            if ch.ovp is not None and ch.voltage is not None and ch.ovp <= ch.voltage:
                raise ValueError(f"{where}.ovp {ch.ovp:g} V must be above its voltage "
                                 f"{ch.voltage:g} V (it would trip at switch-on)")  # fmt: skip
        modules = [ch.module for ch in self.channels.values() if ch.module]
        if len(modules) != len(set(modules)):
            raise ValueError("a module is on two outputs")
        return self

    def module_refs(self) -> list[ModuleRef]:
        return [ModuleRef(ch.module, "lv", ("channels", cid, "module"), f"HMP output {cid}")
                for cid, ch in self.channels.items() if ch.module]  # fmt: skip

    def limits_of(self, cid: int) -> Limits:
        return self.channels[cid].limits or self.limits

    def top(self, cid: int) -> tuple[float, float]:
        """(V, A) an output may be set to: the stand's limits within the model's."""
        _n, vtop, itop = MODELS[self.model]
        lim = self.limits_of(cid)
        return min(lim.vmax, vtop), min(lim.imax, itop)

    def where(self) -> list[str]:
        return [f"{self.model}       scpi://{self.host}:{self.port}"] if self.simulate else []

    def warnings(self, stand: Any) -> list[str]:
        return watchdog_warning("hmp", self.watchdog, stand, "the outputs go off")
