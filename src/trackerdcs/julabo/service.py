"""The chiller service (`trackerdcs run julabo`): reference commands, FSM, limits, alarms.

The state always comes from the unit's own STATUS answer; after a reconnect it is read
again, never assumed, and while the unit is unreachable no number is published (only
`fsm_state: DISCONNECTED` and why). Setpoints outside the stand-file limits, or too close to
the dew point of the configured sensors, are refused with the reason.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from trackerdcs.config.model import StandBase
from trackerdcs.core.commands import Command, Refused, command
from trackerdcs.core.device import Link
from trackerdcs.core.publisher import StatePublisher
from trackerdcs.core.service import Service
from trackerdcs.core.setpoint_guard import SetpointGuard
from trackerdcs.julabo import protocol
from trackerdcs.julabo.config import JulaboConfig
from trackerdcs.julabo.device import Chiller
from trackerdcs.julabo.transport import JulaboError


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

    def __init__(self, stand: StandBase, name: str | None = None):
        super().__init__(stand, name)
        self.chiller = Chiller(self.cfg)
        self.link = Link(self.chiller, self.alarms, f"{self.name}.comm", self.cfg.poll,
                         self.publish, self.cfg.reconnect_max, self.log)  # fmt: skip
        self.status = StatePublisher(
            self.bus,
            f"{self.name}/status",
            {s.name: s.deadband for s in self.chiller.signals().values()},
        )
        self.setpoints = SetpointGuard(self.cfg.dewpoint_guard, stand, self.subscribe)

    async def main(self) -> None:
        await self.link.run()

    async def shutdown(self) -> None:
        await self.chiller.close()

    def republish(self) -> None:
        self.publish(force=True)

    # -- state -----------------------------------------------------------------------------
    def fsm(self) -> tuple[str, str]:
        if not self.link.connected:
            return "DISCONNECTED", self.link.error
        return self.chiller.derive()

    def publish(self, force: bool = False) -> None:
        state, message = self.fsm()
        data: dict[str, Any] = {}
        if state != "DISCONNECTED":
            data = {n: s.value for n, s in self.chiller.signals().items()}
        data.update(fsm_state=state, message=message, port=self.cfg.port)
        code = self.chiller.status_code.value
        if code is not None and code < 0:
            self.alarms.raise_(f"{self.name}.alarm", "MAJOR", f"chiller {message}")
        elif code is not None:
            self.alarms.clear(f"{self.name}.alarm")
        self.status.offer(data, force)

    # -- commands --------------------------------------------------------------------------
    async def _write(self, line: str, result: dict[str, Any]) -> dict[str, Any]:
        state, message = self.fsm()
        if state == "DISCONNECTED":
            raise Refused(f"chiller not reachable ({message})")
        if state == "ERROR":
            raise Refused(f"chiller in ERROR: {message}")
        try:
            await self.chiller.write(line)
            await self.link.read_once()
        except JulaboError as exc:
            self.link.lost(str(exc))
            raise Refused(f"chiller not reachable: {exc}") from None
        return result

    def _in_effect(self) -> float | None:
        """The set-point the bath regulates to now (when it is running)."""
        if not self.chiller.running.value:
            return None  # a stopped bath regulates to nothing: every set-point is checked
        return self._setpoint(self.chiller.used_setpoint.value)

    def _setpoint(self, index: int | None) -> float | None:
        signal = getattr(self.chiller, f"setpoint_{index}", None) if index else None
        return signal.value if signal is not None else None

    @command("setWT", SetWT, help="{'setpoint': 1..3, 'temp': °C}")
    async def set_wt(self, cmd: Command, body: SetWT) -> dict[str, Any]:
        lo, hi = self.cfg.setpoint_min, self.cfg.setpoint_max
        if not lo <= body.temp <= hi:
            raise Refused(f"setpoint {body.temp:g} °C outside limits {lo:g}..{hi:g} °C")
        self.setpoints.check(body.temp, in_effect=self._in_effect())
        return await self._write(protocol.set_setpoint(body.setpoint, body.temp),
                                 {"setpoint": body.setpoint, "temp": body.temp})  # fmt: skip

    @command("useSP", UseSP, help="{'setpoint': 1..3}")
    async def use_sp(self, cmd: Command, body: UseSP) -> dict[str, Any]:
        self.setpoints.check(self._setpoint(body.setpoint), in_effect=self._in_effect())
        return await self._write(protocol.use_setpoint(body.setpoint), {"setpoint": body.setpoint})

    @command("setPress", SetPress, help="{'press': stage}")
    async def set_press(self, cmd: Command, body: SetPress) -> dict[str, Any]:
        lo, hi = self.cfg.pressure_stages
        if not lo <= body.press <= hi:
            raise Refused(f"pressure stage {body.press} outside {lo}..{hi}")
        return await self._write(protocol.set_pressure(body.press), {"press": body.press})

    @command("start", help="start the circulator")
    async def start(self, cmd: Command) -> dict[str, Any]:
        self.setpoints.check(self._setpoint(self.chiller.used_setpoint.value))
        return await self._write(protocol.set_running(True), {"running": True})

    @command("stop", help="stop the circulator")
    async def stop_unit(self, cmd: Command) -> dict[str, Any]:
        return await self._write(protocol.set_running(False), {"running": False})

    @command("useExt", help="control on the external Pt100")
    async def use_ext(self, cmd: Command) -> dict[str, Any]:
        return await self._write(protocol.set_external(True), {"ext_is_used": True})

    @command("useInt", help="control on the bath sensor")
    async def use_int(self, cmd: Command) -> dict[str, Any]:
        return await self._write(protocol.set_external(False), {"ext_is_used": False})

    @command("refresh", role="viewer", help="read everything again and republish")
    async def refresh(self, cmd: Command) -> dict[str, Any]:
        if self.link.connected:
            try:
                await self.link.read_once()
            except JulaboError as exc:
                self.link.lost(str(exc))
        self.on_connect()
        return {"fsm_state": self.fsm()[0]}

    @command("reconnect", help="close and reopen the port")
    def reconnect(self, cmd: Command) -> dict[str, Any]:
        self.link.reconnect_now()
        return {"reconnecting": self.cfg.port}
