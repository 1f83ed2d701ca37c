"""A bus client for tests: records every message and waits for conditions, with timeouts."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from trackerdcs.config.bus import BusConfig
from trackerdcs.core.blocking import BlockingBus
from trackerdcs.core.bus import Message


class Probe:
    def __init__(self, cfg: BusConfig, subscribe: tuple[str, ...] = ("#",)):
        self.bus = BlockingBus(cfg, service=None, client_id=f"probe-{uuid.uuid4().hex[:8]}")
        self.messages: list[Message] = []
        self.latest: dict[str, Message] = {}
        self._cond = threading.Condition()
        for pattern in subscribe:
            self.bus.subscribe(pattern, self._on_msg)

    def __enter__(self) -> Probe:
        if not self.bus.start(wait=10):
            self.bus.stop()  # not left retrying in the background
            raise TimeoutError("probe could not connect to the broker")
        return self

    def __exit__(self, *exc: object) -> None:
        self.bus.stop()

    def _on_msg(self, msg: Message) -> None:
        with self._cond:
            self.messages.append(msg)
            self.latest[msg.topic] = msg
            self._cond.notify_all()

    def wait_for(
        self,
        topic: str,
        predicate: Callable[[Message], bool] = lambda m: True,
        timeout: float = 10.0,
        since: int = 0,
    ) -> Message:
        """First message on `topic` (index >= since) satisfying predicate, else TimeoutError."""
        from trackerdcs.core.topics import matches

        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for msg in self.messages[since:]:
                    if matches(topic, msg.topic) and predicate(msg):
                        return msg
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [m for m in self.messages if matches(topic, m.topic)]
                    # the last one says what the service was doing instead
                    last = f"; the last: {seen[-1].topic} {seen[-1].text[:400]}" if seen else ""
                    raise TimeoutError(
                        f"no matching message on {topic} in {timeout} s; {len(seen)} others{last}"
                    )
                self._cond.wait(left)

    def wait_json(
        self, topic: str, predicate: Callable[[Any], bool], timeout: float = 10.0, since: int = 0
    ) -> Any:
        def ok(m: Message) -> bool:
            try:
                return bool(predicate(json.loads(m.payload)))
            except (ValueError, KeyError, TypeError):
                return False

        return json.loads(self.wait_for(topic, ok, timeout, since).payload)

    def mark(self) -> int:
        """Index to pass as `since` to ignore what came before."""
        with self._cond:
            return len(self.messages)

    def publish(self, topic: str, payload: Any, retain: bool = False) -> None:
        self.bus.publish(topic, payload, retain=retain)

    def command(
        self, service: str, name: str, payload: Any = None, timeout: float = 10.0
    ) -> dict[str, Any]:
        """Send a command with an id and return its reply."""
        return self.bus.request(service, name, payload, timeout)
