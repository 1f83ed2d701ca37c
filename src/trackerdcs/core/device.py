"""Devices: what a family declares, and the link the kernel keeps to it.

A family's device says *what it is*: its signals (typed, with units and deadbands), how to
open, read and close its transport, and how its state follows from read-back (`derive`).
The kernel's `Link` does the rest, once for every family: open with backoff, poll, on a
communication failure invalidate every signal (nothing stale stays current), raise the
INVALID "Disconnected" alarm, close, and try again; clear the alarm when it is back.
A device that has not answered yet since the service started is given `start_grace` seconds
before the alarm (services and device servers start together: a simulator, a serial bridge
or a PLC that listens a moment after the service first tries is no alarm); its values are
no reading meanwhile, as always.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from trackerdcs.core.alarms import AlarmTable
from trackerdcs.core.backoff import Backoff
from trackerdcs.core.signal import Signal


class DeviceError(Exception):
    """Communication with the hardware failed (no answer, garbage, port gone)."""


class Device:
    """Subclasses declare signals as attributes and implement open/read/close/derive."""

    label = "device"

    def signals(self) -> dict[str, Signal[object]]:
        return {k: v for k, v in vars(self).items() if isinstance(v, Signal)}

    async def open(self) -> None:
        """Open the transport and check the device answers; raise DeviceError if not."""

    async def read(self) -> None:
        """Read everything once into the signals; raise DeviceError on a failure."""

    async def close(self) -> None:
        """Release the transport (must not raise)."""

    def derive(self) -> tuple[str, str]:
        """(state, why), from read-back only."""
        return "CONNECTED", ""


class Link:
    """Keeps one device connected and polled; reports every change through `changed`."""

    def __init__(self, device: Device, alarms: AlarmTable, alarm: str, poll: float,
                 changed: Callable[[], None], backoff_max: float = 30.0,
                 log: logging.Logger | None = None, start_grace: float = 10.0):  # fmt: skip
        self.device = device
        self.alarms = alarms
        self.alarm = alarm
        self.poll = poll
        self.changed = changed
        self.backoff = Backoff(1.0, backoff_max)
        self.log = log or logging.getLogger("trackerdcs.link")
        self.connected = False
        self.error = "not connected yet"
        self._retry = asyncio.Event()
        self.start_grace = start_grace
        self._started = time.monotonic()
        self._ever = False  # connected once since the start

    def lost(self, why: str) -> None:
        """Communication failed (in a poll or a command): nothing read stays current."""
        if self.connected:
            self.log.error("%s lost: %s", self.device.label, why)
        self.connected = False
        self.error = why
        for s in self.device.signals().values():
            s.invalidate()
        if self._ever or time.monotonic() - self._started >= self.start_grace:
            self.alarms.raise_(self.alarm, "INVALID", f"{self.device.label} Disconnected: {why}")
        else:
            self.log.info("%s not answering yet (%s): retrying", self.device.label, why)
        self.changed()

    def reconnect_now(self) -> None:
        self.backoff.reset()
        self.connected = False
        self._retry.set()

    async def read_once(self) -> None:
        await self.device.read()
        self.changed()

    async def run(self) -> None:
        while True:
            try:
                await self.device.open()
                self.connected = True
                self._ever = True
                self.error = ""
                self.backoff.reset()
                self.alarms.clear(self.alarm)
                self.log.info("%s connected", self.device.label)
                while self.connected:
                    await self.read_once()
                    await self._pause(self.poll)
            except DeviceError as exc:
                self.lost(str(exc))
            except Exception as exc:
                # a driver's bug or an error it did not expect: the link must not die of it
                self.log.exception("%s: unexpected error", self.device.label)
                self.lost(f"unexpected error: {type(exc).__name__}: {exc}")
            await self.device.close()
            if not self.connected:
                pause = self.backoff.next()
                if not self._ever:  # try again at the end of the grace at the latest
                    left = self.start_grace - (time.monotonic() - self._started)
                    pause = min(pause, left) if left > 0 else pause
                await self._pause(pause)

    async def _pause(self, seconds: float) -> None:
        self._retry.clear()
        try:
            await asyncio.wait_for(self._retry.wait(), seconds)
        except TimeoutError:
            pass
