"""Alarms with the EPICS Phoebus alarm-server semantics, published on `alarms/<name>`.

An alarm latches at the highest severity seen; it returns to OK only once its condition is
OK *and* it has been acknowledged (in either order). Any service can own alarms; the owner
answers `<service>/cmd/ack` (`{"alarm": name}`) and `<service>/cmd/ack/<name>`, and
`<service>/cmd/shelve` (`{"alarm": name, "minutes": 60}`): a shelved alarm is still shown
and still latches, but sends no notifications until the shelf expires (at most 24 h).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import asdict, dataclass, field
from typing import Any

from trackerdcs.bus import payload as pl
from trackerdcs.bus import topics
from trackerdcs.bus.client import Bus
from trackerdcs.bus.commands import BadCommand, Command, CommandRouter

SEVERITIES = ("OK", "MINOR", "MAJOR", "INVALID")
RANK = {s: i for i, s in enumerate(SEVERITIES)}
MESSAGE_REFRESH = 5.0  # s

log = logging.getLogger("trackerdcs.alarms")


@dataclass
class Alarm:
    name: str
    source: str
    severity: str = "OK"  # latched: highest seen since the last return to OK
    current: str = "OK"  # severity of the condition now
    message: str = ""
    since: float | None = None
    acknowledged: bool = True
    shelved_until: float | None = None
    ts: float = field(default_factory=pl.now)

    @property
    def active(self) -> bool:
        return self.current != "OK"

    def payload(self) -> dict[str, Any]:
        d = asdict(self)
        d["active"] = self.active
        return d


class Alarms:
    def __init__(self, bus: Bus, source: str):
        self.bus = bus
        self.source = source
        self.table: dict[str, Alarm] = {}
        self._lock = threading.RLock()

    def register(self, commands: CommandRouter) -> None:
        commands.add("ack", self._ack_cmd, "acknowledge an alarm: {'alarm': name}")
        commands.add("ack/+", self._ack_cmd, "acknowledge an alarm")
        commands.add("shelve", self._shelve_cmd, "{'alarm': name, 'minutes': 1..1440}")
        commands.add("unshelve", self._unshelve_cmd, "{'alarm': name}")

    def raise_(self, name: str, severity: str, message: str) -> None:
        """The condition is present at `severity` (MINOR, MAJOR or INVALID)."""
        with self._lock:
            a = self.table.setdefault(name, Alarm(name, self.source))
            # a new severity goes out at once; a message that only updates a number (a
            # margin, an age) at most every MESSAGE_REFRESH s, not on every evaluation
            changed = a.current != severity or (
                a.message != message and pl.now() - a.ts >= MESSAGE_REFRESH
            )
            if a.severity == "OK":
                a.since = pl.now()
            if RANK[severity] > RANK[a.severity]:
                a.severity = severity
                a.acknowledged = False
            a.current = severity
            a.message = message
            if changed:
                log.warning("alarm %s %s: %s", name, severity, message)
                self._publish(a)

    def clear(self, name: str) -> None:
        """The condition is gone; the alarm stays latched until acknowledged."""
        with self._lock:
            a = self.table.get(name)
            if a is None or a.current == "OK":
                return
            a.current = "OK"
            if a.acknowledged:
                a.severity = "OK"
            self._publish(a)

    def ack(self, name: str) -> Alarm:
        with self._lock:
            a = self.table.get(name)
            if a is None:
                raise BadCommand(f"no alarm '{name}'; known: {', '.join(self.table) or 'none'}")
            a.acknowledged = True
            if a.current == "OK":
                a.severity = "OK"
            else:
                a.severity = a.current
            self._publish(a)
            return a

    def shelve(self, name: str, seconds: float | None) -> Alarm:
        with self._lock:
            a = self.table.get(name)
            if a is None:
                raise BadCommand(f"no alarm '{name}'; known: {', '.join(self.table) or 'none'}")
            a.shelved_until = pl.now() + seconds if seconds else None
            self._publish(a)
            return a

    def tick(self) -> None:
        """Unshelve alarms whose shelf expired (call from the owner's periodic work)."""
        now = pl.now()
        with self._lock:
            for a in self.table.values():
                if a.shelved_until is not None and a.shelved_until <= now:
                    a.shelved_until = None
                    log.info("alarm %s: shelf expired", a.name)
                    self._publish(a)

    def active(self) -> list[Alarm]:
        with self._lock:
            return [a for a in self.table.values() if a.severity != "OK"]

    def republish(self) -> None:
        with self._lock:
            for a in self.table.values():
                self._publish(a)

    def _ack_cmd(self, cmd: Command) -> dict[str, Any]:
        name = cmd.args[0] if cmd.args else cmd.data.get("alarm") or cmd.value
        if not isinstance(name, str) or not name:
            raise BadCommand("which alarm? send {'alarm': name} or use ack/<name>")
        return self.ack(name).payload()

    def _name(self, cmd: Command) -> str:
        name = cmd.args[0] if cmd.args else cmd.data.get("alarm") or cmd.value
        if not isinstance(name, str) or not name:
            raise BadCommand("which alarm? send {'alarm': name}")
        return name

    def _shelve_cmd(self, cmd: Command) -> dict[str, Any]:
        minutes = cmd.number("minutes") if "minutes" in cmd.data else 60.0
        if not 0 < minutes <= 1440:
            raise BadCommand("minutes must be in 1..1440 (a shelf always expires)")
        return self.shelve(self._name(cmd), minutes * 60).payload()

    def _unshelve_cmd(self, cmd: Command) -> dict[str, Any]:
        return self.shelve(self._name(cmd), None).payload()

    def _publish(self, a: Alarm) -> None:
        a.ts = pl.now()
        self.bus.publish(topics.alarm(a.name), a.payload(), retain=True)
