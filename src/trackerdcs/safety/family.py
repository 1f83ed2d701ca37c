"""Interlocks, alarms and notifications, independent of the UI."""

from trackerdcs.core.registry import Family

FAMILY = Family(
    name="safety",
    config="trackerdcs.safety.config:SafetyConfig",
    service="trackerdcs.safety.service:SafetyService",
    order=10,
    stop_first=True,
    ui={"panel": "safety"},
)
