"""Shared building blocks for stand-file sections."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class StrictModel(BaseModel):
    """Unknown keys are errors: a typo in a safety limit must not be silently ignored."""

    # NaN or infinity in a limit would make every comparison pass: not a number, an error
    model_config = ConfigDict(extra="forbid", populate_by_name=True, allow_inf_nan=False)


class ServiceSection(StrictModel):
    """Fields every service section has."""

    enabled: bool = True
    name: str = Field("", description="first topic level of the service; empty = default")
    heartbeat: float = Field(5.0, gt=0, description="seconds between state republishes")

    def service_name(self, default: str) -> str:
        return self.name or default

    def where(self) -> list[str]:
        """What this section runs where, for the demo's banner (`label  address`)."""
        return []

    def warnings(self, stand: Any) -> list[str]:
        """Valid but probably not meant (`check` prints them, `up` logs them at start)."""
        return []
