"""The MARTA service (`trackerdcs run marta`): the reference topics (`MARTA/cmd/...`, the
eleven commands with the reference limits; `MARTA/status` with `fsm_state`; `MARTA/alarms`),
the reference FSM from read-back, every named alarm bit through the alarm system.

Commands change the command word from what is read back at that moment. Clearing alarms
follows the plant's own sequence: both start bits to 0, then a pulse on alarm_reset. While
the PLC is unreachable no number is published (only `fsm_state: DISCONNECTED` and why).
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from trackerdcs.config.model import StandBase
from trackerdcs.core.commands import Command, Number, OnOff, Refused, command
from trackerdcs.core.device import Link
from trackerdcs.core.publisher import StatePublisher
from trackerdcs.core.service import Service
from trackerdcs.core.setpoint_guard import SetpointGuard
from trackerdcs.marta import protocol as p
from trackerdcs.marta.config import MartaConfig
from trackerdcs.marta.device import Marta
from trackerdcs.marta.transport import MartaError

RESET_PULSE = 0.5  # s alarm_reset is held


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


class MartaService(Service):
    section = "marta"
    default_name = "MARTA"
    cfg: MartaConfig

    def __init__(self, stand: StandBase, name: str | None = None):
        super().__init__(stand, name)
        self.plant = Marta(self.cfg)
        self.link = Link(self.plant, self.alarms, f"{self.name}.comm", self.cfg.poll,
                         self.publish, self.cfg.reconnect_max, self.log)  # fmt: skip
        self.status = StatePublisher(
            self.bus, f"{self.name}/status", {n: s.deadband for n, s in self.plant.values.items()}
        )
        self.alarm_topic = StatePublisher(self.bus, f"{self.name}/alarms")
        self._raised: set[str] = set()
        self.setpoints = SetpointGuard(self.cfg.dewpoint_guard, stand, self.subscribe)

    async def main(self) -> None:
        await self.link.run()

    async def shutdown(self) -> None:
        await self.plant.close()

    def republish(self) -> None:
        self.publish(force=True)

    # -- state -----------------------------------------------------------------------------
    def fsm(self) -> tuple[str, str]:
        if not self.link.connected:
            return "DISCONNECTED", self.link.error
        return self.plant.derive()

    def publish(self, force: bool = False) -> None:
        state, message = self.fsm()
        data: dict[str, Any] = {}
        names: list[str] = []
        if state != "DISCONNECTED":
            data = {n: s.value for n, s in self.plant.values.items()}
            word = self.plant.command.value or 0
            data.update(status=self.plant.status.value,
                        start_chiller=p.bit(word, p.START_CHILLER),
                        start_co2=p.bit(word, p.START_CO2),
                        flow_active=p.bit(word, p.FLOW_ACTIVE))  # fmt: skip
            names = self.plant.alarms()
            data["alarms"] = names
            self._alarms(names)
        data.update(fsm_state=state, message=message)
        self.status.offer(data, force)
        if state != "DISCONNECTED":
            self.alarm_topic.offer({"alarms": names, "fsm_state": state}, force)

    def _alarms(self, names: list[str]) -> None:
        for n in names:
            self.alarms.raise_(f"{self.name}.{_slug(n)}", "MAJOR", f"MARTA alarm: {n}")
        for gone in self._raised - set(names):
            self.alarms.clear(f"{self.name}.{_slug(gone)}")
        self._raised = set(names)

    # -- commands --------------------------------------------------------------------------
    def _ready(self) -> None:
        state, message = self.fsm()
        if state == "DISCONNECTED":
            raise Refused(f"MARTA not reachable ({message})")

    async def _io(self, what: str, job: Any) -> None:
        try:
            await job
            await self.link.read_once()
        except MartaError as exc:
            self.link.lost(str(exc))
            raise Refused(f"MARTA not reachable: {exc}") from None

    async def _bits(self, **bits: bool) -> dict[str, Any]:
        self._ready()
        await self._io("command", self.plant.set_bits(**bits))
        return {**bits, "fsm_state": self.fsm()[0]}

    @command("start_chiller", help="start the R452A chiller")
    async def start_chiller(self, cmd: Command) -> dict[str, Any]:
        state, why = self.fsm()
        if state == "ALARM":
            raise Refused(f"MARTA in ALARM ({why}): clear_alarms first")
        return await self._bits(start_chiller=True)

    @command("stop_chiller", help="stop the chiller (the CO2 circuit stops with it)")
    async def stop_chiller(self, cmd: Command) -> dict[str, Any]:
        return await self._bits(start_chiller=False, start_co2=False)

    @command("start_co2", help="start the CO2 circuit (the chiller must run)")
    async def start_co2(self, cmd: Command) -> dict[str, Any]:
        state, why = self.fsm()
        if state == "ALARM":
            raise Refused(f"MARTA in ALARM ({why}): clear_alarms first")
        if state != "CHILLER_RUNNING":
            raise Refused(f"start_co2 needs the chiller running; MARTA is {state}")
        # the CO2 will go to the set-point it has now: the same guard as a new one
        self.setpoints.check(self.plant.values["temperature_setpoint"].value,
                             "CO2 temperature set-point")  # fmt: skip
        return await self._bits(start_co2=True)

    @command("stop_co2", help="stop the CO2 circuit")
    async def stop_co2(self, cmd: Command) -> dict[str, Any]:
        return await self._bits(start_co2=False)

    @command("set_flow_active", OnOff, help="1: regulate the flow, 0: the pump speed")
    async def set_flow_active(self, cmd: Command, body: OnOff) -> dict[str, Any]:
        return await self._bits(flow_active=body.value)

    async def _setpoint(self, kind: str, value: float, lo: float, hi: float) -> dict[str, Any]:
        if why := p.check_setpoint(kind, value):
            raise Refused(why)
        if not lo <= value <= hi:
            raise Refused(f"{kind} set-point {value:g} outside the stand's limits {lo:g} .. "
                          f"{hi:g}")  # fmt: skip
        if kind == "temperature":
            now_set = self.plant.values["temperature_setpoint"].value
            self.setpoints.check(value, "CO2 temperature set-point", in_effect=now_set)
        self._ready()
        await self._io(kind, self.plant.plc.write_float(p.SETPOINTS[kind][0], value))
        return {kind: value}

    @command("set_temperature_setpoint", Number, help="CO2 supply set-point, °C (-35..25)")
    async def set_temperature(self, cmd: Command, body: Number) -> dict[str, Any]:
        c = self.cfg
        return await self._setpoint("temperature", body.value, c.temperature_min,
                                    c.temperature_max)  # fmt: skip

    @command("set_speed_setpoint", Number, help="pump speed set-point, rpm (0..6000)")
    async def set_speed(self, cmd: Command, body: Number) -> dict[str, Any]:
        return await self._setpoint("speed", body.value, 0.0, self.cfg.speed_max)

    @command("set_flow_setpoint", Number, help="CO2 flow set-point, g/s (0..5)")
    async def set_flow(self, cmd: Command, body: Number) -> dict[str, Any]:
        return await self._setpoint("flow", body.value, 0.0, self.cfg.flow_max)

    @command("clear_alarms", help="both circuits off, then a pulse on alarm_reset")
    async def clear_alarms(self, cmd: Command) -> dict[str, Any]:
        self._ready()
        await self._io("reset", self.plant.set_bits(start_chiller=False, start_co2=False,
                                                    alarm_reset=True))  # fmt: skip
        await asyncio.sleep(RESET_PULSE)
        await self._io("reset", self.plant.set_bits(alarm_reset=False))
        state, why = self.fsm()
        if state == "ALARM":
            raise Refused(f"alarms still present after the reset: {why}")
        return {"fsm_state": state}

    @command("refresh", role="viewer", help="read everything again and republish")
    async def refresh(self, cmd: Command) -> dict[str, Any]:
        if self.link.connected:
            try:
                await self.link.read_once()
            except MartaError as exc:
                self.link.lost(str(exc))
        self.on_connect()
        return {"fsm_state": self.fsm()[0]}

    @command("reconnect", help="close and reopen the Modbus connection")
    def reconnect(self, cmd: Command) -> dict[str, Any]:
        self.link.reconnect_now()
        return {"reconnecting": f"{self.cfg.host}:{self.cfg.port}"}
