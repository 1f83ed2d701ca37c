"""The switchbox service (`trackerdcs run switchbox`, topic root `SB`): a relay per module in
its LV line, switched as the reference does (`SB/cmd` with the box's own lines `LV|ON`,
`CH3|OFF`, `STATUS?`; `SB/status`) and through our commands with replies.

A relay off cuts a module's LV like a supply switched off: the module's HV comes down first
(power.lv_supply), and the master relay goes off only once every module behind it is off.
Its word on each module (`SB/modules`) is read with the supply's in series: the CAEN
refuses HV on unless both say the LV is on.
"""

from __future__ import annotations

from typing import Any

from trackerdcs.config.model import StandBase
from trackerdcs.core.bus import Message
from trackerdcs.core.commands import BadCommand, Command, OnOff, Refused, command
from trackerdcs.core.device import Link
from trackerdcs.core.publisher import StatePublisher
from trackerdcs.power import modules as mp
from trackerdcs.power.lv_supply import LvSupply, roll_up
from trackerdcs.power.routes import module_side
from trackerdcs.switchbox import protocol as p
from trackerdcs.switchbox.config import SwitchboxConfig
from trackerdcs.switchbox.device import Switchbox
from trackerdcs.switchbox.transport import BoxRefused, SwitchboxError


class SwitchboxService(LvSupply[int]):
    section = "switchbox"
    default_name = "SB"
    cfg: SwitchboxConfig

    def __init__(self, stand: StandBase, name: str | None = None):
        super().__init__(stand, name)
        self.box = Switchbox(self.cfg)
        self.link = Link(self.box, self.alarms, f"{self.name}.comm", self.cfg.poll,
                         self.publish_all, self.cfg.reconnect_max, self.log)  # fmt: skip
        # the reference's own lines on `SB/cmd` (our commands are on `SB/cmd/...`)
        self.commands.bare = self._reference_line
        self.status_pub = StatePublisher(self.bus, f"{self.name}/status")
        self.modules_pub = StatePublisher(self.bus, mp.topic(self.name))
        self.fsm_state = "INIT"

    async def main(self) -> None:
        await self.link.run()

    async def shutdown(self) -> None:
        await self.box.close()  # relays stay as they are: a restart must not cut power

    def republish(self) -> None:
        self.publish_all(force=True)

    # -- state -----------------------------------------------------------------------------
    def channel_state(self, n: int) -> str:
        passes = self.box.passes(n) if self.link.connected else None
        return "DISCONNECTED" if passes is None else ("LV_ON" if passes else "LV_OFF")

    def publish_all(self, force: bool = False) -> None:
        states = {n: self.channel_state(n) for n in self.box.relays}
        mapped = [states[n] for n, c in self.cfg.channels.items() if c.module]
        state = roll_up(mapped or list(states.values()))
        if state != self.fsm_state:
            self.log.info("switchbox -> %s", state)
        self.fsm_state = state
        self.status_pub.offer(self.status(), force)
        self.modules_pub.offer({"modules": {
            c.module: {"lv": {"LV_ON": "on", "LV_OFF": "off"}.get(states[n], "unknown"),
                       "channel": str(n)}
            for n, c in self.cfg.channels.items() if c.module
        }}, force)  # fmt: skip

    def status(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "fsm_state": self.fsm_state,
            "channels": {str(n): self.channel_state(n) for n in self.box.relays},
            "modules": {str(n): c.module for n, c in self.cfg.channels.items() if c.module},
            "sequence": self.procedures.name,
            "watchdog": self.guard.status(),
        }
        if self.link.connected:  # relay positions only as read back, never remembered
            out["lv"] = self.box.master.value
            out["relays"] = {str(n): s.value for n, s in self.box.relays.items()}
        else:
            out["message"] = self.link.error
        return out

    def publish_status(self) -> None:
        self.status_pub.offer(self.status(), force=True)

    # -- the LV supply's part -------------------------------------------------------------
    def powered(self) -> bool:
        return any(self.channel_state(n) != "LV_OFF" for n in self.box.relays)

    def lv_targets(self) -> list[int]:
        return [n for n in self.box.relays if self.box.relays[n].value is not False]

    def module_of(self, target: int) -> str | None:
        c = self.cfg.channels.get(target)
        return c.module if c else None

    def label(self, target: int) -> str:
        return f"channel {target}"

    async def cut(self, target: int) -> None:
        await self._io(str(target), False)

    # -- commands --------------------------------------------------------------------------
    def _reference_line(self, msg: Message) -> None:
        """`SB/cmd` `CH3|OFF` -> our `switch/3` `off`, answered on `SB/reply` like any."""
        line = msg.text.strip()
        try:
            name, value = ("refresh", "") if line.upper() == p.STATUS else self._translate(line)
        except ValueError as exc:
            self.commands.reject(line, msg.payload, str(exc))
            return
        self.commands.on_message(Message(f"{self.name}/cmd/{name}", value.encode(),
                                         retain=msg.retain))  # fmt: skip

    @staticmethod
    def _translate(line: str) -> tuple[str, str]:
        target, on = p.parse_command(line)
        return ("switch/lv" if target == "LV" else f"switch/{target}"), ("on" if on else "off")

    def _relay(self, cmd: Command) -> int:
        raw = cmd.args[0]
        try:
            n = int(raw)
        except ValueError:
            raise BadCommand(f"channel must be a number, got {raw!r}") from None
        if n not in self.box.relays:
            raise BadCommand(f"the box has channels 1..{self.cfg.relays}, not {n}")
        return n

    def _ready(self) -> None:
        if not self.link.connected:
            raise Refused(f"switchbox not reachable ({self.link.error})")

    async def _io(self, target: str, on: bool) -> None:
        try:
            await self.box.switch(target, on)
            await self.link.read_once()
        except BoxRefused as exc:
            raise Refused(f"the switchbox refused {p.command(target, on)}: {exc}") from None
        except SwitchboxError as exc:
            self.link.lost(str(exc))
            raise Refused(f"switchbox not reachable: {exc}") from None

    @command("switch/lv", OnOff, help="the master relay feeding every channel")
    async def switch_master(self, cmd: Command, body: OnOff) -> dict[str, Any]:
        self._ready()
        if body.value:
            self.guard.check_power_on(self.procedures.name)
            await self._io("LV", True)
            return {"lv": "on"}
        # every module behind the master loses its LV: each one's HV down first
        behind = [n for n in self.box.relays if self.box.relays[n].value]

        async def master_off() -> None:
            await self._io("LV", False)

        return {"lv": "off", **await self.lv_off(behind, after=master_off)}

    @command("switch", OnOff, help="every channel with a module")
    @command("switch/+", OnOff, help="one channel's relay")
    async def switch(self, cmd: Command, body: OnOff) -> dict[str, Any]:
        if cmd.args and cmd.args[0].lower() == "lv":
            return await self.switch_master(cmd, body)  # `switch/+` matches it too
        self._ready()
        if cmd.args:
            targets = [self._relay(cmd)]
        else:
            targets = [n for n, c in self.cfg.channels.items() if c.module]
            if not targets:
                raise Refused("no channel has a module (assign one in the stand file)")
        if body.value:
            self.guard.check_power_on(self.procedures.name)
            for n in targets:
                await self._io(str(n), True)
            return {"channels": targets, "relay": "on"}
        return {"channels": targets, "relay": "off", **await self.lv_off(targets)}

    @command("module/+/+/switch", OnOff, help="one module's LV line on/off (module power)")
    async def switch_module(self, cmd: Command, body: OnOff) -> dict[str, Any]:
        """On: the master relay (if open) and the module's relay; off: the module's relay
        alone (the master feeds the other modules too), its HV down first."""
        module, side = module_side(cmd)
        n = next((n for n, c in self.cfg.channels.items() if c.module == module), None)
        if n is None:
            known = ", ".join(str(c.module) for c in self.cfg.channels.values() if c.module)
            raise BadCommand(f"no module {module} on the switchbox; modules: {known}")
        if side != "lv":
            raise Refused(f"the switchbox is in module {module}'s LV line, not its HV")
        self._ready()
        if not body.value:
            return {"channels": [n], "relay": "off", **await self.lv_off([n])}
        self.guard.check_power_on(self.procedures.name)
        if not self.box.master.value:
            await self._io("LV", True)
        await self._io(str(n), True)
        return {"channels": [n], "relay": "on", "lv": "on"}

    @command("reconnect", help="close the port and open it again now")
    def reconnect(self, cmd: Command) -> dict[str, Any]:
        self.link.reconnect_now()
        return {"reconnecting": True}
