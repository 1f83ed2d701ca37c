"""The event log: what happened on the stand, in words, kept in the historian beside the
values — every command with its reply (who sent it and from where), alarm transitions,
interlock changes, module and device state changes with their reasons, services coming
and going.

The recorder derives the events from the messages it already receives on its durable
session (so they survive its restarts and the historian's outages like any point), and
writes each as measurement `events`, field `text`, tags `kind` (command, alarm, interlock,
state, service), `level` (info, warning, error), `service`, and `module` / `user` when
known. InfluxDB users get them as Grafana annotations for free; the web UI lists and
filters them (`Historian.events`).

Commands the services declare read-only (their reply says `read_only`) are not events: the
UI asks for a run's document every few seconds.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

from trackerdcs.core.commands import sender
from trackerdcs.core.ordering import ts_of
from trackerdcs.storage.points import Point

MEASUREMENT = "events"
KINDS = ("command", "alarm", "interlock", "state", "service")
TAGS = ("kind", "level", "service", "module", "user")
NO_REPLY_AFTER = 60.0  # s: a command still unanswered then is an event of its own
PENDING_MAX = 10_000  # commands awaiting their reply (a flood without replies is bounded)

_STATE = re.compile(rb'"fsm_state"\s*:\s*"([^"]*)"')
_CHANNEL_IN_ALARM = re.compile(r"^([^.]+)\.ch(\d+)\.")
_LEVEL = {"OK": "info", "MINOR": "warning", "WARNING": "warning", "MAJOR": "error",
          "INVALID": "error", "ACTION": "error", "ERROR": "error"}  # fmt: skip


@dataclass
class Event:
    ts: float
    kind: str
    text: str
    level: str = "info"
    service: str = ""
    module: str = ""
    user: str = ""

    def point(self) -> Point:
        tags = dict(zip(TAGS, (self.kind, self.level, self.service, self.module, self.user),
                        strict=True))  # fmt: skip
        return Point(MEASUREMENT, "text", self.text, self.ts,
                     tuple(sorted((k, v) for k, v in tags.items() if v)))  # fmt: skip

    def to_json(self) -> dict[str, Any]:
        return {"ts": self.ts, "kind": self.kind, "level": self.level, "service": self.service,
                "module": self.module, "user": self.user, "text": self.text}  # fmt: skip


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        return None


def _value(data: dict[str, Any]) -> str:
    """The payload of a command as an operator reads it."""
    rest = {k: v for k, v in data.items() if k not in ("id", "user", "via", "ts", "deadline")}
    if set(rest) == {"value"}:
        return str(rest["value"])
    return json.dumps(rest, separators=(", ", ": "), ensure_ascii=False) if rest else ""


def _ts(data: Any, now: float) -> float:
    ts = ts_of(data)
    return now if ts is None else ts


class Sent(NamedTuple):
    """A command awaiting its reply."""

    at: float
    value: str
    user: str
    via: str


class EventLog:
    """Fed every message the recorder receives; returns the points of the events it makes.
    Keeps what it needs to see a change (last states) and to pair a command with its reply."""

    def __init__(self, now: Callable[[], float]):
        self.now = now
        self._pending: dict[tuple[str, str], Sent] = {}
        self._states: dict[str, str] = {}  # topic (or topic#interlock) -> last state seen
        self._alarms: dict[str, tuple[str, str, bool, bool]] = {}
        self._modules: dict[tuple[str, str], str] = {}  # (service, channel id) -> module
        self._last_ts: dict[tuple[tuple[str, str], ...], float] = {}

    # -- the recorder's hook -----------------------------------------------------------------
    def feed(self, topic: str, raw: bytes, retained: bool = False) -> list[Point]:
        if topic.startswith("/"):
            return []  # the Lyon mirrors of our own states
        parts = topic.split("/")
        events: list[Event] = []
        if len(parts) >= 3 and parts[1] == "cmd":
            self._command(parts[0], "/".join(parts[2:]), raw)
        elif len(parts) == 2 and parts[1] == "reply":
            events = self._reply(parts[0], raw)
        elif parts[0] == "alarms" and len(parts) == 2:
            events = self._alarm(parts[1], raw, retained)
        elif len(parts) == 2 and parts[1] == "online":
            events = self._online(parts[0], raw, retained)
        elif len(parts) == 3 and parts[1] == "channel":
            events = self._channel(topic, parts[0], parts[2], raw)
        elif len(parts) == 2 and parts[1] == "status":
            events = self._status(topic, parts[0], raw)
        return [self._unique(e.point()) for e in events]

    def sweep(self) -> list[Point]:
        """Commands that never got their reply: said, not forgotten silently."""
        now = self.now()
        late = [k for k, sent in self._pending.items() if now - sent.at > NO_REPLY_AFTER]
        out = []
        for (svc, cid), c in ((k, self._pending.pop(k)) for k in late):
            what = f"a command{' ' + c.value if c.value else ''} ({cid})"
            text = f"no reply within {NO_REPLY_AFTER:g} s to {what} by {sender(c.user, c.via)}"
            out.append(self._unique(Event(c.at, "command", text, "warning", svc,
                                          user=c.user).point()))  # fmt: skip
        return out

    # -- commands --------------------------------------------------------------------------
    def _command(self, svc: str, name: str, raw: bytes) -> None:
        data = _json(raw)
        if not isinstance(data, dict):
            data = {"value": raw.decode("utf-8", "replace").strip()} if raw.strip() else {}
        cid = str(data.get("id")) if data.get("id") is not None else f"?{name}"
        if len(self._pending) >= PENDING_MAX:
            self._pending.pop(next(iter(self._pending)))
        self._pending[(svc, cid)] = Sent(self.now(), _value(data), str(data.get("user") or ""),
                                         str(data.get("via") or ""))  # fmt: skip

    def _reply(self, svc: str, raw: bytes) -> list[Event]:
        r = _json(raw)
        if not isinstance(r, dict):
            return []
        name = str(r.get("command") or "?")
        cid = str(r.get("id")) if r.get("id") is not None else f"?{name}"
        sent = self._pending.pop((svc, cid), None)
        if r.get("read_only"):
            return []
        value = sent.value if sent else ""
        user = str(r.get("user") or (sent.user if sent else ""))
        via = str(r.get("via") or (sent.via if sent else ""))
        if r.get("ok"):
            outcome, level = "done", "info"
        elif r.get("refused"):
            outcome, level = f"refused: {r.get('error')}", "warning"
        else:
            outcome, level = f"failed: {r.get('error')}", "error"
        what = f"{name}{' ' + value if value else ''}"
        return [Event(_ts(r, self.now()), "command", f"{what} by {sender(user, via)}: {outcome}",
                      level, svc, self._module_of_command(svc, name), user)]  # fmt: skip

    def _module_of_command(self, svc: str, name: str) -> str:
        last = name.rsplit("/", 1)[-1]
        return self._modules.get((svc, last), "") if last.isdigit() else ""

    # -- alarms ----------------------------------------------------------------------------
    def _alarm(self, name: str, raw: bytes, retained: bool) -> list[Event]:
        a = _json(raw)
        if not isinstance(a, dict):
            return []
        sev, cur = str(a.get("severity", "OK")), str(a.get("current", "OK"))
        acked = bool(a.get("acknowledged"))
        shelved = (a.get("shelved_until") or 0) > self.now()
        now_ = (sev, cur, acked, shelved)
        before = self._alarms.get(name)
        self._alarms[name] = now_
        if before is None and (retained or sev == "OK"):
            return []  # the state it was in when we started: no transition seen
        was = before or ("OK", "OK", True, False)
        msg = str(a.get("message") or "")
        texts: list[tuple[str, str]] = []
        if cur != was[1] and cur != "OK":
            texts.append((f"{cur} {name}: {msg}", _LEVEL.get(cur, "warning")))
        elif cur == "OK" and was[1] != "OK":
            texts.append((f"{name} back to normal" + (f" (latched {sev} until acknowledged)"
                                                      if sev != "OK" else ""), "info"))  # fmt: skip
        cleared = sev == "OK" and was[0] != "OK"
        if acked and not was[2]:
            texts.append((f"{name} acknowledged{' and cleared' if cleared else ''}", "info"))
        elif cleared:
            texts.append((f"{name} cleared", "info"))
        if shelved != was[3]:
            texts.append((f"{name} {'shelved' if shelved else 'unshelved'}", "info"))
        source = str(a.get("source") or name.split(".", 1)[0])
        module = ""
        if m := _CHANNEL_IN_ALARM.match(name):
            module = self._modules.get((m.group(1), m.group(2)), "")
        ts = _ts(a, self.now())
        return [Event(ts, "alarm", t, lvl, source, module) for t, lvl in texts]

    # -- states ----------------------------------------------------------------------------
    def _online(self, svc: str, raw: bytes, retained: bool) -> list[Event]:
        word = raw.strip().decode("utf-8", "replace")
        if word not in ("true", "false"):
            return []
        before = self._states.get(f"{svc}/online")
        self._states[f"{svc}/online"] = word
        if before == word or (before is None and (retained or word == "true")):
            return []
        up = word == "true"
        return [Event(self.now(), "service", f"{svc} {'online' if up else 'OFFLINE'}",
                      "info" if up else "warning", svc)]  # fmt: skip

    def _channel(self, topic: str, svc: str, ch: str, raw: bytes) -> list[Event]:
        m = _STATE.search(raw)
        if m is None:
            return []
        state = m.group(1).decode("utf-8", "replace")
        if self._states.get(topic) == state and (svc, ch) in self._modules:
            return []  # the usual case: a reading with nothing new
        data = _json(raw)
        if not isinstance(data, dict):
            return []
        module = self._modules[(svc, ch)] = str(data.get("module") or "")
        before = self._moved(topic, state)
        if before is None:
            return []
        reason = str(data.get("reason") or "")
        who = f"{module} ({svc} channel {ch})" if module else f"{svc} channel {ch}"
        return [Event(_ts(data, self.now()), "state",
                      f"{who}: {before} → {state}{': ' + reason if reason else ''}",
                      _LEVEL.get(state, "info"), svc, module)]  # fmt: skip

    def _status(self, topic: str, svc: str, raw: bytes) -> list[Event]:
        if b'"interlocks"' not in raw and b'"fsm_state"' not in raw:
            return []
        m = _STATE.search(raw)
        if (m is not None and b'"interlocks"' not in raw
                and self._states.get(topic) == m.group(1).decode("utf-8", "replace")):  # fmt: skip
            return []  # the usual case: a device's status with nothing new
        data = _json(raw)
        if not isinstance(data, dict):
            return []
        ts, out = _ts(data, self.now()), []
        state = data.get("fsm_state")
        if isinstance(state, str) and (before := self._moved(topic, state)) is not None:
            why = str(data.get("message") or data.get("reason") or "")
            text = f"{svc}: {before} → {state}{': ' + why if why else ''}"
            out.append(Event(ts, "state", text, _LEVEL.get(state, "info"), svc))
        interlocks = data.get("interlocks")
        if isinstance(interlocks, dict):
            for name, il in sorted(interlocks.items()):
                if not isinstance(il, dict):
                    continue
                st = str(il.get("state"))
                if (was := self._moved(f"{topic}#{name}", st)) is None:
                    continue
                msg = str(il.get("message") or "")
                text = f"interlock {name}: {was} → {st}{': ' + msg if msg else ''}"
                out.append(Event(ts, "interlock", text, _LEVEL.get(st, "info"), svc))
        return out

    def _moved(self, key: str, state: str) -> str | None:
        """Remember `state` under `key`; the state before it when this is a change we saw
        happen (not a first sight, nor a service starting from INIT), else None."""
        before = self._states.get(key)
        self._states[key] = state
        return None if before in (None, "INIT", state) else before

    def _unique(self, p: Point) -> Point:
        """Two events of one tag set never share a time (a historian keeps one point per
        series and time): the later one moves on by a microsecond."""
        last = self._last_ts.get(p.tags)
        ts = p.ts if last is None or p.ts > last else last + 1e-6
        if len(self._last_ts) > 10_000:
            self._last_ts.clear()
        self._last_ts[p.tags] = ts
        return p._replace(ts=ts)
