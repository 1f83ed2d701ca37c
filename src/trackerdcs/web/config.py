"""Stand-file section `web` (placeholder shape; the web issue owns this file)."""

from __future__ import annotations

from pydantic import Field

from trackerdcs.config.base import ServiceSection


class WebConfig(ServiceSection):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=1, le=65535)
    users_file: str = "users.yaml"
