"""The PLC over Modbus TCP (pymodbus's asyncio client): two block reads per poll, writes
of the command word and the float set-points. Any failure is a MartaError with the text the
library or the PLC gave."""

from __future__ import annotations

import asyncio

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

    async def read(self, address: int, count: int) -> list[int]:
        if self.client is None or not self.client.connected:
            raise MartaError("not connected")
        try:
            async with self.io:
                rr = await asyncio.wait_for(self.client.read_holding_registers(
                    address, count=count, device_id=self.cfg.unit), self.cfg.timeout)  # fmt: skip
        except TimeoutError:
            raise MartaError(f"read {address}+{count}: no answer within {self.cfg.timeout:g} s"
                             ) from None  # fmt: skip
        except (ModbusException, OSError) as exc:
            raise MartaError(f"read {address}+{count}: {exc}") from None
        if rr.isError():
            raise MartaError(f"read {address}+{count}: PLC answered {rr}")
        return list(rr.registers)

    async def write(self, address: int, values: list[int]) -> None:
        if self.client is None or not self.client.connected:
            raise MartaError("not connected")
        try:
            async with self.io:
                rr = await asyncio.wait_for(self.client.write_registers(
                    address, values, device_id=self.cfg.unit), self.cfg.timeout)  # fmt: skip
        except TimeoutError:
            raise MartaError(f"write {address}: no answer within {self.cfg.timeout:g} s"
                             ) from None  # fmt: skip
        except (ModbusException, OSError) as exc:
            raise MartaError(f"write {address}: {exc}") from None
        if rr.isError():
            raise MartaError(f"write {address}: PLC answered {rr}")

    async def write_float(self, address: int, value: float) -> None:
        await self.write(address, p.encode_float(value))
