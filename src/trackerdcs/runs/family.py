"""Calibration runs on Ph2_ACF with the stand conditions attached (IV curves, sequences next)."""

from trackerdcs.core.registry import HISTORY, Family

FAMILY = Family(
    name="runs",
    config="trackerdcs.runs.config:RunsConfig",
    host_files="trackerdcs.runs.host_files:host_files",
    service="trackerdcs.runs.service:RunsService",
    order=80,
    ui={"panel": "runs"},
    roles=frozenset({HISTORY}),
)
