"""The plant as a device: one signal per register value, the command bits, the status word
and the alarm bits read back; its state from read-back only."""

from __future__ import annotations

from typing import cast

from trackerdcs.core.device import Device
from trackerdcs.core.signal import Signal
from trackerdcs.marta import protocol as p
from trackerdcs.marta.config import MartaConfig
from trackerdcs.marta.transport import MartaError, Plc


def _unit(name: str) -> str:
    for key, unit in p.UNITS.items():
        if key in name:
            return unit
    return ""


class Marta(Device):
    label = "MARTA"

    def __init__(self, cfg: MartaConfig):
        self.cfg = cfg
        self.plc = Plc(cfg)
        self.values: dict[str, Signal[float]] = {
            name: Signal(
                name, _unit(name), 0.05 if _unit(name) in ("°C", "bar") else 0.5, source=f"HR{addr}"
            )
            for name, addr in p.READ_FLOATS.items()
        }
        self.status: Signal[int] = Signal("status", source=f"HR{p.STATUS}")
        self.command: Signal[int] = Signal("command", source=f"HR{p.COMMAND}")
        self.alarm_words: Signal[dict[int, int]] = Signal("alarms", source="HR300-303")

    def signals(self) -> dict[str, Signal[object]]:
        every: list[Signal[object]] = [cast(Signal[object], s) for s in self.values.values()]
        every += [cast(Signal[object], s) for s in (self.status, self.command, self.alarm_words)]
        return {s.name: s for s in every}

    async def open(self) -> None:
        await self.plc.open()

    async def close(self) -> None:
        await self.plc.close()

    async def read(self) -> None:
        """Both blocks, then every signal; a failure anywhere means no state, never a guess."""
        block = await self.plc.read(p.READ_START, p.READ_COUNT)
        control = await self.plc.read(p.CONTROL_START, p.CONTROL_COUNT)
        words = {reg: control[reg - p.CONTROL_START] for reg in p.ALARM_REGS}
        status = control[p.STATUS - p.CONTROL_START]
        if status not in (1, 2, 3):
            raise MartaError(f"status register {p.STATUS} reads {status}")
        for name, value in p.decode_block(p.READ_START, block).items():
            self.values[name].update(value)
        self.status.update(status)
        self.command.update(control[p.COMMAND - p.CONTROL_START])
        self.alarm_words.update(words)

    def alarms(self) -> list[str]:
        return p.alarms_of(self.alarm_words.value or {})

    def derive(self) -> tuple[str, str]:
        if self.status.value is None or self.command.value is None:
            return "CONNECTED", ""
        state, why = p.state_of(self.status.value, self.command.value)
        if state == "ALARM" and (names := self.alarms()):
            why = ", ".join(names)
        return state, why

    async def set_bits(self, **bits: bool) -> None:
        """Change command bits from the word read back now (never a remembered one)."""
        word = (await self.plc.read(p.COMMAND, 1))[0]
        for name, on in bits.items():
            word = p.with_bit(word, getattr(p, name.upper()), on)
        await self.plc.write(p.COMMAND, [word])
