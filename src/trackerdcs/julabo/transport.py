"""The Julabo serial line over pyserial: a device path or a `socket://`/`rfc2217://` URL.

The unit answers `IN_`/`STATUS`/`VERSION` with one CR LF line and answers nothing to `OUT_`;
it needs > 250 ms between writes and ~10 ms between reads, which this class enforces.
pyserial blocks: the device calls these methods through `asyncio.to_thread`, one at a time
(its own lock), so the service's loop never waits on the line.
"""

from __future__ import annotations

import time

import serial

from trackerdcs.core.device import DeviceError
from trackerdcs.julabo.config import JulaboConfig


class JulaboError(DeviceError):
    """No answer, a garbled answer, or the port is gone."""


class Julabo:
    def __init__(self, cfg: JulaboConfig):
        self.cfg = cfg
        self.port: serial.SerialBase | None = None
        self._last_write = 0.0
        self._last_io = 0.0

    def open(self) -> None:
        self.close()
        c = self.cfg
        # pyserial's RFC 2217 client has no write timeout; its socket has its own
        extra = {} if c.port.startswith("rfc2217://") else {"write_timeout": c.timeout}
        try:
            self.port = serial.serial_for_url(
                c.port,
                baudrate=c.baudrate,
                bytesize=c.bytesize,
                parity=c.parity,
                stopbits=c.stopbits,
                rtscts=c.rtscts,
                timeout=c.timeout,
                **extra,
            )
        except (serial.SerialException, OSError, ValueError, NotImplementedError) as exc:
            self.port = None
            raise JulaboError(f"cannot open {c.port}: {exc}") from exc

    def close(self) -> None:
        if self.port is not None:
            try:
                self.port.close()
            except Exception:  # closing a vanished port may fail in many ways
                pass
            self.port = None

    @property
    def is_open(self) -> bool:
        return self.port is not None and self.port.is_open

    def _wait(self, since: float, spacing: float) -> None:
        delay = since + spacing - time.monotonic()
        if delay > 0:
            time.sleep(delay)

    def query(self, command: str) -> str:
        if self.port is None:
            raise JulaboError("port is not open")
        self._wait(self._last_io, self.cfg.read_spacing)
        try:
            if self.port.in_waiting:  # over RFC 2217 a purge costs a network round trip
                self.port.reset_input_buffer()
            self.port.write(command.encode("ascii") + b"\r")
            raw = self.port.read_until(b"\n")
        except (serial.SerialException, OSError) as exc:
            raise JulaboError(f"{command}: port error: {exc}") from exc
        finally:
            self._last_io = time.monotonic()
        if not raw.endswith(b"\n"):
            raise JulaboError(f"{command}: no answer within {self.cfg.timeout} s")
        try:
            return raw.decode("ascii").strip()
        except UnicodeDecodeError:
            raise JulaboError(f"{command}: garbled answer {raw!r}") from None

    def write(self, command: str) -> None:
        if self.port is None:
            raise JulaboError("port is not open")
        self._wait(self._last_write, self.cfg.write_spacing)
        try:
            self.port.write(command.encode("ascii") + b"\r")
            self.port.flush()
        except (serial.SerialException, OSError) as exc:
            raise JulaboError(f"{command}: port error: {exc}") from exc
        finally:
            self._last_write = self._last_io = time.monotonic()
