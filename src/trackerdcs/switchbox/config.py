"""Stand-file section `switchbox`: the serial relay box and which module each relay feeds.

```yaml
switchbox:
  name: SB                 # the reference topic root (SB/cmd, SB/status)
  port: /dev/ttyUSB1
  channels:
    1: {module: PS_26_05-IPG_00101}
```
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from trackerdcs.config.base import ServiceSection, StrictModel
from trackerdcs.config.modules import ModuleRef
from trackerdcs.power.config import Watchdog, watchdog_warning


class RelayConfig(StrictModel):
    module: str | None = None


class SwitchboxConfig(ServiceSection):
    simulate: bool = False
    port: str = Field("/dev/ttyUSB1", description="device path or pyserial URL")
    baudrate: int = Field(9600, gt=0)
    timeout: float = Field(1.0, gt=0, description="s to wait for an answer")
    poll: float = Field(1.0, gt=0, description="s between STATUS? reads")
    reconnect_max: float = Field(30.0, gt=0)
    relays: int = Field(8, ge=1, le=32, description="module channels of the box")
    channels: dict[int, RelayConfig] = Field(default_factory=dict)
    watchdog: Watchdog = Field(default_factory=Watchdog)
    hv_off_timeout: float = Field(120.0, gt=0, description="s to wait for a module's HV")
    hv_sources_max_age: float = Field(15.0, gt=0)

    @model_validator(mode="after")
    def _check(self) -> SwitchboxConfig:
        for n in self.channels:
            if not 1 <= n <= self.relays:
                raise ValueError(f"channels.{n}: the box has relays 1..{self.relays}")
        return self

    def module_refs(self) -> list[ModuleRef]:
        return [ModuleRef(c.module, "lv", ("channels", n, "module"), f"switchbox relay {n}",
                          switch=True) for n, c in self.channels.items() if c.module]  # fmt: skip

    def where(self) -> list[str]:
        return [f"switchbox     {self.port}"] if self.simulate else []

    def warnings(self, stand: Any) -> list[str]:
        return watchdog_warning("switchbox", self.watchdog, stand, "every relay opens")
