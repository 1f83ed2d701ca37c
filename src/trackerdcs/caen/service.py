"""The CAEN service (`trackerdcs run caen`, topic root `dcs`): powers modules safely.

Safety lives here too, not only in the safety service: HV only on channels whose LV is on,
HV ramped to 0 before LV goes off, voltages and currents within the stand-file limits, and a
watchdog that takes the safe state alone when the safety heartbeat or the bus is lost.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from trackerdcs.bus import BadCommand, Command, Message, Refused
from trackerdcs.bus.alarms import Alarms
from trackerdcs.caen.channel import Channel
from trackerdcs.caen.config import CaenConfig
from trackerdcs.caen.driver import configure_ca, put_global
from trackerdcs.config import load_stand
from trackerdcs.config.model import Stand
from trackerdcs.runtime.service import Service

POWERED = ("LV_ON", "HV_RAMP", "HV_ON")


class CaenService(Service):
    section = "caen"
    default_name = "dcs"

    cfg: CaenConfig

    def __init__(self, stand: Stand, name: str | None = None, bus: Any = None):
        super().__init__(stand, name, bus)
        self.period = self.cfg.poll
        configure_ca(self.cfg)
        self.alarms = Alarms(self.bus, self.name)
        self.channels: dict[int, Channel] = {}
        self._dirty = threading.Event()
        self._seq_lock = threading.Lock()
        self._sequence: threading.Thread | None = None
        self.sequence_name = ""
        self.fsm_state = "INIT"
        self.last_heartbeat = time.monotonic()
        self.bus_lost_since: float | None = None
        self.watchdog_fired = False
        self.interlock: dict[str, Any] = {}
        self._last_full = 0.0

    # -- set-up ----------------------------------------------------------------------------
    def setup(self) -> None:
        c = self.commands
        c.add("switch/lv", lambda cmd: self.switch("lv", cmd, None), "LV on/off, all active")
        c.add("switch/hv", lambda cmd: self.switch("hv", cmd, None), "HV on/off, all active")
        c.add("switch/lv/+", lambda cmd: self.switch("lv", cmd, self._cid(cmd)))
        c.add("switch/hv/+", lambda cmd: self.switch("hv", cmd, self._cid(cmd)))
        c.add("setv/lv/+", lambda cmd: self.set_value("lv", "V0Set", cmd))
        c.add("setv/hv/+", lambda cmd: self.set_value("hv", "V0Set", cmd))
        c.add("seti/lv/+", lambda cmd: self.set_value("lv", "I0Set", cmd))
        c.add("seti/hv/+", lambda cmd: self.set_value("hv", "I0Set", cmd))
        c.add("clear", self.clear, "clear alarms (ClearAlarm)")
        c.add("refresh", self.refresh, "re-read and republish everything")
        c.add("reconnect", self.reconnect, "drop and re-create every PV connection")
        c.add("reload", self.reload, "re-read the channel map from the stand file")
        c.add("safe_off", self.safe_off_cmd, "ordered: HV ramp-down, then LV off")
        self.alarms.register(c)
        wd = self.cfg.watchdog
        if wd.timeout:
            self.bus.subscribe(wd.heartbeat_topic, self._on_heartbeat)
        self.bus.subscribe("safety/status", self._on_safety_status)
        self._build_channels()

    def _build_channels(self) -> None:
        for ch in self.channels.values():
            ch.lv.disconnect()
            ch.hv.disconnect()
        self.channels = {
            cid: Channel(cid, cc, self.cfg.prefix, self._dirty.set)
            for cid, cc in sorted(self.cfg.channels.items())
        }
        for ch in self.channels.values():
            ch.lv.connect()
            ch.hv.connect()
        self.log.info(
            "%d channels (%d active) on prefix %s",
            len(self.channels),
            sum(ch.active for ch in self.channels.values()),
            self.cfg.prefix,
        )

    def on_connect(self) -> None:
        self.publish_all(force=True)
        self.alarms.republish()

    def shutdown(self) -> None:
        # leaving the modules as they are is deliberate: a service restart must not cut power
        for ch in self.channels.values():
            ch.lv.disconnect()
            ch.hv.disconnect()

    # -- bus inputs ------------------------------------------------------------------------
    def _on_heartbeat(self, msg: Message) -> None:
        self.last_heartbeat = time.monotonic()

    def _on_safety_status(self, msg: Message) -> None:
        try:
            data = msg.json()
        except ValueError:
            return
        if isinstance(data, dict):
            self.interlock = data

    # -- periodic --------------------------------------------------------------------------
    def tick(self) -> None:
        self.alarms.tick()
        now = time.monotonic()
        self._watchdog(now)
        full = now - self._last_full >= self.cfg.heartbeat
        if not (self._dirty.is_set() or full):
            return
        self._dirty.clear()
        changed = False
        for ch in self.channels.values():
            connected = ch.lv.connected and ch.hv.connected
            if connected and not ch.was_connected:
                self._push_settings(ch)
            ch.was_connected = connected
            if ch.update(self.cfg.hv_off_threshold):
                changed = True
                self.log.info("channel %s -> %s %s", ch.id, ch.state, ch.reason)
            self._channel_alarm(ch)
        self._ioc_alarm()
        self.publish_all(force=full or changed)

    def _push_settings(self, ch: Channel) -> None:
        """Settings from the stand file at every connect; never Pw (nothing switches on)."""
        for side, pvs in (("lv", ch.lv), ("hv", ch.hv)):
            for param, value in self.cfg.settings(ch.id, side).items():
                try:
                    pvs.put(param, value)
                except ConnectionError as exc:
                    self.log.warning("settings for channel %s: %s", ch.id, exc)

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
        name = f"{self.name}.ioc"
        long_gone = [self._disconnected_long(ch) for ch in self.channels.values()]
        if long_gone and all(long_gone):
            self.alarms.raise_(name, "INVALID", f"CAEN IOC unreachable (prefix {self.cfg.prefix})")
        else:
            self.alarms.clear(name)

    def stand_state(self) -> str:
        states = [ch.state for ch in self.channels.values() if ch.active]
        if not states:
            return "INIT"
        if "ERROR" in states:
            return "ERROR"
        s = set(states)
        if len(s) == 1:
            return states[0]
        if s <= {"INIT", "DISCONNECTED"}:
            return "DISCONNECTED"
        if "DISCONNECTED" in s or "INIT" in s:
            return "DISCONNECTED"
        if "HV_RAMP" in s:
            return "HV_RAMP"
        if s & {"HV_ON"}:
            return "HV_MIX"
        return "LV_MIX"

    def publish_all(self, force: bool = False) -> None:
        db = self.cfg.deadbands
        bands = {"lv_vMon": db.lv_v, "lv_iMon": db.lv_i, "hv_vMon": db.hv_v, "hv_iMon": db.hv_i}
        for ch in self.channels.values():
            data = ch.as_reference()
            last = ch.last_published
            if not force and last:
                moved = False
                for k, v in data.items():
                    old = last.get(k)
                    if k in bands and isinstance(v, float) and isinstance(old, float):
                        moved = abs(v - old) >= bands[k]
                    else:
                        moved = v != old
                    if moved:
                        break
                if not moved:
                    continue
            ch.last_published = data
            self.bus.publish_state(f"{self.name}/channels", data, retain=False)
            self.bus.publish_state(f"{self.name}/channel/{ch.id}", data)
        state = self.stand_state()
        if force or state != self.fsm_state:
            if state != self.fsm_state:
                self.log.info("stand -> %s", state)
            self.fsm_state = state
            self.publish_state("status", self.status())
        if force:
            self._last_full = time.monotonic()

    def status(self) -> dict[str, Any]:
        wd = self.cfg.watchdog
        return {
            "fsm_state": self.fsm_state,
            "channels": {str(cid): ch.state for cid, ch in self.channels.items()},
            "sequence": self.sequence_name or None,
            "watchdog": {
                "enabled": bool(wd.timeout),
                "timeout": wd.timeout,
                "heartbeat_age": round(time.monotonic() - self.last_heartbeat, 2),
                "fired": self.watchdog_fired,
            },
        }

    # -- watchdog --------------------------------------------------------------------------
    def _watchdog(self, now: float) -> None:
        timeout = self.cfg.watchdog.timeout
        if not timeout:
            return
        if self.bus.connected.is_set():
            self.bus_lost_since = None
        elif self.bus_lost_since is None:
            self.bus_lost_since = now
        hb_age = now - self.last_heartbeat
        bus_age = now - self.bus_lost_since if self.bus_lost_since is not None else 0.0
        lost = hb_age > timeout or bus_age > timeout
        if not lost:
            self.watchdog_fired = False
            return
        if self.watchdog_fired or not self._anything_powered():
            return
        self.watchdog_fired = True
        why = (
            f"bus lost for {bus_age:.0f} s"
            if bus_age > timeout
            else f"no safety heartbeat on {self.cfg.watchdog.heartbeat_topic} for {hb_age:.0f} s"
        )
        self.log.error("watchdog: %s; going to the safe state", why)
        self.alarms.raise_(f"{self.name}.watchdog", "MAJOR", f"watchdog safe-off: {why}")
        self.start_safe_off(f"watchdog: {why}")

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

    def _power_on_guard(self) -> None:
        """Reasons that forbid switching anything on, whatever the channel."""
        if self._sequence is not None and self._sequence.is_alive():
            raise Refused(f"{self.sequence_name} in progress")
        timeout = self.cfg.watchdog.timeout
        if timeout:
            age = time.monotonic() - self.last_heartbeat
            if age > timeout:
                raise Refused(
                    f"no safety heartbeat for {age:.0f} s (is the safety service running?)"
                )
        if self.interlock.get("state") == "ACTION":
            raise Refused(
                f"interlock active: {self.interlock.get('message') or 'see safety/status'}"
            )

    def switch(self, side: str, cmd: Command, cid: int | None) -> dict[str, Any]:
        on = cmd.switch()
        targets = [self.channels[cid]] if cid is not None else [
            ch for ch in self.channels.values() if ch.active
        ]  # fmt: skip
        if not targets:
            raise Refused("no active channel (assign a module to a channel in the stand file)")
        if on:
            self._power_on_guard()
            problems = []
            for ch in targets:
                if ch.state in ("DISCONNECTED", "INIT"):
                    problems.append(f"channel {ch.id} is {ch.state}")
                elif ch.state == "ERROR":
                    problems.append(f"channel {ch.id} is in ERROR ({ch.reason}): clear first")
                elif side == "hv" and not ch.lv_on():
                    problems.append(f"HV on refused for channel {ch.id}: LV is off")
            if problems:
                raise Refused("; ".join(problems))
            for ch in targets:
                (ch.lv if side == "lv" else ch.hv).put("Pw", 1)
            return {"channels": [ch.id for ch in targets], side: "on"}
        if side == "hv":
            for ch in targets:
                self._put_quiet(ch, "hv", "Pw", 0)
            return {"channels": [ch.id for ch in targets], "hv": "off"}
        # LV off: HV first, ramped to 0
        needs_ramp = [
            ch for ch in targets if ch.hv_on() or ch.hv_volts() > self.cfg.hv_off_threshold
        ]
        if not needs_ramp:
            for ch in targets:
                self._put_quiet(ch, "lv", "Pw", 0)
            return {"channels": [ch.id for ch in targets], "lv": "off"}
        self._start_sequence("LV off (HV ramp-down first)", targets, "operator LV off")
        return {
            "channels": [ch.id for ch in targets],
            "lv": "off",
            "sequence": "HV ramp-down first",
        }

    def set_value(self, side: str, param: str, cmd: Command) -> dict[str, Any]:
        cid = self._cid(cmd)
        value = cmd.number()
        lim = self.cfg.limits(cid)
        unit = "V" if param == "V0Set" else ("A" if side == "lv" else "µA")
        top = {
            ("lv", "V0Set"): lim.lv_vmax,
            ("lv", "I0Set"): lim.lv_imax,
            ("hv", "V0Set"): lim.hv_vmax,
            ("hv", "I0Set"): lim.hv_imax,
        }[(side, param)]
        if value < 0 or value > top:
            raise Refused(
                f"{side.upper()} {param} {value:g} {unit} for channel {cid} outside limits "
                f"0..{top:g} {unit}"
            )
        ch = self.channels[cid]
        try:
            (ch.lv if side == "lv" else ch.hv).put(param, value)
        except ConnectionError as exc:
            raise Refused(str(exc)) from None
        return {"channel": cid, side: {param: value}}

    def _put_quiet(self, ch: Channel, side: str, param: str, value: Any) -> bool:
        try:
            (ch.lv if side == "lv" else ch.hv).put(param, value)
            return True
        except ConnectionError as exc:
            self.log.error("channel %s: %s", ch.id, exc)
            return False

    def clear(self, cmd: Command) -> dict[str, Any]:
        if not put_global(self.cfg.prefix, "ClearAlarm", 1):
            raise Refused("ClearAlarm could not be written: IOC unreachable")
        self._dirty.set()
        return {"cleared": True}

    def refresh(self, cmd: Command) -> dict[str, Any]:
        for ch in self.channels.values():
            ch.lv.read_all()
            ch.hv.read_all()
            ch.update(self.cfg.hv_off_threshold)
        self.publish_all(force=True)
        self.alarms.republish()
        return {"channels": len(self.channels)}

    def reconnect(self, cmd: Command) -> dict[str, Any]:
        self._build_channels()
        self._dirty.set()
        return {"channels": len(self.channels)}

    def reload(self, cmd: Command) -> dict[str, Any]:
        if self.stand.source is None:
            raise Refused("this service was not started from a stand file")
        try:
            fresh = load_stand(self.stand.source).caen
        except Exception as exc:
            raise Refused(f"stand file invalid, nothing changed: {exc}") from None
        if fresh is None:
            raise Refused("the stand file has no caen section any more")
        old_map = {
            c: (x.lv.board, x.lv.chan, x.hv.board, x.hv.chan) for c, x in self.cfg.channels.items()
        }
        new_map = {
            c: (x.lv.board, x.lv.chan, x.hv.board, x.hv.chan) for c, x in fresh.channels.items()
        }
        if old_map != new_map and self._anything_powered():
            raise Refused("the channel map changed: switch everything off before reloading")
        self.cfg = fresh
        self.stand.caen = fresh
        if old_map != new_map:
            self._build_channels()
        else:
            for ch in self.channels.values():
                ch.cfg = fresh.channels[ch.id]
                self._push_settings(ch)
        self._dirty.set()
        return {"channels": len(self.channels), "map_changed": old_map != new_map}

    # -- ordered safe state ----------------------------------------------------------------
    def safe_off_cmd(self, cmd: Command) -> dict[str, Any]:
        reason = cmd.data.get("reason") if isinstance(cmd.data, dict) else None
        started = self.start_safe_off(str(reason or f"safe_off by {cmd.user or 'bus'}"))
        return {"sequence": "safe_off", "started": started}

    def start_safe_off(self, reason: str) -> bool:
        """HV ramp-down on every channel, wait, then LV off. False if one is already running."""
        return self._start_sequence("safe_off", list(self.channels.values()), reason)

    def _start_sequence(self, name: str, targets: list[Channel], reason: str) -> bool:
        with self._seq_lock:
            running = self._sequence is not None and self._sequence.is_alive()
            # a safe_off overrides an operator's LV-off sequence (it covers every channel)
            if running and (name != "safe_off" or self.sequence_name == "safe_off"):
                return False
            # HV off is written at once, on the caller's thread: the latency that counts
            for ch in targets:
                self._put_quiet(ch, "hv", "Pw", 0)
            self.sequence_name = name
            self._sequence = threading.Thread(
                target=self._ramp_then_lv_off, args=(name, targets, reason), daemon=True
            )
            self._sequence.start()
            return True

    def _ramp_then_lv_off(self, name: str, targets: list[Channel], reason: str) -> None:
        self.log.warning("%s started: %s", name, reason)
        deadline = time.monotonic() + self.cfg.hv_off_timeout
        while time.monotonic() < deadline and not self.stopping:
            if all(not ch.hv_on() and ch.hv_volts() <= self.cfg.hv_off_threshold for ch in targets):
                break
            time.sleep(0.1)
        else:
            if not self.stopping:
                why = f"{name}: HV did not reach 0 V in {self.cfg.hv_off_timeout:.0f} s"
                self.log.error("%s; LV off anyway", why)
                self.alarms.raise_(f"{self.name}.rampdown", "MAJOR", f"{why}; LV off anyway")
        for ch in targets:
            self._put_quiet(ch, "lv", "Pw", 0)
        self.log.warning("%s done: LV off", name)
        self.sequence_name = ""
        self._dirty.set()
