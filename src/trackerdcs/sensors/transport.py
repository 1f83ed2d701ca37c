"""DHT boards on a serial port: lines read on a worker thread (pyserial blocks), handed to
the loop; the port is reopened with backoff when it vanishes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import serial

from trackerdcs.core.backoff import Backoff

log = logging.getLogger("trackerdcs.sensors.serial")


async def read_lines(url: str, baudrate: int, on_line: Callable[[str], None]) -> None:
    """Call `on_line` (on the loop) for every line from `url`, forever; cancellable."""
    backoff = Backoff(1.0, 30.0)
    while True:
        try:
            port = await asyncio.to_thread(serial.serial_for_url, url, baudrate=baudrate,
                                           timeout=0.5)  # fmt: skip
        except (serial.SerialException, OSError, ValueError) as exc:
            delay = backoff.next()
            log.warning("%s: %s; retrying in %.0f s", url, exc, delay)
            await asyncio.sleep(delay)
            continue
        backoff.reset()
        log.info("reading DHT lines from %s", url)
        try:
            while True:
                raw = await asyncio.to_thread(port.readline)
                if raw:
                    on_line(raw.decode("ascii", "replace"))
        except (serial.SerialException, OSError) as exc:
            log.warning("%s: %s", url, exc)
        finally:
            port.close()
