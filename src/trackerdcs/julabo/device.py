"""The circulator as a device: its signals, one poll, and its state from STATUS."""

from __future__ import annotations

import asyncio

from trackerdcs.core.device import Device
from trackerdcs.core.signal import Signal
from trackerdcs.julabo import protocol
from trackerdcs.julabo.config import JulaboConfig
from trackerdcs.julabo.transport import Julabo, JulaboError


class Chiller(Device):
    label = "chiller"

    def __init__(self, cfg: JulaboConfig):
        self.cfg = cfg
        self.line = Julabo(cfg)
        self.io = asyncio.Lock()  # one exchange on the line at a time
        self.status_code: Signal[int] = Signal("status_code", source="STATUS")
        self.status_text: Signal[str] = Signal("status_text", source="STATUS")
        self.internal_temp: Signal[float] = Signal("internal_temp", "°C", 0.05, source="IN_PV_00")
        self.power: Signal[float] = Signal("power", "%", 1.0, source="IN_PV_01")
        self.external_temp: Signal[float] = Signal("external_temp", "°C", 0.05, source="IN_PV_02")
        self.setpoint_1: Signal[float] = Signal("setpoint_1", "°C", source="IN_SP_00")
        self.setpoint_2: Signal[float] = Signal("setpoint_2", "°C", source="IN_SP_01")
        self.setpoint_3: Signal[float] = Signal("setpoint_3", "°C", source="IN_SP_02")
        self.used_setpoint: Signal[int] = Signal("used_setpoint", source="IN_MODE_01")
        self.ext_is_used: Signal[bool] = Signal("ext_is_used", source="IN_MODE_04")
        self.running: Signal[bool] = Signal("running", source="IN_MODE_05")
        self.version = ""

    async def open(self) -> None:
        async with self.io:
            await asyncio.to_thread(self.line.open)
            self.version = await asyncio.to_thread(self.line.query, "VERSION")

    async def close(self) -> None:
        async with self.io:
            await asyncio.to_thread(self.line.close)

    def _read_all(self) -> tuple[int, str, dict[str, float]]:
        code, text = protocol.parse_status(self.line.query("STATUS"))
        raw = {name: protocol.parse_number(q, self.line.query(q))
               for name, q in protocol.READS.items()}  # fmt: skip
        return code, text, raw

    async def read(self) -> None:
        """The whole state in one go; a failure anywhere means no state, never a guess."""
        async with self.io:
            try:
                code, text, raw = await asyncio.to_thread(self._read_all)
            except protocol.ProtocolError as exc:
                raise JulaboError(str(exc)) from None
        self.status_code.update(code)
        self.status_text.update(text)
        for name, value in protocol.interpret(raw).items():
            getattr(self, name).update(value)

    async def write(self, line: str) -> None:
        async with self.io:
            await asyncio.to_thread(self.line.write, line)

    def derive(self) -> tuple[str, str]:
        code = self.status_code.value
        if code is None:
            return "CONNECTED", ""
        return protocol.state_of(code, self.status_text.get(""), self.cfg.alarm_codes)
