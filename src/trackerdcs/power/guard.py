"""The power-on guard and the watchdog of a power service.

Nothing switches on while the safety service is silent (its heartbeat older than the
watchdog timeout), while safety reports ACTION, or while a power procedure runs. The same
heartbeat age (or the bus being gone) makes the watchdog take the safe state on its own.

Safety's state is taken from what is current only: a status or heartbeat older than the
watchdog timeout (a retained message from yesterday, a replay) is ignored, and an ACTION
in the newer of the two (status, heartbeat) forbids power-on.
"""

from __future__ import annotations

import time
from typing import Any

from trackerdcs.core import contracts, peers
from trackerdcs.core.bus import Message
from trackerdcs.core.commands import Refused
from trackerdcs.core.ordering import Newest

STATUS_MAX_AGE = 30.0  # s, without a watchdog timeout to go by


class PowerGuard:
    def __init__(self, timeout: float | None, heartbeat_topic: str):
        self.timeout = timeout
        self.heartbeat_topic = heartbeat_topic
        self.last_heartbeat = time.monotonic()
        self.bus_lost_since: float | None = None
        self.fired = False
        self.heartbeat_seen = False
        self.newest = Newest()
        self.interlock = contracts.SafetyStatus()
        self.beat = contracts.Heartbeat()

    def _current(self, ts: float | None) -> bool:
        return ts is not None and abs(time.time() - ts) <= (self.timeout or STATUS_MAX_AGE)

    # -- inputs ----------------------------------------------------------------------------
    def on_heartbeat(self, msg: Message) -> None:
        beat = contracts.parse(contracts.Heartbeat, msg.payload)
        if beat is not None and self._current(beat.ts) and self.newest.accept("beat", beat.ts):
            self.beat = beat
            self.last_heartbeat = time.monotonic()
            self.heartbeat_seen = True

    def on_safety_status(self, msg: Message) -> None:
        status = contracts.parse(contracts.SafetyStatus, msg.payload)
        if (
            status is not None
            and self._current(status.ts)
            and self.newest.accept("status", status.ts)
        ):
            self.interlock = status

    @classmethod
    def attach(cls, service: Any, watchdog: Any) -> PowerGuard:
        """The guard of a power service: its watchdog settings, safety's heartbeat and
        status subscribed on the service's bus."""
        stand = service.stand
        heartbeat = watchdog.heartbeat_topic or peers.heartbeat_topic(stand)
        guard = cls(watchdog.timeout, heartbeat)
        if watchdog.timeout:
            service.subscribe(heartbeat, guard.on_heartbeat)
        service.subscribe(f"{peers.safety(stand)}/status", guard.on_safety_status)
        return guard

    def heartbeat_age(self) -> float:
        return time.monotonic() - self.last_heartbeat

    # -- power-on --------------------------------------------------------------------------
    def check_power_on(self, procedure: str | None) -> None:
        """Reasons that forbid switching anything on, whatever the channel."""
        if procedure:
            raise Refused(f"{procedure} in progress")
        if self.timeout:
            age = self.heartbeat_age()
            if age > self.timeout:
                raise Refused(
                    f"no safety heartbeat for {age:.0f} s (is the safety service running?)"
                )
        # the newer of the two says what safety thinks now
        said = [
            (self.interlock.ts or 0.0, self.interlock.state),
            (self.beat.ts or 0.0, self.beat.state),
        ]
        if max(said)[1] == "ACTION":
            raise Refused(f"interlock active: {self.interlock.message or 'see safety/status'}")

    # -- watchdog --------------------------------------------------------------------------
    def watchdog(self, bus_connected: bool, powered: bool) -> str | None:
        """The reason to go safe now (once per loss), or None."""
        if not self.timeout:
            return None
        now = time.monotonic()
        if bus_connected:
            self.bus_lost_since = None
        elif self.bus_lost_since is None:
            self.bus_lost_since = now
        hb_age = now - self.last_heartbeat
        bus_age = now - self.bus_lost_since if self.bus_lost_since is not None else 0.0
        if hb_age <= self.timeout and bus_age <= self.timeout:
            self.fired = False
            return None
        if self.fired or not powered:
            return None
        self.fired = True
        if bus_age > self.timeout:
            return f"bus lost for {bus_age:.0f} s"
        return f"no safety heartbeat on {self.heartbeat_topic} for {hb_age:.0f} s"

    def check(self, service: Any, powered: bool) -> None:
        """Run by every power service each second: go safe (once per loss) when the
        heartbeat or the bus is gone, with a MAJOR `<service>.watchdog` alarm; clear it when
        both are back."""
        why = self.watchdog(service.bus.connected.is_set(), powered)
        alarm = f"{service.name}.watchdog"
        if why is not None:
            service.log.error("watchdog: %s; going to the safe state", why)
            service.alarms.raise_(alarm, "MAJOR", f"watchdog safe-off: {why}")
            service.start_safe_off(f"watchdog: {why}")
        elif self.healthy():
            service.alarms.clear(alarm)

    def healthy(self) -> bool:
        """Safety heard from (since this start) within the timeout, and the bus up: the
        condition of a watchdog alarm is gone."""
        if not self.timeout:
            return True
        return (
            self.heartbeat_seen
            and self.heartbeat_age() <= self.timeout
            and self.bus_lost_since is None
        )

    def status(self) -> dict[str, object]:
        return {
            "enabled": bool(self.timeout),
            "timeout": self.timeout,
            "heartbeat_age": round(self.heartbeat_age(), 2),
            "fired": self.fired,
        }
