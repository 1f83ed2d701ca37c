"""The chiller service (`trackerdcs run julabo`): reference commands, FSM, limits, alarms.

The state always comes from the unit's own STATUS answer; after a reconnect it is read
again, never assumed. Setpoints outside the stand-file limits, or too close to the dew
point of the configured sensors, are refused with the reason.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from pydantic import BaseModel, Field
from transitions import Machine

from trackerdcs.bus import Command, Message, Refused
from trackerdcs.bus.alarms import Alarms
from trackerdcs.julabo.config import JulaboConfig
from trackerdcs.julabo.driver import Julabo, JulaboError
from trackerdcs.runtime.service import Service

STATES = ["DISCONNECTED", "CONNECTED", "OFF", "ON", "ERROR"]


class SetWT(BaseModel):
    setpoint: int = Field(ge=1, le=3)
    temp: float


class UseSP(BaseModel):
    setpoint: int = Field(ge=1, le=3)


class SetPress(BaseModel):
    press: int


class JulaboService(Service):
    section = "julabo"
    default_name = "julabo"
    cfg: JulaboConfig
    state: str

    def __init__(self, stand: Any, name: str | None = None, bus: Any = None):
        super().__init__(stand, name, bus)
        self.period = min(self.cfg.poll, 0.5)
        self.driver = Julabo(self.cfg)
        self.alarms = Alarms(self.bus, self.name)
        self.machine = Machine(model=self, states=STATES, initial="DISCONNECTED",
                               auto_transitions=True)  # fmt: skip
        self.values: dict[str, Any] = {}
        self.message = "not connected yet"
        self._io = threading.RLock()
        self._commands_waiting = 0
        self._next_try = 0.0
        self._backoff = 1.0
        self._next_poll = 0.0
        self.dewpoints: dict[str, tuple[float, float]] = {}

    def setup(self) -> None:
        c = self.commands
        c.add("start", self.start, "start the circulator")
        c.add("stop", self.stop_unit, "stop the circulator")
        c.add("setWT", self.set_wt, "{'setpoint': 1..3, 'temp': °C}")
        c.add("useSP", self.use_sp, "{'setpoint': 1..3}")
        c.add("setPress", self.set_press, "{'press': stage}")
        c.add("useExt", lambda cmd: self._write("OUT_MODE_04 1", {"ext_is_used": True}))
        c.add("useInt", lambda cmd: self._write("OUT_MODE_04 0", {"ext_is_used": False}))
        c.add("refresh", self.refresh, "read everything again and republish")
        c.add("reconnect", self.reconnect, "close and reopen the port")
        self.alarms.register(c)
        if self.cfg.dewpoint_guard is not None:
            self.bus.subscribe("sensors/+", self._on_sensor)

    def on_connect(self) -> None:
        self.publish()
        self.alarms.republish()

    def shutdown(self) -> None:
        self.driver.close()

    # -- connection and polling ------------------------------------------------------------
    def tick(self) -> None:
        self.alarms.tick()
        now = time.monotonic()
        if self._commands_waiting:
            return  # an operator command goes before routine polling
        with self._io:
            if not self.driver.is_open:
                if now < self._next_try:
                    return
                try:
                    self.driver.open()
                    version = self.driver.query("VERSION")
                except JulaboError as exc:
                    self._lost(str(exc), now)
                    return
                self.log.info("connected to %s: %s", self.cfg.port, version)
                self.to_CONNECTED()
                self._backoff = 1.0
                self.alarms.clear(f"{self.name}.comm")
                self._next_poll = 0.0
            if now >= self._next_poll:
                self.poll()
                # from the end of the poll: a slow line must not turn polling continuous
                self._next_poll = time.monotonic() + self.cfg.poll

    def _lost(self, why: str, now: float) -> None:
        self.driver.close()
        if self.state != "DISCONNECTED":
            self.log.error("chiller lost: %s", why)
        self.to_DISCONNECTED()
        self.message = why
        self.alarms.raise_(f"{self.name}.comm", "INVALID", f"chiller Disconnected: {why}")
        self._next_try = now + self._backoff
        self._backoff = min(self._backoff * 2, self.cfg.reconnect_max)
        self.publish()

    def poll(self) -> None:
        """Read the unit's whole state; a failure means DISCONNECTED, never a guess."""
        try:
            code, text = self.driver.status()
            d = self.driver
            v = {
                "status_code": code,
                "status_text": text,
                "internal_temp": d.query_float("IN_PV_00"),
                "power": d.query_float("IN_PV_01"),
                "external_temp": d.query_float("IN_PV_02"),
                "setpoint_1": d.query_float("IN_SP_00"),
                "setpoint_2": d.query_float("IN_SP_01"),
                "setpoint_3": d.query_float("IN_SP_02"),
                "used_setpoint": int(d.query_float("IN_MODE_01")) + 1,
                "ext_is_used": d.query_float("IN_MODE_04") == 1,
                "running": d.query_float("IN_MODE_05") == 1,
            }
        except JulaboError as exc:
            self._lost(str(exc), time.monotonic())
            return
        self.values = v
        self._apply_status(code, text)
        self.publish()

    def _apply_status(self, code: int, text: str) -> None:
        name = f"{self.name}.alarm"
        if code < 0:
            msg = self.cfg.alarm_codes.get(code, text or "unknown alarm")
            self.message = f"alarm {code}: {msg}"
            self.to_ERROR()
            self.alarms.raise_(name, "MAJOR", f"chiller {self.message}")
            return
        self.alarms.clear(name)
        if code in (0, 1):
            self.message = f"{text}: unit in MANUAL mode, remote control disabled"
            self.to_ERROR()
        elif code == 3:
            self.message = ""
            self.to_ON()
        else:
            self.message = ""
            self.to_OFF()

    def publish(self) -> None:
        self.publish_state("status", {**self.values, "fsm_state": self.state,
                                      "message": self.message, "port": self.cfg.port})  # fmt: skip

    # -- commands --------------------------------------------------------------------------
    def _require_remote(self) -> None:
        if self.state == "DISCONNECTED":
            raise Refused(f"chiller not reachable ({self.message})")
        if self.state == "ERROR":
            raise Refused(f"chiller in ERROR: {self.message}")

    def _write(self, line: str, result: dict[str, Any]) -> dict[str, Any]:
        self._require_remote()
        self._commands_waiting += 1
        with self._io:
            self._commands_waiting -= 1
            try:
                self.driver.write(line)
            except JulaboError as exc:
                self._lost(str(exc), time.monotonic())
                raise Refused(f"chiller not reachable: {exc}") from None
            self.poll()
        return result

    def _on_sensor(self, msg: Message) -> None:
        try:
            data = msg.json()
        except ValueError:
            return
        if isinstance(data, dict) and isinstance(data.get("dewpoint"), int | float):
            name = msg.topic.split("/", 1)[1]
            self.dewpoints[name] = (float(data["dewpoint"]), time.monotonic())

    def _dewpoint_check(self, temp: float) -> None:
        guard = self.cfg.dewpoint_guard
        if guard is None:
            return
        now = time.monotonic()
        fresh = {
            n: dp
            for n, (dp, t) in self.dewpoints.items()
            if now - t <= guard.max_age and (not guard.sensors or n in guard.sensors)
        }
        if not fresh:
            raise Refused("no fresh dew point from the sensors: cannot check the margin")
        name, dp = max(fresh.items(), key=lambda kv: kv[1])
        if temp < dp + guard.margin:
            raise Refused(
                f"setpoint {temp:g} °C is below dew point {dp:.1f} °C ({name}) + margin "
                f"{guard.margin:g} K"
            )

    def set_wt(self, cmd: Command) -> dict[str, Any]:
        req = cmd.model(SetWT)
        lo, hi = self.cfg.setpoint_min, self.cfg.setpoint_max
        if not lo <= req.temp <= hi:
            raise Refused(f"setpoint {req.temp:g} °C outside limits {lo:g}..{hi:g} °C")
        self._dewpoint_check(req.temp)
        return self._write(f"OUT_SP_0{req.setpoint - 1} {req.temp:.2f}",
                           {"setpoint": req.setpoint, "temp": req.temp})  # fmt: skip

    def use_sp(self, cmd: Command) -> dict[str, Any]:
        req = cmd.model(UseSP)
        current = self.values.get(f"setpoint_{req.setpoint}")
        if isinstance(current, float):
            self._dewpoint_check(current)
        return self._write(f"OUT_MODE_01 {req.setpoint - 1}", {"setpoint": req.setpoint})

    def set_press(self, cmd: Command) -> dict[str, Any]:
        req = cmd.model(SetPress)
        lo, hi = self.cfg.pressure_stages
        if not lo <= req.press <= hi:
            raise Refused(f"pressure stage {req.press} outside {lo}..{hi}")
        return self._write(f"OUT_SP_07 {req.press}", {"press": req.press})

    def start(self, cmd: Command) -> dict[str, Any]:
        used = self.values.get("used_setpoint")
        sp = self.values.get(f"setpoint_{used}")
        if isinstance(sp, float):
            self._dewpoint_check(sp)
        return self._write("OUT_MODE_05 1", {"running": True})

    def stop_unit(self, cmd: Command) -> dict[str, Any]:
        return self._write("OUT_MODE_05 0", {"running": False})

    def refresh(self, cmd: Command) -> dict[str, Any]:
        with self._io:
            if self.driver.is_open:
                self.poll()
            else:
                self.publish()
        self.alarms.republish()
        return {"fsm_state": self.state}

    def reconnect(self, cmd: Command) -> dict[str, Any]:
        with self._io:
            self.driver.close()
            self._next_try = 0.0
            self._backoff = 1.0
        return {"reconnecting": self.cfg.port}
