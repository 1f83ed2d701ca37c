"""Alarms with the EPICS Phoebus alarm-server semantics, published on `alarms/<name>`.

An alarm latches at the highest severity seen; it returns to OK only once its condition is
OK *and* it has been acknowledged (in either order). The owning service answers
`<service>/cmd/ack` (`{"alarm": name}`), `<service>/cmd/ack/<name>`, and
`<service>/cmd/shelve` (`{"alarm": name, "minutes": 60}`): a shelved alarm is still shown and
still latches, but sends no notifications until the shelf expires (at most 24 h).

`AlarmTable` is pure logic (no bus, no clock of its own beyond `now`): every transition is
unit-tested without a broker. Its `publish` callback is the only way out, and its `store`
file (in the stand's state dir) the only memory: a restarted service has the alarms it had,
latched and acknowledged as they were, so an operator can still acknowledge them and the
service clears them when it finds their condition gone.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from pydantic import BaseModel, field_validator

from trackerdcs.core import payload as pl
from trackerdcs.core.commands import BadCommand, Command, command

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


class AlarmTable:
    def __init__(self, source: str, publish: Callable[[Alarm], None],
                 now: Callable[[], float] = pl.now, store: Path | None = None):  # fmt: skip
        self.source = source
        self.publish = publish
        self.now = now
        self.store = store
        self.table: dict[str, Alarm] = self._load()

    def _load(self) -> dict[str, Alarm]:
        if self.store is None or not self.store.exists():
            return {}
        known = {f.name for f in fields(Alarm)}
        try:
            rows = json.loads(self.store.read_text(encoding="utf-8"))
            table = {r["name"]: Alarm(**{k: v for k, v in r.items() if k in known}) for r in rows}
        except (OSError, ValueError, TypeError, KeyError) as exc:
            log.error("alarm state %s unreadable (%s): starting without it", self.store, exc)
            return {}
        log.info("%d alarms restored from %s", len(table), self.store)
        return table

    def _save(self) -> None:
        if self.store is None:
            return
        tmp = self.store.with_suffix(".tmp")
        try:
            self.store.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps([asdict(a) for a in self.table.values()]), encoding="utf-8")
            os.replace(tmp, self.store)  # a crash mid-write leaves the previous state whole
        except OSError as exc:
            log.error("alarm state not saved to %s: %s", self.store, exc)

    def raise_(self, name: str, severity: str, message: str) -> None:
        """The condition is present at `severity` (MINOR, MAJOR or INVALID)."""
        a = self.table.setdefault(name, Alarm(name, self.source))
        now = self.now()
        # a new severity goes out at once; a message that only updates a number (a margin,
        # an age) at most every MESSAGE_REFRESH s, not on every evaluation
        changed = a.current != severity or (a.message != message and now - a.ts >= MESSAGE_REFRESH)
        if a.severity == "OK":
            a.since = now
        if RANK[severity] > RANK[a.severity]:
            a.severity = severity
            a.acknowledged = False
        a.current = severity
        a.message = message
        if changed:
            log.warning("alarm %s %s: %s", name, severity, message)
            self._out(a)

    def clear(self, name: str) -> None:
        """The condition is gone; the alarm stays latched until acknowledged."""
        a = self.table.get(name)
        if a is None or a.current == "OK":
            return
        a.current = "OK"
        if a.acknowledged:
            a.severity = "OK"
        self._out(a)

    def set(self, name: str, severity: str, message: str) -> None:
        """raise_ or clear, by severity."""
        if severity == "OK":
            self.clear(name)
        else:
            self.raise_(name, severity, message)

    def _get(self, name: str) -> Alarm:
        a = self.table.get(name)
        if a is None:
            raise BadCommand(f"no alarm '{name}'; known: {', '.join(self.table) or 'none'}")
        return a

    def ack(self, name: str) -> Alarm:
        a = self._get(name)
        a.acknowledged = True
        a.severity = a.current
        self._out(a)
        return a

    def shelve(self, name: str, seconds: float | None) -> Alarm:
        a = self._get(name)
        a.shelved_until = self.now() + seconds if seconds else None
        self._out(a)
        return a

    def expire_shelves(self) -> None:
        now = self.now()
        for a in self.table.values():
            if a.shelved_until is not None and a.shelved_until <= now:
                a.shelved_until = None
                log.info("alarm %s: shelf expired", a.name)
                self._out(a)

    def active(self) -> list[Alarm]:
        return [a for a in self.table.values() if a.severity != "OK"]

    def republish(self) -> None:
        """Everything again on the bus (after a reconnect, every heartbeat): nothing changed,
        so nothing is written to the store."""
        for a in self.table.values():
            a.ts = self.now()
            self.publish(a)

    def _out(self, a: Alarm) -> None:
        a.ts = self.now()
        self._save()
        self.publish(a)


class Shelve(BaseModel):
    alarm: str
    minutes: float = 60.0

    @field_validator("minutes")
    @classmethod
    def _bounded(cls, v: float) -> float:
        if not 0 < v <= 1440:
            raise ValueError("minutes must be in 1..1440 (a shelf always expires)")
        return v


def _alarm_name(cmd: Command) -> str:
    name = cmd.args[0] if cmd.args else cmd.data.get("alarm") or cmd.value
    if not isinstance(name, str) or not name:
        raise BadCommand("which alarm? send {'alarm': name} or use ack/<name>")
    return name


class AlarmCommands:
    """The ack/shelve commands every alarm-owning service answers (mixed into Service)."""

    alarms: AlarmTable

    @command("ack", help="acknowledge an alarm: {'alarm': name}")
    @command("ack/+", help="acknowledge an alarm")
    def ack_cmd(self, cmd: Command) -> dict[str, Any]:
        return self.alarms.ack(_alarm_name(cmd)).payload()

    @command("shelve", Shelve, help="{'alarm': name, 'minutes': 1..1440}")
    def shelve_cmd(self, cmd: Command, body: Shelve) -> dict[str, Any]:
        return self.alarms.shelve(body.alarm, body.minutes * 60).payload()

    @command("unshelve", help="{'alarm': name}")
    def unshelve_cmd(self, cmd: Command) -> dict[str, Any]:
        return self.alarms.shelve(_alarm_name(cmd), None).payload()
