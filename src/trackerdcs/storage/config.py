"""Stand-file sections `storage` and `recorder` (placeholder shape; the historian issue owns it)."""

from __future__ import annotations

from pydantic import Field

from trackerdcs.config.base import ServiceSection, StrictModel


class StorageConfig(StrictModel):
    historian: str = Field("sqlite:///history.sqlite", description="sqlite:///PATH or influxdb://")
    run_store: str = Field("sqlite:///runs.sqlite")


class RecorderConfig(ServiceSection):
    pass
