"""Stand-file sections `storage` (where history goes) and `recorder`."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from trackerdcs.config.base import ServiceSection, StrictModel

# per-field deadbands (field-name patterns, first match by name then by glob): about the
# resolution of what is read, so that what is left out is noise, not information
DEADBANDS = {
    "lv_vMon": 0.01, "lv_iMon": 0.005, "hv_vMon": 0.1, "hv_iMon": 0.01, "lv_temp": 0.2,
    "*temp*": 0.05, "*humi*": 0.2, "*dew*": 0.05, "power": 1.0, "*co2": 5.0, "*tvoc": 5.0,
}  # fmt: skip


class StorageConfig(StrictModel):
    historian: str = Field(
        "sqlite:///history.sqlite",
        description="sqlite:///PATH (relative to state_dir) or influxdb://[USER@]HOST:PORT/DB "
        "(influxdbs:// for HTTPS)",
    )
    influx_password_env: str | None = Field(None, description="env variable with the password")
    influx_password_file: str | None = Field(None, description="file with the password")

    @field_validator("historian")
    @classmethod
    def _scheme(cls, v: str) -> str:
        if not v.startswith(("sqlite:///", "influxdb://", "influxdbs://")):
            raise ValueError("historian must start with sqlite:///, influxdb:// or influxdbs://")
        return v


class Retention(StrictModel):
    raw_days: float = Field(30.0, ge=0, description="raw points kept (0: for ever)")
    minute_days: float = Field(90.0, ge=0, description="1-minute rollups kept (0: for ever)")
    hour_days: float = Field(0.0, ge=0, description="1-hour rollups kept (0: for ever)")
    prune_every: float = Field(3600.0, gt=0, description="s between retention passes")


class RecorderConfig(ServiceSection):
    schema_: Literal["reference", "trackerdcs"] = Field(
        "reference",
        alias="schema",
        description="measurement and tag names: `reference` as the labs' Telegraf writes "
        "them (their Grafana dashboards work), or `trackerdcs` (named by service)",
    )
    deadbands: dict[str, float] = Field(
        default_factory=lambda: dict(DEADBANDS),
        description="field name or glob -> a change not larger than this is not stored; "
        "merged over the defaults (0: every change; fields not matched: every change)",
    )
    keepalive: float = Field(10.0, gt=0, description="s: an unchanged value is stored again "
                             "this often, so a flat line is still a line")  # fmt: skip
    retention: Retention = Field(default_factory=Retention)

    @field_validator("deadbands")
    @classmethod
    def _over_defaults(cls, v: dict[str, float]) -> dict[str, float]:
        # a stand file names the fields it changes; the others keep theirs (0: every change)
        if any(b < 0 for b in v.values()):
            raise ValueError("a deadband is a size: not negative")
        return {**DEADBANDS, **v}

    batch_size: int = Field(5000, ge=1, description="points per write")
    flush_interval: float = Field(0.5, gt=0, description="s between writes")
    buffer_max_mb: float = Field(256.0, gt=0, description="disk buffer bound while offline")
    retry: float = Field(2.0, gt=0, description="s between attempts while the historian is down")
    events: bool = Field(
        True,
        description="keep the event log (commands with their "
        "replies, alarm, interlock and state changes) as measurement `events`",
    )
    exclude: list[str] = Field(
        default_factory=lambda: ["+/reply", "+/cmd/#", "sim/#", "alarms/#", "+/heartbeat"],
        description="topic patterns not recorded",
    )
