"""Julabo circulators over RS232 (or a serial server): the chiller."""

from trackerdcs.core.cooling import REFERENCE_CHILLER
from trackerdcs.core.history import Measurement
from trackerdcs.core.registry import COOLING, Family

FAMILY = Family(
    name="julabo",
    config="trackerdcs.julabo.config:JulaboConfig",
    host_files="trackerdcs.julabo.host_files:host_files",
    nodered="trackerdcs.julabo.nodered:panel",
    service="trackerdcs.julabo.service:JulaboService",
    simulator=True,
    order=40,
    roles=frozenset({COOLING}),
    relocate="trackerdcs.julabo.testing:relocate",
    ui={"panel": "chiller"},
    cooling=REFERENCE_CHILLER,
    # the reference Telegraf's `chiller` (PROTOCOLS.md §1); `status_code` and `used_setpoint`
    # are unsigned there, which InfluxDB 1.x stores as integers
    history=(
        Measurement(
            topic="status",
            name="chiller",
            fields={
                "status_code": "int",
                "internal_temp": "float",
                "external_temp": "float",
                "setpoint_1": "float",
                "setpoint_2": "float",
                "setpoint_3": "float",
                "used_setpoint": "int",
                "power": "float",
                "ext_is_used": "bool",
                "fsm_state": "str",
            },
        ),
    ),
)
