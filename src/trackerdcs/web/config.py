"""Stand-file section `web`: where the UI listens and who may use it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import Field

from trackerdcs.config.base import ServiceSection


class WebConfig(ServiceSection):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=1, le=65535)
    users_file: str = Field(
        "users.yaml", description="relative to state_dir; `trackerdcs users add`"
    )
    demo_users: bool = Field(
        False, description="create viewer/operator/expert with their name as password when "
        "no users file exists (demo only)")  # fmt: skip
    session_hours: float = Field(12.0, gt=0)
    command_timeout: float = Field(10.0, gt=0, description="s to wait for a service's reply")
    allowed_origins: list[str] = Field(
        default_factory=list, description="other origins allowed to send commands (a reverse "
        "proxy's https://host); the UI's own origin always is")  # fmt: skip
    login_failures: int = Field(5, ge=1, description="wrong passwords per minute, per address "
                                "or user name, before logins are refused for a minute")  # fmt: skip

    def where(self) -> list[str]:
        out = [f"web UI        http://{self.host}:{self.port}/"]
        if self.demo_users:
            out.append("web login     operator/operator (also viewer/viewer, expert/expert)")
        return out


def relocate(section: dict[str, Any], free_port: Callable[[], int], **_: Any) -> None:
    """The UI on a free port (tests run copies of a stand side by side)."""
    section["port"] = free_port()
