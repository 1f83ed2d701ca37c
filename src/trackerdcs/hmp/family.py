"""Rohde & Schwarz HMP supplies over SCPI/TCP: module LV on the shared power layer."""

from trackerdcs.core.registry import POWER, Family

FAMILY = Family(
    name="hmp",
    config="trackerdcs.hmp.config:HmpConfig",
    nodered="trackerdcs.hmp.nodered:panel",
    default_name="hmp4040",
    service="trackerdcs.hmp.service:HmpService",
    simulator=True,
    plain_simulator="trackerdcs.hmp.simulator:HmpSimulator",
    order=30,
    roles=frozenset({POWER}),
    readings={"lv": ("vmon", "imon", "amp")},
    relocate="trackerdcs.hmp.testing:relocate",
    ui={"panel": "lv_supply"},
    # §1 has no HMP measurement: `hmp4040/channel/<n>` is stored as every power service's
    # channels are (`hmp4040.channel`, tags service, channel, module)
)
