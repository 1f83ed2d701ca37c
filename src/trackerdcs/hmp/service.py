"""The HMP service (`trackerdcs run hmp`, topic root `hmp4040`): module LV from an HMP
supply, on the power layer every supply shares (limits, power-on guard, watchdog, ordered
safe-off) and in HV-before-LV order with the supply that gives the same modules their HV.

Before an output with a module goes off, that module's HV must be down: where another
service reports it on, we ask that service to switch it off (`switch/hv/<channel>`) and
wait for its word that it is down; where its state is unknown (the HV service silent or
offline), an operator's LV off is refused and a safe-off keeps the LV on with a MAJOR alarm
(HV on a module without LV damages it; LV left on does not).

The Lyon fork's topics are answered too: commands on `/hmp4040/cmd/...` (leading slash)
and the state mirrored on `/hmp4040/status`.
"""

from __future__ import annotations

from typing import Any

from trackerdcs.config.model import StandBase
from trackerdcs.core.commands import BadCommand, Command, Number, OnOff, Refused, command
from trackerdcs.core.device import Link
from trackerdcs.core.publisher import StatePublisher
from trackerdcs.hmp import protocol as p
from trackerdcs.hmp.config import HmpConfig
from trackerdcs.hmp.device import Hmp, Output
from trackerdcs.hmp.transport import HmpError, InstrumentRefused
from trackerdcs.power import limits
from trackerdcs.power import modules as mp
from trackerdcs.power.lv_supply import LvSupply, roll_up
from trackerdcs.power.routes import module_side

DEADBANDS = {"vmon": 0.02, "imon": 0.005, "vset": 0.001, "iset": 0.0005, "ovp": 0.001}


