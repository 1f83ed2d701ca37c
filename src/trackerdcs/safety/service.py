"""The safety service (`trackerdcs run safety`): interlock rules over the bus, independent
of any UI. It publishes `safety/heartbeat` (the power services' watchdogs listen to it) and
the retained `safety/status`, raises `safety.*` alarms, and on any ACTION commands the
ordered safe state on every power service of the stand (`safe_off`: HV ramp-down, then LV
off), then every cooling service to its safe set-point. Its peers come from the stand file
and the family registry, by role.
"""

from __future__ import annotations

import time
from typing import Any

from trackerdcs.config.model import StandBase
from trackerdcs.core import contracts, peers
from trackerdcs.core import payload as pl
from trackerdcs.core.bus import Message
from trackerdcs.core.commands import Command, command
from trackerdcs.core.ordering import Newest
from trackerdcs.core.service import Service
from trackerdcs.power.modules import hv_services
from trackerdcs.safety.config import SafetyConfig
from trackerdcs.safety.levels import ACTION, OK, RANK, WARNING, worst
from trackerdcs.safety.notify import Notifier
from trackerdcs.safety.rules import (
    Chiller,
    Dewpoint,
    Overtemp,
    Rule,
    Services,
    Stale,
    Verdict,
    View,
    door,
)

SEVERITY = {WARNING: "MINOR", ACTION: "MAJOR"}


