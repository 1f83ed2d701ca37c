"""The MARTA CO2 cooling plant over Modbus TCP."""

from trackerdcs.core.cooling import CoolingContract, Order
from trackerdcs.core.history import Measurement
from trackerdcs.core.registry import COOLING, Family
from trackerdcs.marta.protocol import READ_FLOATS

FAMILY = Family(
    name="marta",
    config="trackerdcs.marta.config:MartaConfig",
    nodered="trackerdcs.marta.nodered:panel",
    default_name="MARTA",
    service="trackerdcs.marta.service:MartaService",
    simulator=True,
    plain_simulator="trackerdcs.marta.simulator:MartaSimulator",
    order=40,
    roles=frozenset({COOLING}),
    # cooling the detector means CO2 circulating; the supply and return are its coldest
    # surfaces; the safe set-point is the CO2 temperature set-point
    cooling=CoolingContract(
        running=("CO2_RUNNING",),
        surfaces={"CO2_TT05": "CO2 supply", "CO2_TT06": "CO2 return"},
        safe=(Order("set_temperature_setpoint", "{temp}", "temperature_setpoint"),),
        # a sequence's chiller step: the set-point, the chiller, then the CO2 once it runs
        regulate=(
            Order("set_temperature_setpoint", "{temp}"),
            Order("start_chiller", None, "start_chiller", True),
            Order("start_co2", None, "start_co2", True, after=("CHILLER_RUNNING", "CO2_RUNNING")),
        ),
        reading="CO2_TT05",
    ),
    relocate="trackerdcs.marta.testing:relocate",
    ui={"panel": "co2"},
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
