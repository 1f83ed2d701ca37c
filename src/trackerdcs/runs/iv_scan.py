"""The IV scan procedure: every module's HV channel stepped in parallel on one power service.

It lives with the runs service so that one stand runs one procedure at a time (an IV scan
and a calibration never share the modules) and sequences can drive both. Per step: set the
voltage on every channel still scanning, wait until each reads back within `tolerance`
(bounded), wait `settle`, take `readings` readings `interval` apart, and judge each channel
(compliance, breakdown). A channel that must stop is ramped down at once; the others go on.
Whatever happens (done, stopped, cancelled), every channel ends at `end_voltage`, HV off
when that is 0, and then gets back the set-point it had before the scan (HV off: nothing is
applied; the next HV on goes to the module's bias, not to 0 V). It only ever asks the power
service: its own checks (HV only with LV on, limits) still apply.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, Field

from trackerdcs.core.bus import Bus
from trackerdcs.runs import iv


class IvRequest(BaseModel):
    modules: list[str] | None = None
    start: float = Field(0.0, ge=0, description="V")
    stop: float = Field(gt=0, description="V")
    step: float = Field(gt=0, description="V")
    settle: float = Field(1.0, ge=0, description="s after the read-back is there")
    readings: int = Field(3, ge=1, le=100)
    interval: float = Field(0.2, gt=0, description="s between readings")
    tolerance: float = Field(0.5, gt=0, description="V of read-back from the set voltage")
    retries: int = Field(
        50, ge=1, description="read-back wait per step: retries × interval (≥ 0.1 s) s"
    )
    compliance: float = Field(gt=0, description="µA: software current limit")
    breakdown_factor: float = Field(5.0, gt=1)
    end_voltage: float = Field(0.0, ge=0, description="V every channel ends at")
    note: str = ""


READBACK_POLL = 0.05  # s
READBACK_MIN = 0.1  # s per read-back retry at least


Channels = Callable[[], dict[str, dict[str, Any]]]  # channel id -> latest channel state
Climate = Callable[[], tuple[float | None, float | None]]  # (°C, %RH) now


class IvScan:
    def __init__(self, bus: Bus, power: str, req: IvRequest, modules: dict[str, str],
                 channels: Channels, climate: Climate, stopping: asyncio.Event,
                 on_step: Callable[[int, float], None] = lambda k, v: None,
                 before: dict[str, float] | None = None):  # fmt: skip
        self.bus, self.power, self.req = bus, power, req
        self.on_step = on_step
        self.modules = modules
        self.channels = channels
        self.climate = climate
        self.stopping = stopping
        self.curves: dict[str, dict[str, Any]] = {
            cid: {"module": m, "channel": cid, "status": "scanning", "reason": "", "points": []}
            for cid, m in modules.items()
        }
        self.points: dict[str, list[iv.Point]] = {cid: [] for cid in modules}
        self.step = 0
        self.volts = iv.plan(req.start, req.stop, req.step)
        self.limits = iv.Limits(req.compliance, req.breakdown_factor)
        # the bias each channel was set to before the scan: given back once its HV is off
        # (`before`: a scan taken over after a restart, whose channels sit at a step's voltage)
        self.before: dict[str, float] = dict(before) if before is not None else {}
        for cid in modules if before is None else ():
            setv = channels().get(cid, {}).get("hv_setV")
            if isinstance(setv, int | float) and not isinstance(setv, bool) and setv > 0:
                self.before[cid] = float(setv)

    def scanning(self) -> list[str]:
        return [c for c, cv in self.curves.items() if cv["status"] == "scanning"]

    async def _ask(self, name: str, value: Any) -> str:
        return await self.bus.ask(self.power, name, value)

    def _end(self, cid: str, status: str, reason: str) -> None:
        self.curves[cid].update(status=status, reason=reason)

    async def run(self) -> str:
        """'' when the scan ran to its end (channels stopped by a criterion included), else
        why it did not."""
        why = ""
        try:
            for k, v in enumerate(self.volts):
                self.step = k
                self.on_step(k, v)
                if self.stopping.is_set():
                    why = "stopped"
                    break
                await self._step(v, first=k == 0)
                if not self.scanning():
                    break
        finally:
            # always, even when cancelled: every channel back to the end voltage
            await asyncio.shield(self.ramp_down(list(self.curves)))
        for cid in self.scanning():
            self._end(cid, "aborted" if why else "done", why)
        return why

    async def _set(self, cid: str, v: float, first: bool) -> None:
        err = await self._ask(f"setv/hv/{cid}", v)
        if not err and first:
            err = await self._ask(f"switch/hv/{cid}", "on")
        if err:
            self._end(cid, "failed", err)

    async def _step(self, v: float, first: bool) -> None:
        # every channel asked at once: 40 round trips one after the other cost ~0.4 s a step
        await asyncio.gather(*(self._set(cid, v, first) for cid in self.scanning()))
        # bounded: retries × interval, but never under the read-back's own latency (monitor,
        # service, bus: ~0.1 s each check); looked at every 50 ms
        deadline = time.monotonic() + self.req.retries * max(self.req.interval, READBACK_MIN)
        while time.monotonic() < deadline and not self.stopping.is_set():
            if all(self._reads(c, v) for c in self.scanning()):
                break
            await asyncio.sleep(min(READBACK_POLL, self.req.interval))
        for cid in self.scanning():
            if not self._reads(cid, v):
                got = self.channels().get(cid, {}).get("hv_vMon")
                self._end(cid, "failed", f"HV did not reach {v:g} V (reads {got} V)")
                await self.ramp_down([cid])
        await self._sleep(self.req.settle)
        samples: dict[str, tuple[list[float], list[float]]] = {c: ([], []) for c in self.scanning()}
        for _ in range(self.req.readings):
            now = self.channels()
            for cid, (vs, cs) in samples.items():
                ch = now.get(cid, {})
                if isinstance(ch.get("hv_vMon"), int | float) and ch.get("connected"):
                    vs.append(float(ch["hv_vMon"]))
                    cs.append(float(ch.get("hv_iMon") or 0.0))
            await self._sleep(self.req.interval)
        t, rh = self.climate()
        for cid, (vs, cs) in samples.items():
            try:
                p = iv.point(v, vs, cs, time.time(), t, rh)
            except ValueError as exc:
                self._end(cid, "failed", str(exc))
                await self.ramp_down([cid])
                continue
            self.points[cid].append(p)
            self.curves[cid]["points"].append(p.as_dict())
            verdict = iv.judge(self.points[cid], self.limits)
            if verdict.stop:
                self._end(cid, verdict.kind, verdict.reason)
                await self.ramp_down([cid])

    def _reads(self, cid: str, v: float) -> bool:
        ch = self.channels().get(cid, {})
        got = ch.get("hv_vMon")
        return isinstance(got, int | float) and iv.settled(got, v, self.req.tolerance)

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stopping.wait(), seconds)

    async def ramp_down(self, cids: list[str]) -> None:
        """Every channel in `cids` to the end voltage (HV off at 0 V), at once; what went
        wrong is added to the channel's reason."""
        await asyncio.gather(*(self._down(cid) for cid in cids))

    async def _down(self, cid: str) -> None:
        end = self.req.end_voltage
        if err := await self._ask(f"setv/hv/{cid}", end):
            self.curves[cid]["reason"] += f"; ramp-down: {err}"
        if end != 0:
            return  # HV stays on at the recipe's voltage
        if err := await self._ask(f"switch/hv/{cid}", "off"):
            self.curves[cid]["reason"] += f"; HV off: {err}"
            return  # not off for sure: the set-point stays at 0 V
        if (bias := self.before.get(cid)) is not None and (
            err := await self._ask(f"setv/hv/{cid}", bias)
        ):
            self.curves[cid]["reason"] += f"; set-point back to {bias:g} V: {err}"
