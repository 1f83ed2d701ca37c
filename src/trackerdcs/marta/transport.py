"""The PLC over Modbus TCP (pymodbus's asyncio client): two block reads per poll, writes
of the command word and the float set-points. Any failure is a MartaError with the text the
library or the PLC gave."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException

from trackerdcs.core.device import DeviceError
from trackerdcs.marta import protocol as p
from trackerdcs.marta.config import MartaConfig


class MartaError(DeviceError):
    pass


class Plc:
    def __init__(self, cfg: MartaConfig):
        self.cfg = cfg
        self.client: AsyncModbusTcpClient | None = None
        self.io = asyncio.Lock()  # one request at a time: the poll and a command share it

    async def open(self) -> None:
        await self.close()
        # no retries of its own: the kernel's link reconnects with backoff and says so
        self.client = AsyncModbusTcpClient(self.cfg.host, port=self.cfg.port,
                                           timeout=self.cfg.timeout, retries=0,
                                           reconnect_delay=0)  # fmt: skip
        if not await self.client.connect():
            raise MartaError(f"no Modbus server at {self.cfg.host}:{self.cfg.port}")

    async def close(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None

    async def _request(self, what: str, request: Callable[[AsyncModbusTcpClient], Any]) -> Any:
        """One request at a time, bounded; any failure a MartaError naming `what`."""
        client = self.client
        if client is None or not client.connected:
            raise MartaError("not connected")
        try:
            async with self.io:
                rr = await asyncio.wait_for(request(client), self.cfg.timeout)
        except TimeoutError:
            raise MartaError(f"{what}: no answer within {self.cfg.timeout:g} s") from None
        except (ModbusException, OSError) as exc:
            raise MartaError(f"{what}: {exc}") from None
        if rr.isError():
            raise MartaError(f"{what}: PLC answered {rr}")
        return rr

    async def read(self, address: int, count: int) -> list[int]:
        rr = await self._request(f"read {address}+{count}", lambda c: c.read_holding_registers(
            address, count=count, device_id=self.cfg.unit))  # fmt: skip
        return list(rr.registers)

    async def write(self, address: int, values: list[int]) -> None:
        await self._request(f"write {address}", lambda c: c.write_registers(
            address, values, device_id=self.cfg.unit))  # fmt: skip

    async def write_float(self, address: int, value: float) -> None:
        await self.write(address, p.encode_float(value))