class SafetyService(Service):
    section = "safety"
    default_name = "safety"
    cfg: SafetyConfig

    def __init__(self, stand: StandBase, name: str | None = None):
        super().__init__(stand, name)
        a = self.cfg.actions
        self.power = [a.caen_service] if a.caen_service else peers.power(stand)
        # the door cares for HV only: an LV supply in ERROR (an OVP trip) does not close it
        self.hv_power = [a.caen_service] if a.caen_service else hv_services(stand)
        self.cooling = [a.chiller_service] if a.chiller_service else peers.cooling(stand)
        self.environment = peers.environment(stand) or ["sensors"]
        sensors = stand.section("sensors")
        kinds = {s.name: s.kind for s in (sensors.sensors if sensors else [])}
        self.heartbeat_topic = peers.heartbeat_topic(stand)
        self.started_mono = time.monotonic()
        self.newest = Newest()
        self.view = View(
            now=pl.now(),
            uptime=0.0,
            kinds=kinds,
            stale_after=self.cfg.stale.action,
            stale_warning=self.cfg.stale.warning,
            cooling_contracts=peers.cooling_contracts(stand),
        )
        required = self.cfg.services.required
        if required is None:
            required = [*self.power, *self.cooling] + (self.environment if sensors else [])
        c = self.cfg
        self.rules: list[tuple[bool, Rule]] = [
            (c.dewpoint.enabled, Dewpoint(c.dewpoint)),
            (c.overtemp.enabled, Overtemp(c.overtemp)),
            (c.stale.enabled, Stale(c.stale)),
            (c.chiller.enabled, Chiller(c.chiller, self.cooling)),
            (c.services.enabled, Services(c.services, required)),
        ]
        self.interlocks: dict[str, dict[str, Any]] = {}
        self.state = OK
        self._last_action = 0.0
        self._door_last: tuple[bool, list[str]] | None = None
        self.notifier = Notifier(self.cfg.notify, stand.stand.name)
        for env in self.environment:
            self.subscribe(f"{env}/+", self._on_sensor)
        for svc in self.power:
            self.subscribe(f"{svc}/status", self._on_power)
            self.bus.expect_replies(svc)
        for svc in self.cooling:
            self.subscribe(f"{svc}/status", self._on_cooling)
            self.bus.expect_replies(svc)
        self.subscribe("+/online", self._on_online)
        self.subscribe("alarms/+", self._on_alarm)
        self.every(0.25, self.evaluate)
        self.every(self.cfg.heartbeat_period, self._beat)
        self.every(1.0, self.notifier.tick)

    def republish(self) -> None:
        self.publish_status()
        self._door(force=True)

    async def shutdown(self) -> None:
        self.notifier.close()

    @command("evaluate", role="viewer", help="evaluate the rules now, return status")
    def evaluate_cmd(self, cmd: Command) -> dict[str, Any]:
        self.evaluate()
        return self.status()

    # -- inputs ----------------------------------------------------------------------------
    def _on_sensor(self, msg: Message) -> None:
        source, name = msg.topic.split("/", 1)
        if name not in self.view.kinds:
            return
        reading = contracts.parse(contracts.Reading, msg.payload)
        if reading is None:
            return
        if not self.newest.accept(msg.topic, reading.ts):
            return  # older than what we have: a queued message delivered late
        self.view.readings[name] = reading
        self.view.sources[name] = source
        self.evaluate()  # at once: this path is the interlock latency

    def _on_power(self, msg: Message) -> None:
        status = contracts.parse(contracts.PowerStatus, msg.payload)
        if status is not None and self.newest.accept(msg.topic, status.ts):
            self.view.power[msg.topic.split("/", 1)[0]] = status

    def _on_cooling(self, msg: Message) -> None:
        status = contracts.parse(contracts.ChillerStatus, msg.payload)
        if status is not None and self.newest.accept(msg.topic, status.ts):
            self.view.cooling[msg.topic.split("/", 1)[0]] = status

    def _on_online(self, msg: Message) -> None:
        svc, up = msg.topic.split("/", 1)[0], msg.text.strip().lower() == "true"
        self.view.online[svc] = up
        if up:
            self.view.ever_online.add(svc)

    def _on_alarm(self, msg: Message) -> None:
        if (alarm := contracts.parse(contracts.AlarmState, msg.payload)) is not None:
            self.notifier.alarm(alarm)

    # -- evaluation ------------------------------------------------------------------------
    def _apply(self, v: Verdict) -> None:
        il = self.interlocks.get(v.key)
        if il is None or il["state"] != v.state:
            if il is not None or v.state != OK:
                self.log.warning("interlock %s -> %s: %s", v.key, v.state, v.message)
            il = {"state": v.state, "since": pl.now()}
            self.interlocks[v.key] = il
        il.update(value=v.value, message=v.message)
        self.alarms.set(f"{self.name}.{v.key}", SEVERITY.get(v.state, "OK"), v.message)

    def evaluate(self) -> None:
        self.view.now = pl.now()
        self.view.uptime = time.monotonic() - self.started_mono
        previous = {k: il["state"] for k, il in self.interlocks.items()}
        for enabled, rule in self.rules:
            if enabled:
                for verdict in rule.evaluate(self.view, previous):
                    self._apply(verdict)
        before = self.state
        self.state = worst([il["state"] for il in self.interlocks.values()])
        if self.state == ACTION:
            self._act(before != ACTION)
        if self.state != before:
            self.log.warning("safety %s -> %s", before, self.state)
            self.publish_status()
        self._door()

    def _door(self, force: bool = False) -> None:
        """The cold-room door: `true`/`false` retained on its topic, the reasons beside it."""
        d = self.cfg.door
        if d is None:
            return
        safe, why = door(self.view, d, self.hv_power)
        if self.view.uptime < self.cfg.stale.warning:
            safe, why = False, ["safety just started: waiting for current data"]
        if force or (safe, why) != self._door_last:
            if safe != (self._door_last or (None,))[0]:
                self.log.info("cold-room door %s", "safe to open" if safe else
                              f"not safe to open: {'; '.join(why)}")  # fmt: skip
            self._door_last = (safe, why)
            self.bus.publish(d.topic, b"true" if safe else b"false", retain=True)
            self.bus.publish_state(f"{d.topic}/why", {"safe_to_open": safe, "why": why})

    # -- actions ---------------------------------------------------------------------------
    def _act(self, entering: bool) -> None:
        now = time.monotonic()
        if not entering and (
            not self.view.powered() or now - self._last_action < self.cfg.actions.retry
        ):
            return
        self._last_action = now
        reasons = "; ".join(f"{k}: {il['message']}" for k, il in self.interlocks.items()
                            if il["state"] == ACTION)  # fmt: skip
        for svc in self.power:
            self.log.error("ACTION: safe_off on %s (%s)", svc, reasons)
            self._send(svc, "safe_off", {"reason": f"interlock: {reasons}"})
        a = self.cfg.actions
        for svc in self.cooling:
            if not self.view.online.get(svc, False):
                continue
            st = self.view.cooling.get(svc, contracts.ChillerStatus())
            contract = self.view.contract(svc)
            for name, body in contract.safe_orders(a.chiller_safe_setpoint, a.chiller_setpoint,
                                                   st.fields()):  # fmt: skip
                self._send(svc, name, body)

    def _send(self, service: str, name: str, body: Any) -> None:
        self.spawn(self._order(service, name, body), f"{service}/{name}")

    async def _order(self, service: str, name: str, body: Any) -> None:
        """Send an order and log what became of it: a refused safe_off must be seen."""
        try:
            reply = await self.bus.request(service, name, body, self.cfg.actions.retry)
        except (TimeoutError, ConnectionError) as exc:
            self.log.error("%s/%s: no reply (%s)", service, name, exc or "timeout")
            return
        if not reply.get("ok"):
            self.log.error("%s refused %s: %s", service, name, reply.get("error"))

    # -- output ----------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        active = [k for k, il in self.interlocks.items() if il["state"] != OK]
        active.sort(key=lambda k: -RANK[self.interlocks[k]["state"]])
        return {
            "state": self.state,
            "message": "; ".join(self.interlocks[k]["message"] for k in active[:3]),
            "powered": self.view.powered(),
            "interlocks": {k: {"state": il["state"], "value": il["value"],
                               "message": il["message"], "since": il["since"]}
                           for k, il in sorted(self.interlocks.items())},
        }  # fmt: skip

    def publish_status(self) -> None:
        self.publish_state("status", self.status())

    def _beat(self) -> None:
        self.bus.publish(self.heartbeat_topic, {"state": self.state, "ts": pl.now()})
