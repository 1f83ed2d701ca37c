"""The CAEN service (`trackerdcs run caen`, topic root `dcs`): powers modules safely.

Safety lives here too, not only in the safety service (trackerdcs.power): HV only on
channels whose LV is on, HV ramped to 0 before LV goes off, values within the stand-file
limits, and a watchdog that takes the safe state alone when the safety heartbeat or the bus
is lost. Channel states follow CA monitors at once (no polling tick in the path).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from trackerdcs.caen import protocol
from trackerdcs.caen.config import CaenConfig
from trackerdcs.caen.device import Channel
from trackerdcs.caen.transport import configure_ca, put_global
from trackerdcs.config import load_stand
from trackerdcs.config.model import StandBase
from trackerdcs.core.commands import BadCommand, Command, Number, OnOff, Refused, command
from trackerdcs.core.publisher import StatePublisher
from trackerdcs.core.service import Service
from trackerdcs.power import limits
from trackerdcs.power import modules as mp
from trackerdcs.power.guard import PowerGuard
from trackerdcs.power.procedure import SAFE_OFF, Procedures
from trackerdcs.power.routes import module_side
from trackerdcs.power.safe_off import SafeOff, ramp_down_then_lv_off

COALESCE = 0.01  # s
UNITS = {("lv", "V0Set"): "V", ("lv", "I0Set"): "A", ("hv", "V0Set"): "V", ("hv", "I0Set"): "µA"}


class CaenService(Service):
    section = "caen"
    default_name = "dcs"
    cfg: CaenConfig

    def __init__(self, stand: StandBase, name: str | None = None):
        super().__init__(stand, name)
        configure_ca(self.cfg)
        self.guard = PowerGuard.attach(self, self.cfg.watchdog)
        self.procedures = Procedures(self.spawn, self._procedure_changed)
        self.channels: dict[int, Channel] = {}
        self.publishers: dict[int, StatePublisher] = {}
        self.fsm_state = "INIT"
        self._scheduled = False
        db = self.cfg.deadbands
        self.deadbands = {"lv_vMon": db.lv_v, "lv_iMon": db.lv_i, "hv_vMon": db.hv_v,
                          "hv_iMon": db.hv_i, "lv_temp": db.temp}  # fmt: skip
        self.ioc_answering = True
        # modules whose LV another supply gives: its word on the bus, and ours for it
        self.others = mp.ModulePower.attach(self, self.cfg.lv_elsewhere_max_age)
        self.modules_pub = StatePublisher(self.bus, mp.topic(self.name))
        self.every(self.cfg.poll, self._watch)
        self.every(self.cfg.readback.period, self._check_ioc_answers)

    # -- channels --------------------------------------------------------------------------
    def _build_channels(self) -> None:
        for ch in self.channels.values():
            ch.lv.disconnect()
            ch.hv.disconnect()
        self.channels = {
            cid: Channel(cid, cc, self.cfg.prefix, self._schedule, self.others)
            for cid, cc in sorted(self.cfg.channels.items())
        }
        self.publishers = {
            cid: StatePublisher(self.bus, f"{self.name}/channel/{cid}", self.deadbands,
                                stream=f"{self.name}/channels")
            for cid in self.channels
        }  # fmt: skip
        for ch in self.channels.values():
            ch.lv.connect()
            ch.hv.connect()
        self.log.info("%d channels (%d active) on prefix %s", len(self.channels),
                      sum(ch.active for ch in self.channels.values()), self.cfg.prefix)  # fmt: skip

    async def main(self) -> None:
        self._build_channels()

    async def shutdown(self) -> None:
        # leaving the modules as they are is deliberate: a service restart must not cut power
        for ch in self.channels.values():
            ch.lv.disconnect()
            ch.hv.disconnect()

    def republish(self) -> None:
        self.publish_all(force=True)

    # -- state (event-driven: every CA change schedules one evaluation) --------------------
    def _schedule(self) -> None:
        # one IOC update cycle arrives as several monitors (a trip sets Status, then Pw):
        # a few ms of coalescing publishes the whole change once, not a half-updated channel
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_later(COALESCE, self._evaluate)

    def _evaluate(self) -> None:
        self._scheduled = False
        for ch in self.channels.values():
            if ch.connected and not ch.was_connected:
                self._push_settings(ch)
            ch.was_connected = ch.connected
            if ch.evaluate(self.cfg.hv_off_threshold):
                self.log.info("channel %s -> %s %s", ch.id, ch.state, ch.reason)
            self._channel_alarm(ch)
            self._lv_gone_elsewhere(ch)
        self._ioc_alarm()
        rampdown = self.alarms.table.get(f"{self.name}.rampdown")
        # checked only while that alarm is up: this runs on every read-back change
        hv_off = self.cfg.hv_off_threshold
        if (rampdown is not None and rampdown.active and not self.procedures.name
                and all(ch.hv_down(hv_off) for ch in self.channels.values())):  # fmt: skip
            self.alarms.clear(rampdown.name)  # HV came down after all
        self.publish_all()

    def _push_settings(self, ch: Channel) -> None:
        """Settings from the stand file at every connect; never Pw (nothing switches on)."""
        for side in ("lv", "hv"):
            for param, value in self.cfg.settings(ch.id, side).items():
                try:
                    ch.side(side).put(param, value)
                except ConnectionError as exc:
                    self.log.warning("settings for channel %s: %s", ch.id, exc)

    def _lv_gone_elsewhere(self, ch: Channel) -> None:
        """The module's LV (on another supply) reads off while our HV is up (a trip, a
        supply switched off by hand): HV off at once, the damage is done with every second."""
        ext = ch.external_lv
        if ext is None:
            return
        name = f"{self.name}.ch{ch.id}.lv_lost"
        hv_up = ch.hv_on() or (ch.hv_volts() or 0.0) > self.cfg.hv_off_threshold
        if ext.state != "off" or not hv_up:
            self.alarms.clear(name)
            return
        if ch.hv.target.get("Pw") == 0:
            return  # already ordered off, coming down
        why = f"channel {ch.id} ({ch.cfg.module}): {ext.describe()} while HV is on: HV off"
        self.log.error("%s", why)
        self.alarms.raise_(name, "MAJOR", why)
        ch.cause = f"HV off: {ext.describe()}"
        self._off(ch, "hv")

    def _disconnected_long(self, ch: Channel) -> bool:
        """Disconnected for longer than connect_timeout: the delay filter against start-up
        and reconnect glitches."""
        if ch.state not in ("DISCONNECTED", "INIT"):
            ch.disconnected_since = None
            return False
        if ch.disconnected_since is None:
            ch.disconnected_since = time.monotonic()
        return time.monotonic() - ch.disconnected_since > self.cfg.connect_timeout

    def _channel_alarm(self, ch: Channel) -> None:
        if not ch.active:
            return
        name = f"{self.name}.ch{ch.id}"
        if ch.state == "ERROR":
            self.alarms.raise_(name, "MAJOR", f"channel {ch.id} ({ch.cfg.module}): {ch.reason}")
        elif self._disconnected_long(ch) and self._any_connected():
            self.alarms.raise_(name, "INVALID", f"channel {ch.id}: Disconnected")
        elif ch.state not in ("DISCONNECTED", "INIT"):
            self.alarms.clear(name)

    def _any_connected(self) -> bool:
        return any(ch.state not in ("DISCONNECTED", "INIT") for ch in self.channels.values())

    def _ioc_alarm(self) -> None:
        if not self.ioc_answering:
            return  # the read-back watchdog's message stands
        long_gone = [self._disconnected_long(ch) for ch in self.channels.values()]
        self.alarms.set(
            f"{self.name}.ioc", "INVALID" if long_gone and all(long_gone) else "OK",
            f"CAEN IOC unreachable (prefix {self.cfg.prefix})",
        )  # fmt: skip

    async def _check_ioc_answers(self) -> None:
        """Read-back watchdog: a fresh read of one PV, so that a frozen IOC is not taken
        for a quiet one."""
        probe = next(iter(self.channels.values()), None)
        if probe is None:
            return
        timeout = self.cfg.readback.timeout
        answered = await probe.hv.answers("Status", timeout)
        if not answered and self.ioc_answering:
            self.ioc_answering = False
            why = f"CAEN IOC not answering: a read of {probe.hv.base}:Status took over {timeout} s"
            self.log.error("%s; every value is unknown until it answers", why)
            self.alarms.raise_(f"{self.name}.ioc", "INVALID", why)
            for ch in self.channels.values():
                ch.lv.frozen()
                ch.hv.frozen()
        elif answered and not self.ioc_answering:
            for ch in self.channels.values():
                for side in (ch.lv, ch.hv):
                    await side.read_all()
                    side.answering = True
            self.ioc_answering = True
            self.log.warning("CAEN IOC answers again; values re-read")
            self._schedule()

    def publish_all(self, force: bool = False) -> None:
        for cid, ch in self.channels.items():
            self.publishers[cid].offer(ch.as_reference(), force)
        self.modules_pub.offer({"modules": {
            ch.cfg.module: self._module_word(ch) for ch in self.channels.values() if ch.cfg.module
        }}, force)  # fmt: skip
        state = protocol.stand_state([ch.state for ch in self.channels.values() if ch.active])
        if force or state != self.fsm_state:
            if state != self.fsm_state:
                self.log.info("stand -> %s", state)
            self.fsm_state = state
            self._publish_status()

    def _module_word(self, ch: Channel) -> dict[str, str]:
        if not ch.hv.connected:
            hv = "unknown"
        else:
            hv = "off" if ch.hv_down(self.cfg.hv_off_threshold) else "on"
        word = {"hv": hv, "channel": str(ch.id)}
        if ch.external_lv is None:
            word["lv"] = "unknown" if not ch.lv.connected else ("on" if ch.lv_on() else "off")
        return word

    def _publish_status(self) -> None:
        self.publish_state("status", self.status())

    def _procedure_changed(self) -> None:
        # the status pairs the procedure with channel states read back now, not 10 ms ago
        self._evaluate()
        self._publish_status()

    def status(self) -> dict[str, Any]:
        return {
            "fsm_state": self.fsm_state,
            "channels": {str(cid): ch.state for cid, ch in self.channels.items()},
            "sequence": self.procedures.name,
            "watchdog": self.guard.status(),
        }

    # -- watchdog --------------------------------------------------------------------------
    def _watch(self) -> None:
        if any(not ch.connected for ch in self.channels.values()):
            self._schedule()  # the disconnection alarms wait out connect_timeout
        self.guard.check(self, self._anything_powered())

    def _anything_powered(self) -> bool:
        return any(ch.powered(self.cfg.hv_off_threshold) for ch in self.channels.values())

    # -- commands --------------------------------------------------------------------------
    def _cid(self, cmd: Command) -> int:
        raw = cmd.args[0]
        try:
            cid = int(raw)
        except ValueError:
            raise BadCommand(f"channel id must be a number, got {raw!r}") from None
        if cid not in self.channels:
            known = ", ".join(str(c) for c in self.channels)
            raise BadCommand(f"unknown channel {cid}; channels: {known}")
        return cid

    def _targets(self, cmd: Command) -> list[Channel]:
        if cmd.args:
            return [self.channels[self._cid(cmd)]]
        targets = [ch for ch in self.channels.values() if ch.active]
        if not targets:
            raise Refused("no active channel (assign a module to a channel in the stand file)")
        return targets

    @command("switch/lv", OnOff, help="LV on/off, all active channels")
    @command("switch/lv/+", OnOff, help="LV on/off, one channel")
    def switch_lv(self, cmd: Command, body: OnOff) -> dict[str, Any]:
        return self._switch("lv", self._targets(cmd), body.value, f"by {cmd.sender}")

    @command("module/+/+/switch", OnOff, help="one module's LV or HV on/off (module power)")
    def switch_module(self, cmd: Command, body: OnOff) -> dict[str, Any]:
        module, side = module_side(cmd)
        ch = next((c for c in self.channels.values() if c.cfg.module == module), None)
        if ch is None:
            known = ", ".join(str(c.cfg.module) for c in self.channels.values() if c.active)
            raise BadCommand(f"no module {module} on this mainframe; modules: {known}")
        return self._switch(side, [ch], body.value, f"by {cmd.sender}")

    @command("switch/hv", OnOff, help="HV on/off, all active channels")
    @command("switch/hv/+", OnOff, help="HV on/off, one channel")
    def switch_hv(self, cmd: Command, body: OnOff) -> dict[str, Any]:
        return self._switch("hv", self._targets(cmd), body.value, f"by {cmd.sender}")

    def _switch(self, side: str, targets: list[Channel], on: bool, by: str) -> dict[str, Any]:
        if side == "lv":
            targets = self._own_lv(targets)
        ids = [ch.id for ch in targets]
        if on:
            self.guard.check_power_on(self.procedures.name)
            problems = []
            for ch in targets:
                if ch.state in ("DISCONNECTED", "INIT"):
                    # with its LV elsewhere: whose word is missing (`LV of M1 is unknown …`)
                    why = f" ({ch.reason})" if ch.reason else ""
                    problems.append(f"channel {ch.id} is {ch.state}{why}")
                elif ch.state == "ERROR":
                    problems.append(f"channel {ch.id} is in ERROR ({ch.reason}): clear first")
                elif side == "hv" and (ext := ch.external_lv) is not None:
                    if ext.state != "on":
                        problems.append(f"HV on refused for channel {ch.id}: {ext.describe()}")
                elif side == "hv" and not ch.lv_holds():
                    why = "being switched off" if ch.lv_on() else "off"
                    problems.append(f"HV on refused for channel {ch.id}: LV is {why}")
            if problems:
                raise Refused("; ".join(problems))
            for ch in targets:
                ch.side(side).put("Pw", 1)
                ch.cause = ""
            return {"channels": ids, side: "on"}
        for ch in targets:
            ch.cause = f"{side.upper()} off {by}"
        if side == "hv":
            for ch in targets:
                self._off(ch, "hv")
            return {"channels": ids, "hv": "off"}
        # LV off: HV first, ramped to 0
        if all(ch.hv_down(self.cfg.hv_off_threshold) for ch in targets):
            for ch in targets:
                self._off(ch, "lv")
            return {"channels": ids, "lv": "off"}
        if not self._start_sequence("LV off (HV ramp-down first)", targets, f"LV off {by}"):
            raise Refused(f"{self.procedures.name} in progress")
        return {"channels": ids, "lv": "off", "sequence": "HV ramp-down first"}

    def _own_lv(self, targets: list[Channel]) -> list[Channel]:
        """The channels whose LV is ours to switch; refused when there is none."""
        own = [ch for ch in targets if ch.external_lv is None]
        if not own:
            ext = [ch.external_lv for ch in targets if ch.external_lv is not None]
            raise Refused("LV is not on this mainframe: " + "; ".join(e.describe() for e in ext)
                          + "; switch it on its own supply")  # fmt: skip
        return own

    @command("setv/lv/+", Number, help="LV set voltage, V")
    @command("setv/hv/+", Number, help="HV set voltage, V")
    @command("seti/lv/+", Number, help="LV current limit, A")
    @command("seti/hv/+", Number, help="HV current limit, µA")
    def set_value(self, cmd: Command, body: Number) -> dict[str, Any]:
        kind, side = cmd.name.split("/")[:2]
        param = "V0Set" if kind == "setv" else "I0Set"
        cid = self._cid(cmd)
        if side == "lv":
            self._own_lv([self.channels[cid]])
        lim = self.cfg.limits(cid)
        top = {
            ("lv", "V0Set"): lim.lv_vmax, ("lv", "I0Set"): lim.lv_imax,
            ("hv", "V0Set"): lim.hv_vmax, ("hv", "I0Set"): lim.hv_imax,
        }[(side, param)]  # fmt: skip
        limits.check(f"{side.upper()} {param}", body.value, top, UNITS[(side, param)])
        try:
            self.channels[cid].side(side).put(param, body.value)
        except ConnectionError as exc:
            raise Refused(str(exc)) from None
        return {"channel": cid, side: {param: body.value}}

    def _off(self, ch: Channel, side: str) -> bool:
        try:
            ch.side(side).put("Pw", 0)
            return True
        except ConnectionError as exc:
            self.log.error("channel %s: %s", ch.id, exc)
            return False

    @command("clear", help="clear alarms (ClearAlarm)")
    async def clear(self, cmd: Command) -> dict[str, Any]:
        ok = await asyncio.to_thread(put_global, self.cfg.prefix, "ClearAlarm", 1)
        if not ok:
            raise Refused("ClearAlarm could not be written: IOC unreachable")
        return {"cleared": True}

    @command("refresh", role="viewer", help="re-read and republish everything")
    async def refresh(self, cmd: Command) -> dict[str, Any]:
        for ch in self.channels.values():
            await ch.lv.read_all()
            await ch.hv.read_all()
        self._evaluate()
        self.on_connect()
        return {"channels": len(self.channels)}

    @command("reconnect", help="drop and re-create every PV connection")
    def reconnect(self, cmd: Command) -> dict[str, Any]:
        self._build_channels()
        return {"channels": len(self.channels)}

    @command("reload", role="expert", help="re-read the channel map from the stand file")
    def reload(self, cmd: Command) -> dict[str, Any]:
        if self.stand.source is None:
            raise Refused("this service was not started from a stand file")
        try:
            fresh = load_stand(self.stand.source).caen
        except Exception as exc:
            raise Refused(f"stand file invalid, nothing changed: {exc}") from None
        if fresh is None:
            raise Refused("the stand file has no caen section any more")

        def hw(cfg: CaenConfig) -> dict[int, tuple[int, int, int, int]]:
            return {c: (x.lv.board if x.lv else -1, x.lv.chan if x.lv else -1, x.hv.board,
                        x.hv.chan) for c, x in cfg.channels.items()}  # fmt: skip

        changed = hw(self.cfg) != hw(fresh)
        if changed and self._anything_powered():
            raise Refused("the channel map changed: switch everything off before reloading")
        self.cfg = fresh
        if changed:
            self._build_channels()
        else:
            for ch in self.channels.values():
                ch.cfg = fresh.channels[ch.id]
                self._push_settings(ch)
        self._schedule()
        return {"channels": len(self.channels), "map_changed": changed}

    # -- ordered safe state ----------------------------------------------------------------
    @command("safe_off", SafeOff, help="ordered: HV ramp-down, then LV off")
    def safe_off(self, cmd: Command, body: SafeOff) -> dict[str, Any]:
        started = self.start_safe_off(body.why(cmd))
        return {"sequence": SAFE_OFF, "started": started}

    def start_safe_off(self, reason: str) -> bool:
        """HV ramp-down on every channel, wait, then LV off. False if one is already running."""
        return self._start_sequence(SAFE_OFF, list(self.channels.values()), reason)

    def _start_sequence(self, name: str, targets: list[Channel], reason: str) -> bool:
        if not self.procedures.can_start(name):
            return False
        # HV off is written at once, before the procedure starts: the latency that counts
        for ch in targets:
            ch.cause = f"{name}: {reason}"
            self._off(ch, "hv")
        self.log.warning("%s started: %s", name, reason)
        body = ramp_down_then_lv_off(
            targets, self._off, self.cfg.hv_off_threshold, self.cfg.hv_off_timeout,
            self.alarms, f"{self.name}.rampdown", name, self.log,
        )  # fmt: skip
        return self.procedures.start(name, body)
