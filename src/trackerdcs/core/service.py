"""Base class of every service: one process, one asyncio loop, one bus connection.

Life cycle: the constructor declares (commands from `@command` methods, subscriptions,
periodic jobs with `every`); `run()` starts the loop, connects the bus (reconnecting by
itself), serves commands one at a time, runs `main()` and the periodic jobs; SIGTERM/SIGINT
cancel them (a cancelled procedure writes nothing more), `shutdown()` releases the hardware,
and the service says `online: false` before it disconnects. After every (re)connect
`on_connect()` republishes what must be current.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import logging
import signal
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, ClassVar

from trackerdcs.config.model import Stand
from trackerdcs.core import payload as pl
from trackerdcs.core import peers, topics
from trackerdcs.core.alarms import Alarm, AlarmCommands, AlarmTable
from trackerdcs.core.bus import Bus, Message
from trackerdcs.core.commands import Command, CommandRouter, command

Job = Callable[[], Awaitable[Any] | Any]

# a SIGTERM that arrives while the process is still importing must not kill it mid-way:
# `trackerdcs run` installs this flag handler first, the loop takes over once it runs
EARLY_STOP: list[int] = []


def _early(signum: int, frame: Any) -> None:
    EARLY_STOP.append(signum)


def defer_signals() -> None:
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _early)


class Service(AlarmCommands):
    """Subclasses set `section` (stand-file key) and `default_name` (first topic level)."""

    section: ClassVar[str] = ""
    default_name: ClassVar[str] = ""

    def __init__(self, stand: Stand, name: str | None = None):
        self.stand = stand
        self.cfg: Any = getattr(stand, self.section, None) if self.section else None
        default = self.default_name or self.section
        self.name = name or (self.cfg.service_name(default) if self.cfg is not None else default)
        self.log = logging.getLogger(f"trackerdcs.{self.name}")
        self.bus = Bus(stand.bus.account(self.name, stand.base_dir), service=self.name)
        store = stand.data_dir / "alarms" / f"{self.name}.json" if stand.source else None
        self.alarms = AlarmTable(self.name, self._publish_alarm, store=store)
        self.commands = CommandRouter(
            self.name, self.bus.publish, self, frozenset({peers.safety(stand)}), self.log
        )
        self.bus.subscribe(topics.cmd(self.name), self.commands.on_message)
        self.bus.on_connect(self.on_connect)
        self.started = pl.now()
        self._jobs: list[tuple[float, Job]] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._stop = asyncio.Event()
        self.every(1.0, self.alarms.expire_shelves)
        self.every(getattr(self.cfg, "heartbeat", 5.0), self.republish)

    # -- declarations ----------------------------------------------------------------------
    def session_id(self) -> str:
        """A client id fixed for this service of this stand: a broker session under it
        (clean_session off) outlives the process, so QoS 1 messages published while the
        service restarts wait for it."""
        stand_id = hashlib.sha1(str(self.stand.data_dir).encode()).hexdigest()[:8]
        return f"{self.name}-{stand_id}"

    def every(self, period: float, job: Job) -> None:
        """Run `job` every `period` s (from the end of the previous run: no bursts)."""
        self._jobs.append((period, job))

    def subscribe(self, pattern: str, handler: Callable[[Message], None]) -> None:
        self.bus.subscribe(pattern, handler)

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str = "") -> asyncio.Task[Any]:
        """A background task owned by the service: logged if it fails, cancelled at stop."""
        task = asyncio.get_running_loop().create_task(coro, name=name or None)
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            self.log.error("task %s failed", task.get_name(), exc_info=exc)

    # -- hooks for subclasses --------------------------------------------------------------
    def republish(self) -> None:
        """Publish the whole current state: after every (re)connect and every `heartbeat` s
        (the one setting of the periodic full republish)."""

    def on_connect(self) -> None:
        self.republish()
        self.alarms.republish()

    async def main(self) -> None:
        """The service's own long-running work (a device link, a server); default: none."""

    async def shutdown(self) -> None:
        """Release hardware; the bus is still connected here."""

    # -- helpers ---------------------------------------------------------------------------
    def publish_state(self, sub: str, data: dict[str, Any], retain: bool = True) -> None:
        self.bus.publish_state(f"{self.name}/{sub}", data, retain=retain)

    def _publish_alarm(self, a: Alarm) -> None:
        self.bus.publish(topics.alarm(a.name), a.payload(), retain=True)

    @command("refresh", role="viewer", help="republish everything")
    def refresh(self, cmd: Command) -> dict[str, Any]:
        self.on_connect()
        return {"service": self.name}

    @command("ping", role="viewer", help="answer with uptime")
    def ping(self, cmd: Command) -> dict[str, Any]:
        return {"service": self.name, "uptime": round(pl.now() - self.started, 3)}

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def stop(self) -> None:
        self._stop.set()

    # -- running ---------------------------------------------------------------------------
    async def _periodic(self, period: float, job: Job) -> None:
        while True:
            try:
                result = job()
                if inspect.isawaitable(result):
                    await result
            except Exception:
                self.log.exception("periodic %s failed", getattr(job, "__name__", job))
            await asyncio.sleep(period)

    async def run_async(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.stop)
        if EARLY_STOP:
            self.stop()
        bus = loop.create_task(self.bus.run(), name="bus")
        self.spawn(self.commands.serve(), "commands")
        self.spawn(self.main(), "main")
        for period, job in self._jobs:
            self.spawn(self._periodic(period, job), f"every-{period}")
        self.log.info("service %s started", self.name)
        try:
            await self._stop.wait()
        finally:
            tasks = list(self._tasks)
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            try:
                await self.shutdown()
            except Exception:
                self.log.exception("shutdown failed")
            await self.bus.close()
            bus.cancel()
            await asyncio.gather(bus, return_exceptions=True)
            self.log.info("service %s stopped", self.name)

    def run(self) -> None:
        asyncio.run(self.run_async())
