"""Stand-file section `caen` (placeholder shape; the CAEN issue owns this file)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from trackerdcs.config.base import ServiceSection, StrictModel


class BoardChannel(StrictModel):
    board: int = Field(ge=0, le=15)
    chan: int = Field(ge=0, le=47)
    settings: dict[str, Any] = Field(default_factory=dict)


class ChannelConfig(StrictModel):
    module: str | None = None
    lv: BoardChannel
    hv: BoardChannel


class CaenConfig(ServiceSection):
    simulate: bool = False
    prefix: str = "cleanroom"
    ca_server_port: int | None = Field(None, description="EPICS_CA_SERVER_PORT of the IOC")
    ca_addr_list: str = "127.0.0.1"
    global_: dict[str, Any] = Field(default_factory=dict, alias="global")
    channels: dict[int, ChannelConfig] = Field(default_factory=dict)
