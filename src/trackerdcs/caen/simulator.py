"""A simulated CAEN SY4527/SY5527 served over real Channel Access (caproto).

Every PV of PROTOCOLS.md §2 for the configured channels, with hardware-like dynamics: HV
ramps at RUp/RDWn, leakage current grows with voltage and doubles every 7 °C, LV draws
current through a load, over-current longer than Trip seconds trips the channel (PDwn Kill:
straight to 0 V; Ramp: ramps down) and latches the trip bits until ClearAlarm.

Fault injection for tests and demos, as extra PVs:
  <prefix>:<bb>:<ccc>:SimLeak    extra current (HV µA / LV A) -> real over-current trips
  <prefix>:<bb>:<ccc>:SimUnplug  1 = channel unplugged (Status bit 11, ignores Pw)
  <prefix>:SIM:Temp              module temperature, °C (leakage)
"Stop answering" is the process paused (SIGSTOP); "gone" is the process killed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import random
import time
from dataclasses import dataclass, field
from typing import Any

from trackerdcs.caen.config import CaenConfig
from trackerdcs.caen.protocol import ENUMS, pv_base

log = logging.getLogger("trackerdcs.sim.caen")

ON, RAMP_UP, RAMP_DOWN, OVC, OVV, UNV, EXT_TRIP, MAXV, EXT_DIS, INT_TRIP, CAL_ERR, UNPLUGGED = (
    1 << i for i in range(12)
)
HV_HARD_MAX = 1000.0


@dataclass
class SimChannel:
    side: str  # lv | hv
    base: str
    params: dict[str, Any]
    pw: bool = False
    vmon: float = 0.0
    imon: float = 0.0
    tripped: int = 0
    ovc_since: float | None = None
    unplugged: bool = False
    extra: float = 0.0
    breakdown: float | None = None  # V where the sensor breaks down (leakage runs away)
    pvs: dict[str, Any] = field(default_factory=dict)

    def status(self, target: float) -> int:
        if self.unplugged:
            return UNPLUGGED
        st = self.tripped
        if self.pw:
            st |= ON
        if self.vmon < target - 0.05:
            st |= RAMP_UP
        elif self.vmon > target + 0.05:
            st |= RAMP_DOWN
        if self.ovc_since is not None:
            st |= OVC
        if self.side == "lv" and self.pw and not st & (RAMP_UP | RAMP_DOWN):
            if self.vmon > self.params["OVVThr"]:
                st |= OVV
            if self.vmon < self.params["UNVThr"]:
                st |= UNV
        if self.side == "hv" and self.params["V0Set"] >= HV_HARD_MAX:
            st |= MAXV
        return st


LV_DEFAULTS = {
    "V0Set": 0.0, "I0Set": 5.0, "Trip": 1.0, "TripInt": 0, "TripExt": 0,
    "UNVThr": 0.0, "OVVThr": 15.0, "RUpTime": 1.0, "RDwTime": 1.0,
}  # fmt: skip
HV_DEFAULTS = {
    "V0Set": 0.0, "I0Set": 100.0, "Trip": 1.0, "TripInt": 0, "TripExt": 0,
    "RUp": 10.0, "RDWn": 20.0, "ImRange": "Low", "PDwn": "Kill",
}  # fmt: skip


class Mainframe:
    """The simulated crate: channels, dynamics, and the caproto PV database."""

    def __init__(self, cfg: CaenConfig):
        self.cfg = cfg
        self.sim = cfg.sim
        self.temperature = self.sim.temperature
        self.channels: list[SimChannel] = []
        self._put_log = open(self.sim.put_log, "a", buffering=1) if self.sim.put_log else None  # noqa: SIM115
        self.pvdb: dict[str, Any] = {}
        seen: set[str] = set()
        for cid, ch in cfg.channels.items():
            for side, bc, defaults in (("lv", ch.lv, LV_DEFAULTS), ("hv", ch.hv, HV_DEFAULTS)):
                if bc is None:
                    continue  # LV from another supply
                base = pv_base(cfg.prefix, bc.board, bc.chan)
                if base in seen:
                    continue
                seen.add(base)
                bd = cfg.sim.breakdown.get(cid) if side == "hv" else None
                self.channels.append(SimChannel(side, base, dict(defaults), breakdown=bd))
        self._build_pvdb()

    # -- PV database -----------------------------------------------------------------------
    def _build_pvdb(self) -> None:
        from caproto import ChannelDouble, ChannelEnum, ChannelInteger

        frame = self

        class Hooked:
            """Client writes go through verify_value; the simulation writes with verify off."""

            def __init__(self, *a: Any, on_put: Any, **kw: Any) -> None:
                super().__init__(*a, **kw)
                self.on_put = on_put

            async def verify_value(self, data: Any) -> Any:
                data = await super().verify_value(data)  # type: ignore[misc]
                frame._log_put(self.pvname, data)  # type: ignore[attr-defined]
                return self.on_put(data)

        class HDouble(Hooked, ChannelDouble):
            pass

        class HEnum(Hooked, ChannelEnum):
            pass

        class HInt(Hooked, ChannelInteger):
            pass

        def setter(ch: SimChannel, key: str, kind: type) -> Any:
            def put(value: Any) -> Any:
                ch.params[key] = kind(value) if kind is not str else value
                return value

            return put

        for ch in self.channels:
            p = ch.base

            def pw_put(value: Any, ch: SimChannel = ch) -> Any:
                on = value in ("On", 1, "1")
                if ch.unplugged:
                    return "Off"
                if on and ch.tripped:
                    # a tripped channel stays off until ClearAlarm
                    return "Off"
                ch.pw = on
                return "On" if on else "Off"

            def leak_put(value: Any, ch: SimChannel = ch) -> Any:
                ch.extra = float(value)
                return value

            def unplug_put(value: Any, ch: SimChannel = ch) -> Any:
                ch.unplugged = bool(int(value))
                if ch.unplugged:
                    ch.pw, ch.vmon, ch.imon = False, 0.0, 0.0
                return value

            pvs: dict[str, Any] = {
                "Pw": HEnum(value="Off", enum_strings=["Off", "On"], on_put=pw_put),
                "Status": ChannelInteger(value=0),
                "VMon": ChannelDouble(value=0.0, precision=2, units="V"),
                "IMon": ChannelDouble(
                    value=0.0, precision=3, units="uA" if ch.side == "hv" else "A"
                ),
                "SimLeak": HDouble(value=0.0, precision=3, on_put=leak_put),
                "SimUnplug": HInt(value=0, on_put=unplug_put),
            }
            params = LV_DEFAULTS if ch.side == "lv" else HV_DEFAULTS
            for key, default in params.items():
                if isinstance(default, str):
                    pvs[key] = HEnum(
                        value=default,
                        enum_strings=list(list(ENUMS[key])),
                        on_put=setter(ch, key, str),
                    )
                elif key in ("TripInt", "TripExt"):
                    pvs[key] = HInt(value=default, on_put=setter(ch, key, int))
                else:
                    pvs[key] = HDouble(value=default, precision=2, on_put=setter(ch, key, float))
            if ch.side == "lv":
                pvs["Temp"] = ChannelDouble(value=30.0, precision=1, units="C")
            ch.pvs = pvs
            for key, pv in pvs.items():
                self.pvdb[f"{p}:{key}"] = pv

        def clear_put(value: Any) -> Any:
            if value in ("Yes", 1, "1"):
                for ch in self.channels:
                    ch.tripped = 0
            return value

        def temp_put(value: Any) -> Any:
            self.temperature = float(value)
            return value

        self.pvdb[f"{self.cfg.prefix}:ClearAlarm"] = HEnum(
            value="No", enum_strings=["No", "Yes"], on_put=clear_put
        )
        self.pvdb[f"{self.cfg.prefix}:SIM:Temp"] = HDouble(
            value=self.temperature, precision=1, on_put=temp_put
        )
        # caproto's ChannelData needs its pvname for our put log
        for name, pv in self.pvdb.items():
            pv.pvname = name

    def _log_put(self, pvname: str, value: Any) -> None:
        if self._put_log is not None:
            self._put_log.write(json.dumps({"pv": pvname, "value": value, "t": time.time()}) + "\n")

    # -- dynamics --------------------------------------------------------------------------
    def step(self, dt: float, now: float) -> None:
        for ch in self.channels:
            if ch.unplugged:
                continue
            if ch.side == "hv":
                self._step_hv(ch, dt, now)
            else:
                self._step_lv(ch, dt, now)

    def _target(self, ch: SimChannel) -> float:
        return ch.params["V0Set"] if ch.pw else 0.0

    def _ramp(self, ch: SimChannel, target: float, up: float, down: float, dt: float) -> None:
        if ch.vmon < target:
            ch.vmon = min(target, ch.vmon + up * dt)
        elif ch.vmon > target:
            ch.vmon = max(target, ch.vmon - down * dt)

    def _step_hv(self, ch: SimChannel, dt: float, now: float) -> None:
        p = ch.params
        target = min(self._target(ch), HV_HARD_MAX)
        self._ramp(ch, target, p["RUp"], p["RDWn"], dt)
        leak = self.sim.leakage_ua * (ch.vmon / 300.0) * 2 ** ((self.temperature - 20.0) / 7.0)
        if ch.breakdown is not None and ch.vmon > ch.breakdown - 50:
            # avalanche: the current runs away over the last tens of volts before breakdown
            leak *= math.exp(min((ch.vmon - ch.breakdown + 50) / 10.0, 12.0))
        noise = random.gauss(0, 0.002) if ch.vmon > 1 else 0.0
        ch.imon = max(0.0, leak + noise + (ch.extra if ch.vmon > 1 else 0.0))
        self._check_trip(ch, p["I0Set"], p["Trip"], now, kill=p["PDwn"] == "Kill")

    def _step_lv(self, ch: SimChannel, dt: float, now: float) -> None:
        p = ch.params
        vset = max(p["V0Set"], 0.01)
        self._ramp(ch, self._target(ch), vset / max(p["RUpTime"], 0.01),
                   vset / max(p["RDwTime"], 0.01), dt)  # fmt: skip
        ch.imon = ch.vmon / self.sim.lv_load_ohm + (ch.extra if ch.vmon > 0.1 else 0.0)
        self._check_trip(ch, p["I0Set"], p["Trip"], now, kill=True)

    def _check_trip(
        self, ch: SimChannel, ilimit: float, trip_s: float, now: float, kill: bool
    ) -> None:
        if ch.imon > ilimit and ch.vmon > 0.1:
            if ch.ovc_since is None:
                ch.ovc_since = now
            elif now - ch.ovc_since >= trip_s:
                log.warning(
                    "%s tripped: I=%.3f > %.3f for %.1f s", ch.base, ch.imon, ilimit, trip_s
                )
                ch.tripped = OVC | INT_TRIP
                ch.pw = False
                ch.ovc_since = None
                if kill:
                    ch.vmon, ch.imon = 0.0, 0.0
        else:
            ch.ovc_since = None

    async def publish(self) -> None:
        for ch in self.channels:
            pv = ch.pvs
            target = min(self._target(ch), HV_HARD_MAX) if not ch.unplugged else 0.0
            updates = {
                "VMon": round(ch.vmon, 3),
                "IMon": round(ch.imon, 4),
                "Status": ch.status(target),
                "Pw": "On" if ch.pw else "Off",
            }
            for key, value in updates.items():
                if pv[key].value != value:
                    await pv[key].write(value, verify_value=False)
            if ch.side == "lv":
                temp = round(30.0 + 2.0 * ch.imon + random.gauss(0, 0.05), 1)
                await pv["Temp"].write(temp, verify_value=False)

    async def run(self) -> None:
        period = 1.0 / self.sim.update_hz
        last = time.monotonic()
        while True:
            await asyncio.sleep(period)
            now = time.monotonic()
            self.step((now - last) * self.sim.time_scale, now)
            last = now
            await self.publish()


def serve(cfg: CaenConfig) -> None:
    """Run the simulated IOC until killed (blocking)."""
    if cfg.ca_server_port:
        os.environ["EPICS_CA_SERVER_PORT"] = str(cfg.ca_server_port)
        os.environ["EPICS_CAS_SERVER_PORT"] = str(cfg.ca_server_port)
    os.environ.setdefault("EPICS_CAS_BEACON_ADDR_LIST", "127.255.255.255")
    os.environ.setdefault("EPICS_CAS_AUTO_BEACON_ADDR_LIST", "NO")
    for noisy in ("caproto", "caproto.ctx", "caproto.bcast", "caproto.bcast.beacon"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    from caproto.asyncio.server import start_server

    frame = Mainframe(cfg)
    log.info(
        "simulated CAEN mainframe: %d channels, %d PVs, prefix %s, CA port %s",
        len(frame.channels), len(frame.pvdb), cfg.prefix, cfg.ca_server_port or 5064,
    )  # fmt: skip

    async def main() -> None:
        task = asyncio.create_task(frame.run())
        try:
            await start_server(frame.pvdb, interfaces=cfg.sim.interfaces)
        finally:
            task.cancel()

    asyncio.run(main())
