"""Stand-file pieces every power family shares: the watchdog, and the warning a stand gets
when its supplies wait for a safety heartbeat no service gives."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from trackerdcs.config.base import StrictModel


class Watchdog(StrictModel):
    """Go to the safe state alone when safety's heartbeat or the bus is gone this long."""

    heartbeat_topic: str | None = Field(None, description="default: the safety service's")
    timeout: float | None = Field(30.0, gt=0, description="s; null disables the watchdog")


def watchdog_warning(section: str, wd: Watchdog, stand: Any, what: str) -> list[str]:
    """`what`: what happens at the timeout ("the mainframe goes to the safe state")."""
    if wd.timeout is None or wd.heartbeat_topic is not None:
        return []  # off, or a heartbeat named explicitly (another stack may give it)
    safety = stand.section("safety")
    if safety is not None and safety.enabled:
        return []
    return [f"{section}.watchdog: waits for the safety heartbeat, but this stand runs no "
            f"safety service: {wd.timeout:g} s after start {what} and power-on is refused. "
            f"A {section} service alone (standalone mode): `watchdog: {{timeout: null}}` with "
            "the interlocks kept elsewhere, or `heartbeat_topic:` of the service that gives "
            "one"]  # fmt: skip
