"""The shipped Node-RED control panel (FlowFuse dashboard), generated from the stand file."""

from __future__ import annotations

from typing import Any

from trackerdcs.config.model import StandBase

BROKER_ID = "trackerdcs-broker"


def flows(stand: StandBase) -> list[dict[str, Any]]:
    return []
