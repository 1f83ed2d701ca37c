"""Stand-file section `runs`: calibration runs on Ph2_ACF, their preconditions and store.

```yaml
runs:
  store: sqlite:///runs.sqlite          # or mongodb://host:27017/trackerdcs
  calibrations:                          # what each tag needs of the modules
    pedenoise: {power: hv, bias: 300, duration: 840}
    calibration: {power: lv, duration: 300}
  stable: {sensors: [box], band: 1.0, for_s: 300}
```
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from trackerdcs.config.base import ServiceSection, StrictModel


class Calibration(StrictModel):
    power: Literal["lv", "hv"] = Field("lv", description="lv: LV on; hv: LV and HV at the bias")
    bias: float | None = Field(None, ge=0, description="V the HV must read back (±bias_band)")
    bias_band: float = Field(5.0, gt=0, description="V")
    duration: float | None = Field(None, gt=0, description="s a run usually takes (estimate)")


class Stable(StrictModel):
    """The temperature is stable when, for each sensor, max − min over the last `for_s`
    seconds is within `band` and readings cover that whole time."""

    sensors: list[str] = Field(default_factory=list, description="empty: every coldbox sensor")
    band: float = Field(1.0, gt=0, description="K")
    for_s: float = Field(300.0, ge=0, description="s; 0 disables the check")


class RunsConfig(ServiceSection):
    store: str = Field("sqlite:///runs.sqlite", description="sqlite:///PATH (relative to "
                       "state_dir) or mongodb://HOST:PORT/DB")  # fmt: skip
    recipes: str = Field("recipes", description="folder of sequence recipes (relative to the "
                         "stand file)")  # fmt: skip
    calibrations: dict[str, Calibration] = Field(
        default_factory=dict, description="per Ph2_ACF tag; a tag not listed needs LV only"
    )
    stable: Stable = Field(default_factory=Stable)
    margin_min: float | None = Field(None, description="K of dew-point margin a start needs; "
                                     "default: safety's warning level")  # fmt: skip
    settle: float = Field(
        2.0, ge=0, description="s after a run's end before its conditions are read "
        "(readings stamped before the end may still be on the way)")  # fmt: skip
    flush_timeout: float = Field(5.0, gt=0, description="s to wait for the recorder's flush "
                                 "before the conditions are read")  # fmt: skip

    def calibration(self, tag: str) -> Calibration:
        return self.calibrations.get(tag) or Calibration()
