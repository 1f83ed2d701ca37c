"""The box's serial line over pyserial (a device path or a `socket://` URL). pyserial
blocks: every exchange runs in a thread, one at a time (a lock), so the loop never waits."""

from __future__ import annotations

import asyncio
import termios

import serial

from trackerdcs.core.device import DeviceError
from trackerdcs.switchbox.config import SwitchboxConfig


class SwitchboxError(DeviceError):
    """No answer, a garbled one, or the port gone."""


class BoxRefused(Exception):
    """The box answered `ERR ...`."""


class Line:
    def __init__(self, cfg: SwitchboxConfig):
        self.cfg = cfg
        self.port: serial.SerialBase | None = None
        self._lock = asyncio.Lock()

    async def open(self) -> None:
        await self.close()
        try:
            self.port = await asyncio.to_thread(
                serial.serial_for_url, self.cfg.port, baudrate=self.cfg.baudrate,
                timeout=self.cfg.timeout, write_timeout=self.cfg.timeout,
            )  # fmt: skip
        except (serial.SerialException, OSError, ValueError) as exc:
            raise SwitchboxError(f"cannot open {self.cfg.port}: {exc}") from None

    async def close(self) -> None:
        port, self.port = self.port, None
        if port is not None:
            try:
                port.close()
            except Exception:  # a vanished port fails to close in many ways
                pass

    def _exchange(self, line: str) -> str:
        port = self.port
        if port is None:
            raise SwitchboxError(f"{self.cfg.port} not open")
        try:
            port.reset_input_buffer()  # a late answer must not be read as this one's
            port.write(f"{line}\n".encode())
            raw = port.readline()
        except (serial.SerialException, OSError, termios.error) as exc:
            # termios.error: the other end of a pty (or a USB adapter) is gone
            raise SwitchboxError(f"{self.cfg.port}: {exc}") from None
        if not raw.endswith(b"\n"):
            raise SwitchboxError(f"no answer on {self.cfg.port} within {self.cfg.timeout:g} s "
                                 f"to {line!r}")  # fmt: skip
        return raw.decode("ascii", "replace").strip()

    async def ask(self, line: str) -> str:
        async with self._lock:
            answer = await asyncio.to_thread(self._exchange, line)
        if answer.startswith("ERR"):
            raise BoxRefused(answer.removeprefix("ERR").strip() or "refused")
        return answer
