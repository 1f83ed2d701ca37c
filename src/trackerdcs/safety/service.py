"""The safety service (`trackerdcs run safety`): interlock rules over the bus, independent
of any UI. It publishes `safety/heartbeat` (the CAEN watchdog listens to it) and the retained
`safety/status`, raises `safety.*` alarms, and on any ACTION commands the ordered safe state:
CAEN `safe_off` (HV ramp-down, then LV off), then the chiller to its safe setpoint.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from trackerdcs.bus import Message
from trackerdcs.bus import payload as pl
from trackerdcs.bus.alarms import Alarms
from trackerdcs.runtime.service import Service
from trackerdcs.safety.config import SafetyConfig
from trackerdcs.safety.levels import ACTION, OK, RANK, WARNING, grade, worst
from trackerdcs.safety.notify import Notifier

POWERED = {"LV_ON", "HV_RAMP", "HV_ON", "ERROR"}  # ERROR: power state unknown, assume on
SEVERITY = {WARNING: "MINOR", ACTION: "MAJOR"}


@dataclass
class Interlock:
    state: str = OK
    value: float | None = None
    message: str = ""
    since: float = field(default_factory=pl.now)

    def set(self, state: str, value: float | None, message: str) -> bool:
        changed = state != self.state
        if changed:
            self.since = pl.now()
        self.state, self.value, self.message = state, value, message
        return changed


@dataclass
class SensorState:
    data: dict[str, Any]
    received: float  # monotonic


class SafetyService(Service):
    section = "safety"
    default_name = "safety"
    cfg: SafetyConfig
    period = 0.25

    def __init__(self, stand: Any, name: str | None = None, bus: Any = None):
        super().__init__(stand, name, bus)
        self.alarms = Alarms(self.bus, self.name)
        a = self.cfg.actions
        self.caen = a.caen_service or (stand.caen.service_name("dcs") if stand.caen else None)
        self.chiller = a.chiller_service or (
            stand.julabo.service_name("julabo") if stand.julabo else None
        )
        sensors = stand.sensors
        self.sensors_service = sensors.service_name("sensors") if sensors else "sensors"
        self.sensor_cfg = {s.name: s for s in (sensors.sensors if sensors else [])}
        self.sensors: dict[str, SensorState] = {}
        self.caen_status: dict[str, Any] = {}
        self.chiller_status: dict[str, Any] = {}
        self.online: dict[str, bool] = {}
        self.interlocks: dict[str, Interlock] = {}
        self.started_mono = time.monotonic()
        self._lock = threading.RLock()
        self._last_beat = 0.0
        self._last_status = 0.0
        self._last_action = 0.0
        self._chiller_bad_since: float | None = None
        self._offline_since: dict[str, float] = {}
        self.state = OK
        self.notifier = Notifier(self.cfg.notify, stand.stand.name if stand.stand else "stand")
        required = self.cfg.services.required
        if required is None:
            required = [n for n in (self.caen, self.chiller) if n]
            if sensors is not None:
                required.append(self.sensors_service)
        self.required = required

    # -- wiring ----------------------------------------------------------------------------
    def setup(self) -> None:
        self.bus.subscribe(f"{self.sensors_service}/+", self._on_sensor)
        if self.caen:
            self.bus.subscribe(f"{self.caen}/status", self._on_caen)
        if self.chiller:
            self.bus.subscribe(f"{self.chiller}/status", self._on_chiller)
        self.bus.subscribe("+/online", self._on_online)
        self.bus.subscribe("alarms/+", self._on_alarm)
        self.alarms.register(self.commands)
        self.commands.add("evaluate", self._evaluate_cmd, "evaluate the rules now, return status")

    def on_connect(self) -> None:
        self.alarms.republish()
        self.publish_status()

    def shutdown(self) -> None:
        self.notifier.close()

    def _evaluate_cmd(self, cmd: Any) -> dict[str, Any]:
        self.evaluate()
        return self.status()

    # -- inputs ----------------------------------------------------------------------------
    def _json(self, msg: Message) -> dict[str, Any] | None:
        try:
            data = msg.json()
        except ValueError:
            return None
        return data if isinstance(data, dict) else None

    def _on_sensor(self, msg: Message) -> None:
        name = msg.topic.split("/", 1)[1]
        data = self._json(msg)
        if name not in self.sensor_cfg or data is None:
            return
        with self._lock:
            self.sensors[name] = SensorState(data, time.monotonic())
        # evaluate at once: this path is the interlock latency
        self.evaluate()

    def _on_caen(self, msg: Message) -> None:
        if (data := self._json(msg)) is not None:
            self.caen_status = data

    def _on_chiller(self, msg: Message) -> None:
        if (data := self._json(msg)) is not None:
            self.chiller_status = data

    def _on_online(self, msg: Message) -> None:
        self.online[msg.topic.split("/", 1)[0]] = msg.text.strip().lower() == "true"

    def _on_alarm(self, msg: Message) -> None:
        if (data := self._json(msg)) is not None:
            self.notifier.alarm(data)

    # -- rules -----------------------------------------------------------------------------
    def _sensor_age(self, name: str) -> float:
        """Seconds since the reading was taken (its own ts), or since we started."""
        s = self.sensors.get(name)
        if s is None:
            return time.monotonic() - self.started_mono
        ts = s.data.get("ts")
        if isinstance(ts, int | float):
            return max(0.0, pl.now() - ts)
        return time.monotonic() - s.received

    def _fresh(self, name: str) -> dict[str, Any] | None:
        s = self.sensors.get(name)
        if s is None or self._sensor_age(name) > self.cfg.stale.action:
            return None
        return s.data

    def _rule(self, key: str, state: str, value: float | None, message: str) -> None:
        il = self.interlocks.setdefault(key, Interlock())
        if il.set(state, value, message):
            self.log.warning("interlock %s -> %s: %s", key, state, message)
        alarm = f"{self.name}.{key}"
        if state == OK:
            self.alarms.clear(alarm)
        else:
            self.alarms.raise_(alarm, SEVERITY[state], message)

    def _prev(self, key: str) -> str:
        il = self.interlocks.get(key)
        return il.state if il else OK

    def _dewpoint_rule(self) -> None:
        r = self.cfg.dewpoint
        cold_kinds = {"coldbox", "surface", "module"}
        surfaces = r.surfaces or [n for n, c in self.sensor_cfg.items() if c.kind in cold_kinds]
        coldbox = [n for n, c in self.sensor_cfg.items() if c.kind == "coldbox"]
        air = r.air or coldbox or list(self.sensor_cfg)
        temps: list[tuple[float, str]] = []
        for n in surfaces:
            d = self._fresh(n)
            if d and isinstance(d.get("temperature"), int | float):
                temps.append((float(d["temperature"]), n))
        if r.chiller_is_surface and self.chiller and self.online.get(self.chiller, False):
            t = self.chiller_status.get("internal_temp")
            if isinstance(t, int | float):
                temps.append((float(t), f"{self.chiller} bath"))
        dews: list[tuple[float, str]] = []
        for n in air:
            d = self._fresh(n)
            if d and isinstance(d.get("dewpoint"), int | float):
                dews.append((float(d["dewpoint"]), n))
        if not temps or not dews:
            missing = "surface temperature" if not temps else "dew point"
            self._rule("dewpoint", WARNING, None, f"no current {missing}: margin unknown")
            return
        surface, sname = min(temps)
        dew, dname = max(dews)
        margin = surface - dew
        state = grade(self._prev("dewpoint"), margin, r.warning, r.action, r.hysteresis, True)
        self._rule("dewpoint", state, round(margin, 2),
                   f"margin {margin:.1f} K: coldest surface {surface:.1f} °C ({sname}), "
                   f"dew point {dew:.1f} °C ({dname})")  # fmt: skip

    def _overtemp_rule(self) -> None:
        r = self.cfg.overtemp
        for n in r.sensors or list(self.sensor_cfg):
            d = self._fresh(n)
            if not d or not isinstance(d.get("temperature"), int | float):
                continue  # the stale rule covers missing data
            t = float(d["temperature"])
            key = f"overtemp.{n}"
            state = grade(self._prev(key), t, r.warning, r.action, r.hysteresis, False)
            self._rule(key, state, t, f"{n} at {t:.1f} °C (warning {r.warning:g}, "
                                      f"action {r.action:g})")  # fmt: skip

    def _stale_rule(self) -> None:
        r = self.cfg.stale
        for n in r.sensors or list(self.sensor_cfg):
            age = self._sensor_age(n)
            state = ACTION if age > r.action else WARNING if age > r.warning else OK
            seen = "never seen" if n not in self.sensors else f"silent for {age:.0f} s"
            msg = f"sensor {n} {seen}" if state != OK else f"sensor {n} current"
            self._rule(f"stale.{n}", state, round(age, 1), msg)

    def powered(self) -> bool:
        if not self.caen or not self.online.get(self.caen, False):
            return False  # unknown; the CAEN watchdog covers a dead CAEN service
        channels = self.caen_status.get("channels") or {}
        return any(s in POWERED for s in channels.values())

    def _chiller_rule(self) -> None:
        if not self.chiller:
            return
        st = self.chiller_status
        problem = ""
        if not self.online.get(self.chiller, False):
            problem = f"{self.chiller} service offline"
        elif st.get("fsm_state") != "ON":
            problem = f"chiller {st.get('fsm_state', 'unknown')}"
            if st.get("message"):
                problem += f": {st['message']}"
        now = time.monotonic()
        if not problem or not self.powered():
            self._chiller_bad_since = None
            self._rule("chiller", OK, None, problem or "chiller running")
            return
        if self._chiller_bad_since is None:
            self._chiller_bad_since = now
        waited = now - self._chiller_bad_since
        grace = self.cfg.chiller.grace
        state = ACTION if waited >= grace else WARNING
        why = f"{problem} while modules are powered ({waited:.0f} s of {grace:g} s)"
        self._rule("chiller", state, round(waited, 1), why)

    def _services_rule(self) -> None:
        # grace after start: `online` of the others arrives as retained messages
        if time.monotonic() - self.started_mono < 3:
            return
        now = time.monotonic()
        limit = self.cfg.services.action_after
        for svc in self.required:
            if self.online.get(svc, False):
                self._offline_since.pop(svc, None)
                self._rule(f"service.{svc}", OK, None, f"{svc} online")
                continue
            gone = now - self._offline_since.setdefault(svc, now)
            state = ACTION if limit is not None and gone >= limit else WARNING
            self._rule(f"service.{svc}", state, round(gone, 1), f"{svc} offline for {gone:.0f} s")

    def evaluate(self) -> None:
        with self._lock:
            before = self.state
            if self.cfg.dewpoint.enabled:
                self._dewpoint_rule()
            if self.cfg.overtemp.enabled:
                self._overtemp_rule()
            if self.cfg.stale.enabled:
                self._stale_rule()
            if self.cfg.chiller.enabled:
                self._chiller_rule()
            if self.cfg.services.enabled:
                self._services_rule()
            self.state = worst([il.state for il in self.interlocks.values()])
            if self.state == ACTION:
                self._act(before != ACTION)
            if self.state != before:
                self.log.warning("safety %s -> %s", before, self.state)
                self.publish_status()

    # -- actions ---------------------------------------------------------------------------
    def _act(self, entering: bool) -> None:
        now = time.monotonic()
        if not entering and (
            not self.powered() or now - self._last_action < self.cfg.actions.retry
        ):
            return
        self._last_action = now
        reasons = "; ".join(f"{k}: {il.message}" for k, il in self.interlocks.items()
                            if il.state == ACTION)  # fmt: skip
        if self.caen:
            self.log.error("ACTION: safe_off on %s (%s)", self.caen, reasons)
            self._send(self.caen, "safe_off", {"reason": f"interlock: {reasons}"})
        if self.chiller and self.online.get(self.chiller, False):
            a = self.cfg.actions
            sp = self.chiller_status.get(f"setpoint_{a.chiller_setpoint}")
            if sp != a.chiller_safe_setpoint:
                body = {"setpoint": a.chiller_setpoint, "temp": a.chiller_safe_setpoint}
                self._send(self.chiller, "setWT", body)
            if self.chiller_status.get("used_setpoint") != a.chiller_setpoint:
                self._send(self.chiller, "useSP", {"setpoint": a.chiller_setpoint})

    def _send(self, service: str, command: str, body: dict[str, Any]) -> None:
        body = {"id": f"safety-{uuid.uuid4().hex[:8]}", "user": "safety", **body}
        self.bus.publish(f"{service}/cmd/{command}", body)

    # -- output ----------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        active = [k for k, il in self.interlocks.items() if il.state != OK]
        active.sort(key=lambda k: -RANK[self.interlocks[k].state])
        return {
            "state": self.state,
            "message": "; ".join(self.interlocks[k].message for k in active[:3]),
            "powered": self.powered(),
            "interlocks": {k: vars(il) for k, il in sorted(self.interlocks.items())},
        }

    def publish_status(self) -> None:
        self._last_status = time.monotonic()
        self.publish_state("status", self.status())

    def tick(self) -> None:
        self.alarms.tick()
        now = time.monotonic()
        self.evaluate()
        self.notifier.tick()
        if now - self._last_beat >= self.cfg.heartbeat_period:
            self._last_beat = now
            self.bus.publish(self.cfg.heartbeat_topic, {"state": self.state, "ts": pl.now()})
        if now - self._last_status >= 5.0:
            self.publish_status()
