"""Stand-file section `ph2acf`: how the runs service reaches the DAQ.

```yaml
ph2acf:
  mode: batch                      # or middleware (RunController over TCP)
  workdir: /opt/Ph2_ACF            # where RunNumbers.dat and Results/ live
  command: [runCalibration, -b]    # batch; -f <hw.xml> -c <tag> are added
  hw_config: settings/PS_Module.xml
  middleware: 127.0.0.1:5000
  simulate: true                   # the simulator stands in for both
```
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from trackerdcs.config.base import StrictModel


class SimPh2acf(StrictModel):
    """How the simulated Ph2_ACF behaves (only with `simulate: true`)."""

    steps: int = Field(4, ge=1, description="`Done with <step>.` lines per run")
    step_seconds: float = Field(1.0, ge=0, description="s per step")
    time_scale: float = Field(1.0, gt=0, description="speed-up: steps last step_seconds / "
                              "time_scale")  # fmt: skip
    fail: Literal["hardware", "crash", "abort_middleware"] | None = Field(
        None, description="make every run fail this way (tests, training)")  # fmt: skip


class Ph2acfConfig(StrictModel):
    enabled: bool = True
    simulate: bool = False
    mode: Literal["batch", "middleware"] = "batch"
    workdir: Path = Field(Path("ph2acf"), description="run-number file and Results/; "
                          "relative to the state dir")  # fmt: skip
    command: list[str] = Field(default_factory=lambda: ["runCalibration", "-b"],
                               description="batch: the program; -f and -c are added")  # fmt: skip
    hw_config: Path = Field(Path("hw.xml"), description="hardware description XML")
    middleware: str = Field("127.0.0.1:5000", description="RunController HOST:PORT")
    connect_timeout: float = Field(10.0, gt=0)
    reply_timeout: float = Field(30.0, gt=0, description="s for a middleware reply")
    sim: SimPh2acf = Field(default_factory=SimPh2acf)

    def service_name(self, default: str) -> str:
        return default

    def where(self) -> list[str]:
        if self.simulate and self.mode == "middleware":
            return [f"Ph2_ACF       middleware (simulated) on {self.middleware}"]
        return []
