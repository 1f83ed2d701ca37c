"""Base class of every service: one process, one bus connection, one command router."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, ClassVar

from trackerdcs.bus import Bus, Command, CommandRouter
from trackerdcs.bus import payload as pl
from trackerdcs.config.model import Stand


class Service:
    """Subclasses set `section` (stand-file key) and `default_name` (first topic level).

    Life cycle: `setup()` registers commands and subscriptions; the bus connects; after every
    (re)connect `on_connect()` re-reads what it must and republishes; `tick()` runs every
    `period` seconds in the main thread; `shutdown()` releases the hardware.
    """

    section: ClassVar[str] = ""
    default_name: ClassVar[str] = ""
    period: float = 1.0

    def __init__(self, stand: Stand, name: str | None = None, bus: Bus | None = None):
        self.stand = stand
        self.cfg: Any = getattr(stand, self.section, None) if self.section else None
        default = self.default_name or self.section
        self.name = name or (self.cfg.service_name(default) if self.cfg is not None else default)
        self.log = logging.getLogger(f"trackerdcs.{self.name}")
        self.bus = bus or Bus(stand.bus, service=self.name)
        self.commands = CommandRouter(self.bus, self.name, self.log)
        self.started = pl.now()
        self._stop = threading.Event()
        self.commands.add("ping", self._ping, "answer with uptime")
        self.bus.on_connect(self.on_connect)

    # -- hooks for subclasses ----------------------------------------------------------------
    def setup(self) -> None:
        """Register commands (`self.commands.add`) and subscriptions."""

    def on_connect(self) -> None:
        """After each (re)connect: republish the current state."""

    def tick(self) -> None:
        """Periodic work (poll hardware, publish)."""

    def shutdown(self) -> None:
        """Release hardware; the bus is still connected here."""

    # -- helpers ---------------------------------------------------------------------------
    def publish_state(self, sub: str, data: dict[str, Any], retain: bool = True) -> None:
        self.bus.publish_state(f"{self.name}/{sub}", data, retain=retain)

    def _ping(self, cmd: Command) -> dict[str, Any]:
        return {"service": self.name, "uptime": round(pl.now() - self.started, 3)}

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def sleep(self, seconds: float) -> bool:
        """Sleep unless stopping; returns False when the service is stopping."""
        return not self._stop.wait(seconds)

    def stop(self) -> None:
        self._stop.set()

    def run(self) -> None:
        self.setup()
        self.bus.start(wait=None)
        self.log.info("service %s started", self.name)
        try:
            next_tick = time.monotonic()
            while not self._stop.is_set():
                try:
                    self.tick()
                except Exception:
                    self.log.exception("tick failed")
                next_tick += self.period
                delay = next_tick - time.monotonic()
                if delay < 0:  # fell behind: do not try to catch up in a burst
                    next_tick = time.monotonic()
                    delay = 0
                self._stop.wait(delay)
        finally:
            try:
                self.shutdown()
            except Exception:
                self.log.exception("shutdown failed")
            self.bus.stop()
            self.log.info("service %s stopped", self.name)
