"""The dew-point guard of a cooling service: a set-point closer to the dew point than a
margin is refused, whoever sends it (operator, sequence, stand file). Written once for
every cooling family (a Julabo's bath, a MARTA's CO2 supply).

Dew points come from the environment services' readings (`<env>/<sensor>`), the newest per
sensor; only those younger than `max_age` count, and none at all is a refusal (an unknown
margin is not a safe one). A set-point no colder than the one in effect is never refused:
it moves away from condensation, and safety's own safe set-point must get through in the
very moment the dew point has come up to the surface (found by the MARTA dew-point test).
"""

from __future__ import annotations

from collections.abc import Callable

from pydantic import Field

from trackerdcs.config.base import StrictModel
from trackerdcs.config.model import StandBase
from trackerdcs.core import contracts, peers
from trackerdcs.core.bus import Message
from trackerdcs.core.commands import Refused
from trackerdcs.core.ordering import Newest
from trackerdcs.core.payload import now


class DewpointGuard(StrictModel):
    """Refuse set-points closer to the dew point than `margin` (sensor values younger than
    `max_age` s from the environment services' topics)."""

    margin: float = Field(3.0, ge=0, description="K")
    sensors: list[str] = Field(default_factory=list, description="empty: every sensor")
    max_age: float = Field(120.0, gt=0)


class SetpointGuard:
    def __init__(self, cfg: DewpointGuard | None, stand: StandBase,
                 subscribe: Callable[[str, Callable[[Message], None]], None]):  # fmt: skip
        self.cfg = cfg
        self.dewpoints: dict[str, contracts.Reading] = {}
        self.newest = Newest()
        if cfg is not None:
            for env in peers.environment(stand):
                subscribe(f"{env}/+", self.on_sensor)

    def on_sensor(self, msg: Message) -> None:
        reading = contracts.parse(contracts.Reading, msg.payload)
        if (reading is not None and reading.dewpoint is not None
                and self.newest.accept(msg.topic, reading.ts)):  # fmt: skip
            self.dewpoints[msg.topic.split("/", 1)[1]] = reading

    def check(self, temp: float | None, what: str = "setpoint",
              in_effect: float | None = None) -> None:  # fmt: skip
        """Refused when `temp` is below the highest fresh dew point + margin, unless it is no
        colder than `in_effect` (the set-point the unit regulates to now)."""
        guard = self.cfg
        if guard is None or temp is None:
            return
        if in_effect is not None and temp >= in_effect:
            return
        fresh = {
            n: r.dewpoint
            for n, r in self.dewpoints.items()
            if r.dewpoint is not None and r.ts is not None and now() - r.ts <= guard.max_age
            and (not guard.sensors or n in guard.sensors)
        }  # fmt: skip
        if not fresh:
            raise Refused("no fresh dew point from the sensors: cannot check the margin")
        name, dp = max(fresh.items(), key=lambda kv: kv[1])
        if temp < dp + guard.margin:
            raise Refused(f"{what} {temp:g} °C is below dew point {dp:.1f} °C ({name}) + "
                          f"margin {guard.margin:g} K")  # fmt: skip
