"""Stand-file sections `storage` (where history goes) and `recorder`."""

from __future__ import annotations

from pydantic import Field, field_validator

from trackerdcs.config.base import ServiceSection, StrictModel


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


class RecorderConfig(ServiceSection):
    batch_size: int = Field(5000, ge=1, description="points per write")
    flush_interval: float = Field(0.5, gt=0, description="s between writes")
    buffer_max_mb: float = Field(256.0, gt=0, description="disk buffer bound while offline")
    retry: float = Field(2.0, gt=0, description="s between attempts while the historian is down")
    exclude: list[str] = Field(
        default_factory=lambda: ["+/reply", "+/cmd/#", "sim/#", "alarms/#", "+/heartbeat"],
        description="topic patterns not recorded",
    )
