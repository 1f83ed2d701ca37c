"""The web UI and its REST/WebSocket API."""

from trackerdcs.core.registry import HISTORY, Family

FAMILY = Family(
    name="web",
    config="trackerdcs.web.config:WebConfig",
    service="trackerdcs.web.service:WebService",
    order=90,
    relocate="trackerdcs.web.config:relocate",
    roles=frozenset({HISTORY}),
)
