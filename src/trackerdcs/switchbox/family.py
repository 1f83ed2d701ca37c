"""The serial switchbox: a relay per module in its LV line, on the shared power layer."""

from trackerdcs.core.registry import POWER, Family

FAMILY = Family(
    name="switchbox",
    config="trackerdcs.switchbox.config:SwitchboxConfig",
    host_files="trackerdcs.switchbox.host_files:host_files",
    nodered="trackerdcs.switchbox.nodered:panel",
    default_name="SB",
    service="trackerdcs.switchbox.service:SwitchboxService",
    simulator=True,
    plain_simulator="trackerdcs.switchbox.simulator:SwitchboxSimulator",
    order=31,
    roles=frozenset({POWER}),
    relocate="trackerdcs.switchbox.testing:relocate",
    ui={"panel": "switchbox"},
)
