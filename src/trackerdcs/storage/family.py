"""The recorder: every value on the bus into the historian, with store-and-forward."""

from trackerdcs.core.registry import HISTORY, Family

FAMILY = Family(
    name="recorder",
    config="trackerdcs.storage.config:RecorderConfig",
    service="trackerdcs.storage.recorder:RecorderService",
    order=80,
    roles=frozenset({HISTORY}),
)
