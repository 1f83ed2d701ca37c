"""The same bus for synchronous callers (command-line tools, test probes, simulators that
are plain loops): the asyncio bus runs on a loop in a background thread. Handlers run on
that thread."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import Future
from typing import Any

from trackerdcs.config.bus import BusConfig
from trackerdcs.core.bus import Bus, Handler


class BlockingBus:
    def __init__(self, cfg: BusConfig, service: str | None = None, client_id: str | None = None):
        self.loop = asyncio.new_event_loop()
        self.bus = Bus(cfg, service=service, client_id=client_id)
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True, name="bus")
        self._runner: Future[None] | None = None
        self._stopped = False

    def subscribe(self, pattern: str, handler: Handler) -> None:
        if self._runner is None:
            self.bus.subscribe(pattern, handler)
        else:
            self.loop.call_soon_threadsafe(self.bus.subscribe, pattern, handler)

    def start(self, wait: float | None = 10.0) -> bool:
        self._thread.start()
        self._runner = asyncio.run_coroutine_threadsafe(self.bus.run(), self.loop)
        if wait:
            return self.wait_connected(wait)
        return False

    def wait_connected(self, timeout: float) -> bool:
        fut = asyncio.run_coroutine_threadsafe(self.bus.wait_connected(timeout), self.loop)
        return fut.result(timeout + 1)

    @property
    def connected(self) -> bool:
        return self.bus.connected.is_set()

    @property
    def last_error(self) -> str | None:
        return self.bus.last_error

    def publish(self, topic: str, payload: Any, *, retain: bool = False, qos: int = 1) -> None:
        self.loop.call_soon_threadsafe(lambda: self.bus.publish(topic, payload, retain=retain,
                                                                qos=qos))  # fmt: skip

    def publish_state(self, topic: str, data: dict[str, Any], *, retain: bool = True) -> None:
        self.loop.call_soon_threadsafe(lambda: self.bus.publish_state(topic, data, retain=retain))

    def clear_retained(self, topic: str) -> None:
        self.loop.call_soon_threadsafe(self.bus.clear_retained, topic)

    def request(self, service: str, command: str, payload: Any = None,
                timeout: float = 10.0, user: str | None = None) -> dict[str, Any]:  # fmt: skip
        fut = asyncio.run_coroutine_threadsafe(
            self.bus.request(service, command, payload, timeout, user), self.loop
        )
        return fut.result(timeout + 2)

    def stop(self, timeout: float = 3.0) -> None:
        """Say offline and disconnect; a second call does nothing."""
        if self._stopped:
            return
        self._stopped = True
        if self._runner is not None:
            done = asyncio.run_coroutine_threadsafe(self._shutdown(timeout), self.loop)
            try:
                done.result(timeout + 2)
            except Exception:  # the broker may already be gone
                pass
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout)
        if not self._thread.is_alive():
            self.loop.close()

    async def _shutdown(self, timeout: float) -> None:
        await self.bus.close(timeout)
        me = asyncio.current_task()
        tasks = [t for t in asyncio.all_tasks() if t is not me]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
