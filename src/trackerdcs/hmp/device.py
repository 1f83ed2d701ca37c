"""The supply as a device: per output its set values, read-back, output and OVP state,
each a signal; an output's state from read-back only."""

from __future__ import annotations

from typing import Any, cast

from trackerdcs.core.device import Device
from trackerdcs.core.signal import Signal
from trackerdcs.hmp import protocol as p
from trackerdcs.hmp.config import HmpConfig
from trackerdcs.hmp.transport import HmpError, Scpi


class Output:
    """One output: its signals and what they imply."""

    def __init__(self, cid: int, module: str | None, source: str):
        self.id = cid
        self.module = module
        self.values: dict[str, Signal[Any]] = {
            name: Signal(f"ch{cid}_{name}", p.UNITS.get(name, ""), source=f"{source} {query}")
            for name, query in p.READ.items()
        }
        # an order we sent that the next read has not yet confirmed (read-back lags it)
        self.ordered: bool | None = None

    def get(self, name: str) -> Any:
        return self.values[name].value

    @property
    def on(self) -> bool | None:
        v = self.get("output")
        return None if v is None else bool(v)

    @property
    def tripped(self) -> bool | None:
        v = self.get("ovp_tripped")
        return None if v is None else bool(v)

    def state(self, connected: bool) -> tuple[str, str]:
        return p.channel_state(connected, self.on, self.tripped)

    def mode(self) -> str | None:
        """CV or CC: a current at its limit means the limit holds the voltage down."""
        i, iset = self.get("imon"), self.get("iset")
        if not self.on or i is None or iset is None:
            return None
        return "CC" if iset > 0 and i >= 0.995 * iset else "CV"


class Hmp(Device):
    def __init__(self, cfg: HmpConfig):
        self.cfg = cfg
        self.label = cfg.model
        self.scpi = Scpi(cfg.host, cfg.port, cfg.timeout)
        n = p.MODELS[cfg.model][0]
        self.outputs = {
            cid: Output(cid, cfg.channels[cid].module if cid in cfg.channels else None,
                        f"{cfg.host}:{cfg.port} ch{cid}")
            for cid in range(1, n + 1)
        }  # fmt: skip
        self.master: Signal[bool] = Signal("master", source=f"{cfg.host}:{cfg.port} {p.MASTER}")
        self.identity = ""

    def signals(self) -> dict[str, Signal[object]]:
        out: dict[str, Signal[object]] = {"master": cast(Signal[object], self.master)}
        for o in self.outputs.values():
            out.update({s.name: cast(Signal[object], s) for s in o.values.values()})
        return out

    async def open(self) -> None:
        await self.scpi.open()
        answer = await self.scpi.query(p.IDN)
        try:
            vendor, model = p.parse_idn(answer)
        except ValueError as exc:
            raise HmpError(f"{self.scpi.where}: {exc}") from None
        if vendor.upper() not in p.VENDORS or model != self.cfg.model:
            raise HmpError(f"{self.scpi.where} is {vendor} {model}, the stand file says "
                           f"{self.cfg.model}")  # fmt: skip
        self.identity = answer

    async def close(self) -> None:
        await self.scpi.close()

    async def read(self) -> None:
        """Every output, then every signal: a failure anywhere means no state, never a guess."""
        read: dict[int, dict[str, float]] = {}
        master = await self._read_master()
        for cid in self.outputs:
            answers = await self.scpi.queries(list(p.READ.values()), setup=[p.select(cid)])
            try:
                read[cid] = {
                    name: (float(p.flag(a)) if name in ("output", "ovp_tripped") else p.number(a))
                    for name, a in zip(p.READ, answers, strict=True)
                }
            except ValueError as exc:
                raise HmpError(f"{self.scpi.where} channel {cid}: {exc}") from None
        self.master.update(master)
        for cid, values in read.items():
            o = self.outputs[cid]
            for name, value in values.items():
                # a channel selected for output is live only with the master on
                o.values[name].update(bool(value) and master if name == "output" else value)
            if o.ordered is not None and o.on == o.ordered:
                o.ordered = None

    async def _read_master(self) -> bool:
        answer = await self.scpi.query(p.MASTER)
        try:
            return p.flag(answer)
        except ValueError as exc:
            raise HmpError(f"{self.scpi.where}: {exc}") from None

    async def switch(self, cid: int, on: bool) -> None:
        self.outputs[cid].ordered = on
        lines = [p.select(cid), p.output(on)]
        if on:
            lines.append(p.MASTER_ON)
        await self.scpi.write(*lines)

    async def set(self, cid: int, what: str, value: float) -> None:
        line = {"voltage": p.set_voltage, "current": p.set_current, "ovp": p.set_ovp}[what]
        await self.scpi.write(p.select(cid), line(value))

    async def clear_trip(self, cid: int) -> None:
        await self.scpi.write(p.select(cid), p.CLEAR_OVP)
