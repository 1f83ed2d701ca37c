"""The MARTA CO2 cooling plant over Modbus TCP."""

from trackerdcs.core.history import Measurement
from trackerdcs.core.registry import Family
from trackerdcs.marta.protocol import READ_FLOATS

FAMILY = Family(
    name="marta",
    config="trackerdcs.marta.config:MartaConfig",
    default_name="MARTA",
    service="trackerdcs.marta.service:MartaService",
    simulator=True,
    plain_simulator="trackerdcs.marta.simulator:MartaSimulator",
    order=40,
    # not yet the COOLING role: safety's chiller rule and safe set-point speak Julabo
    # (`fsm_state: ON`, `setWT`); cooling as a role is the next step of issue 15
    relocate="trackerdcs.marta.testing:relocate",
    history=(
        Measurement(
            topic="status",
            name="MARTA",
            fields={
                **dict.fromkeys(READ_FLOATS, "float"),
                "status": "int",
                "start_chiller": "bool",
                "start_co2": "bool",
                "flow_active": "bool",
                "fsm_state": "str",
            },
        ),
    ),
)
