"""CAEN SY4527/SY5527 mainframes through their EPICS IOC: module LV and HV."""

from trackerdcs.caen.protocol import REFERENCE_HISTORY
from trackerdcs.core.registry import POWER, Family

FAMILY = Family(
    name="caen",
    config="trackerdcs.caen.config:CaenConfig",
    nodered="trackerdcs.caen.nodered:panel",
    default_name="dcs",
    service="trackerdcs.caen.service:CaenService",
    simulator=True,
    order=30,
    roles=frozenset({POWER}),
    readings={"lv": ("lv_vMon", "lv_iMon", "amp"), "hv": ("hv_vMon", "hv_iMon", "µA")},
    relocate="trackerdcs.caen.testing:relocate",
    ui={"panel": "modules"},
    history=REFERENCE_HISTORY,
)
