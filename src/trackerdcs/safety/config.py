"""Stand-file section `safety` (placeholder shape; the safety issue owns this file)."""

from __future__ import annotations

from pydantic import Field

from trackerdcs.config.base import ServiceSection


class SafetyConfig(ServiceSection):
    dewpoint_margin_warning: float = Field(5.0, description="K")
    dewpoint_margin_action: float = Field(3.0, description="K")
