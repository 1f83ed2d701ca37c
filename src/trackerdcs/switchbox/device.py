"""The box as a device: the master relay and each channel's relay, read back by STATUS?."""

from __future__ import annotations

from typing import cast

from trackerdcs.core.device import Device
from trackerdcs.core.signal import Signal
from trackerdcs.switchbox import protocol as p
from trackerdcs.switchbox.config import SwitchboxConfig
from trackerdcs.switchbox.transport import Line, SwitchboxError


class Switchbox(Device):
    label = "switchbox"

    def __init__(self, cfg: SwitchboxConfig):
        self.cfg = cfg
        self.line = Line(cfg)
        self.master: Signal[bool] = Signal("LV", source=f"{cfg.port} {p.STATUS}")
        self.relays: dict[int, Signal[bool]] = {
            n: Signal(f"CH{n}", source=f"{cfg.port} {p.STATUS}") for n in range(1, cfg.relays + 1)
        }

    def signals(self) -> dict[str, Signal[object]]:
        every = [self.master, *self.relays.values()]
        return {s.name: cast(Signal[object], s) for s in every}

    async def open(self) -> None:
        await self.line.open()
        await self.read()

    async def close(self) -> None:
        await self.line.close()

    async def read(self) -> None:
        answer = await self.line.ask(p.STATUS)
        try:
            master, channels = p.parse_status(answer, self.cfg.relays)
        except ValueError as exc:
            raise SwitchboxError(str(exc)) from None
        self.master.update(master)
        for n, on in channels.items():
            self.relays[n].update(on)

    def passes(self, n: int) -> bool | None:
        """LV passes channel n (master and its relay on); None when unknown."""
        m, r = self.master.value, self.relays[n].value
        return None if m is None or r is None else (m and r)

    async def switch(self, target: str, on: bool) -> None:
        await self.line.ask(p.command(target, on))