class HmpService(LvSupply[Output]):
    section = "hmp"
    default_name = "hmp4040"
    cfg: HmpConfig

    def __init__(self, stand: StandBase, name: str | None = None):
        super().__init__(stand, name)
        self.supply = Hmp(self.cfg)
        self.link = Link(self.supply, self.alarms, f"{self.name}.comm", self.cfg.poll,
                         self._changed, self.cfg.reconnect_max, self.log)  # fmt: skip
        # the Lyon fork's topics have a leading slash
        self.subscribe(f"/{self.name}/cmd/#", self.commands.on_message)
        self.outputs = self.supply.outputs
        self.channel_pub = {
            cid: StatePublisher(self.bus, f"{self.name}/channel/{cid}", DEADBANDS)
            for cid in self.outputs
        }
        self.modules_pub = StatePublisher(self.bus, mp.topic(self.name))
        self.lyon_pub = StatePublisher(self.bus, f"/{self.name}/status", DEADBANDS)
        self.fsm_state = "INIT"
        self._was_connected = False

    async def main(self) -> None:
        await self.link.run()

    async def shutdown(self) -> None:
        # leaving the outputs as they are is deliberate: a service restart must not cut power
        await self.supply.close()

    def republish(self) -> None:
        self.publish_all(force=True)

    # -- state -----------------------------------------------------------------------------
    def _changed(self) -> None:
        if self.link.connected and not self._was_connected:
            self.spawn(self._push_settings(), "settings")
        self._was_connected = self.link.connected
        for o in self.outputs.values():
            self._trip_alarm(o)
        self.publish_all()

    async def _push_settings(self) -> None:
        """The stand file's set values at every connect; never an output (nothing switches
        on by itself)."""
        for cid, oc in self.cfg.channels.items():
            for what in ("voltage", "current", "ovp"):
                value = getattr(oc, what)
                if value is None:
                    continue
                try:
                    await self.supply.set(cid, what, value)
                except (HmpError, InstrumentRefused) as exc:
                    self.log.warning("settings of output %s: %s", cid, exc)

    def state_of(self, o: Output) -> tuple[str, str]:
        return o.state(self.link.connected)

    def _trip_alarm(self, o: Output) -> None:
        name = f"{self.name}.ch{o.id}"
        if o.tripped:
            ovp = o.get("ovp")
            self.alarms.raise_(name, "MAJOR", f"output {o.id} ({o.module or 'no module'}): "
                               f"over-voltage protection tripped (OVP {ovp:g} V); the output "
                               "is off until cleared")  # fmt: skip
        elif o.tripped is False:
            self.alarms.clear(name)

    def detail(self, o: Output) -> dict[str, Any]:
        state, reason = self.state_of(o)
        out: dict[str, Any] = {"id": o.id, "module": o.module, "active": bool(o.module)}
        if state != "DISCONNECTED":  # no number from a supply that does not answer
            out.update({n: o.get(n) for n in p.READ})
            out["output"] = o.on
            out["ovp_tripped"] = o.tripped
            out["mode"] = o.mode()
        out.update(fsm_state=state, reason=reason)
        return out

    def _lv_word(self, o: Output) -> mp.SideState:
        state, _why = self.state_of(o)
        if state == "DISCONNECTED":
            return "unknown"
        return "on" if o.on else "off"

    def publish_all(self, force: bool = False) -> None:
        details = {cid: self.detail(o) for cid, o in self.outputs.items()}
        for cid, d in details.items():
            self.channel_pub[cid].offer(d, force)
        self.modules_pub.offer({"modules": {
            o.module: {"lv": self._lv_word(o), "channel": str(o.id)}
            for o in self.outputs.values() if o.module
        }}, force)  # fmt: skip
        active = [d["fsm_state"] for d in details.values() if d["active"]]
        state = roll_up(active or [d["fsm_state"] for d in details.values()])
        if state != self.fsm_state:
            self.log.info("supply -> %s", state)
        changed = force or state != self.fsm_state
        self.fsm_state = state
        if changed:
            self.publish_status()
        self.lyon_pub.offer({"fsm_state": state, **{f"ch{c}": d for c, d in details.items()}},
                            force)  # fmt: skip

    def publish_status(self) -> None:
        self.publish_state("status", self.status())

    def status(self) -> dict[str, Any]:
        return {
            "fsm_state": self.fsm_state,
            "model": self.cfg.model,
            "channels": {str(c): self.state_of(o)[0] for c, o in self.outputs.items()},
            "sequence": self.procedures.name,
            "watchdog": self.guard.status(),
        }

    # -- the LV supply's part -------------------------------------------------------------
    def powered(self) -> bool:
        return any(o.on is not False for o in self.outputs.values())

    def lv_targets(self) -> list[Output]:
        return [o for o in self.outputs.values() if o.on is not False]

    def module_of(self, target: Output) -> str | None:
        return target.module

    def label(self, target: Output) -> str:
        return f"output {target.id}"

    async def cut(self, target: Output) -> None:
        await self._io(self.supply.switch(target.id, False))

    # -- commands --------------------------------------------------------------------------
    def _output(self, cmd: Command) -> Output:
        raw = cmd.args[0]
        try:
            cid = int(raw)
        except ValueError:
            raise BadCommand(f"output must be a number, got {raw!r}") from None
        if cid not in self.outputs:
            raise BadCommand(f"the {self.cfg.model} has outputs 1..{len(self.outputs)}, "
                             f"not {cid}")  # fmt: skip
        return self.outputs[cid]

    def _ready(self) -> None:
        if not self.link.connected:
            raise Refused(f"{self.cfg.model} not reachable ({self.link.error})")

    async def _io(self, job: Any) -> None:
        try:
            await job
            await self.link.read_once()
        except InstrumentRefused as exc:
            raise Refused(f"the {self.cfg.model} refused it: {exc}") from None
        except HmpError as exc:
            self.link.lost(str(exc))
            raise Refused(f"{self.cfg.model} not reachable: {exc}") from None

    @command("switch", OnOff, help="every output with a module on/off")
    @command("switch/+", OnOff, help="one output on/off")
    async def switch(self, cmd: Command, body: OnOff) -> dict[str, Any]:
        if cmd.args:
            targets = [self._output(cmd)]
        else:
            targets = [o for o in self.outputs.values() if o.module]
            if not targets:
                raise Refused("no output has a module (assign one in the stand file)")
        return await self._switch(targets, body.value)

    @command("module/+/+/switch", OnOff, help="one module's LV on/off (module power)")
    async def switch_module(self, cmd: Command, body: OnOff) -> dict[str, Any]:
        module, side = module_side(cmd)
        target = next((o for o in self.outputs.values() if o.module == module), None)
        if target is None:
            known = ", ".join(str(o.module) for o in self.outputs.values() if o.module)
            raise BadCommand(f"no module {module} on the {self.cfg.model}; modules: {known}")
        if side != "lv":
            raise Refused(f"the {self.cfg.model} gives module {module} its LV, not its HV")
        return await self._switch([target], body.value)

    async def _switch(self, targets: list[Output], on: bool) -> dict[str, Any]:
        ids = [o.id for o in targets]
        self._ready()
        if on:
            self.guard.check_power_on(self.procedures.name)
            states = {o.id: self.state_of(o) for o in targets}
            problems = [f"output {c}: {why}" for c, (s, why) in states.items() if s == "ERROR"]
            if problems:
                raise Refused("; ".join(problems) + ": clear first")
            for o in targets:
                await self._io(self.supply.switch(o.id, True))
            return {"outputs": ids, "lv": "on"}
        return {"outputs": ids, "lv": "off", **await self.lv_off(targets)}

    async def _set(self, cmd: Command, what: str, value: float) -> dict[str, Any]:
        o = self._output(cmd)
        vtop, itop = self.cfg.top(o.id)
        if what == "voltage":
            limits.check(f"output {o.id} voltage", value, vtop, "V")
            ovp = o.get("ovp")
            if ovp is not None and value >= ovp:
                raise Refused(f"output {o.id} voltage {value:g} V is at or above its OVP of "
                              f"{ovp:g} V: it would trip; raise the OVP first")  # fmt: skip
        elif what == "current":
            limits.check(f"output {o.id} current limit", value, itop, "A")
        else:
            limits.check(f"output {o.id} OVP", value, p.OVP_MAX, "V")
            vset = o.get("vset")
            if vset is not None and value <= vset:
                raise Refused(f"output {o.id} OVP {value:g} V is at or below its voltage "
                              f"{vset:g} V: it would trip")  # fmt: skip
        self._ready()
        await self._io(self.supply.set(o.id, what, value))
        return {"output": o.id, what: value}

    @command("setv/+", Number, help="output voltage, V")
    async def setv(self, cmd: Command, body: Number) -> dict[str, Any]:
        return await self._set(cmd, "voltage", body.value)

    @command("seti/+", Number, help="output current limit, A")
    async def seti(self, cmd: Command, body: Number) -> dict[str, Any]:
        return await self._set(cmd, "current", body.value)

    @command("setovp/+", Number, help="output over-voltage protection, V")
    async def setovp(self, cmd: Command, body: Number) -> dict[str, Any]:
        return await self._set(cmd, "ovp", body.value)

    @command("clear", help="clear every tripped output's OVP")
    @command("clear/+", help="clear one output's OVP")
    async def clear(self, cmd: Command) -> dict[str, Any]:
        self._ready()
        targets = [self._output(cmd)] if cmd.args else list(self.outputs.values())
        cleared = [o.id for o in targets if o.tripped]
        for cid in cleared:
            await self._io(self.supply.clear_trip(cid))
        return {"cleared": cleared}

    @command("reconnect", help="drop the connection and connect again now")
    def reconnect(self, cmd: Command) -> dict[str, Any]:
        self.link.reconnect_now()
        return {"reconnecting": True}
