"""Julabo circulators over RS232 (or a serial server): the chiller."""

from trackerdcs.core.registry import COOLING, Family

FAMILY = Family(
    name="julabo",
    config="trackerdcs.julabo.config:JulaboConfig",
    service="trackerdcs.julabo.service:JulaboService",
    simulator=True,
    order=40,
    roles=frozenset({COOLING}),
    relocate="trackerdcs.julabo.testing:relocate",
    ui={"panel": "chiller"},
)
