"""Live state for the browser: the latest payload of every state topic, fanned out to
WebSocket clients, and command replies matched to the requests waiting for them."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

from trackerdcs.core.bus import Message
from trackerdcs.core.topics import matches

HIDDEN = ("+/cmd/#", "sim/#", "+/heartbeat")


def decode(raw: bytes) -> Any:
    text = raw.decode("utf-8", "replace")
    try:
        return json.loads(text)
    except ValueError:
        return text


def _settle(fut: asyncio.Future[Any], value: Any) -> None:
    if not fut.done():
        fut.set_result(value)


class LiveState:
    def __init__(self) -> None:
        self.latest: dict[str, Any] = {}
        self._clients: set[tuple[asyncio.AbstractEventLoop, asyncio.Queue[dict[str, Any]]]] = set()
        self._waiting: dict[str, tuple[asyncio.AbstractEventLoop, asyncio.Future[Any]]] = {}
        self._lock = threading.Lock()
        self.sent = 0

    # called on the bus thread
    def on_message(self, msg: Message) -> None:
        if any(matches(p, msg.topic) for p in HIDDEN):
            return
        payload = decode(msg.payload)
        if msg.topic.endswith("/reply") and isinstance(payload, dict):
            waiter = self._waiting.pop(str(payload.get("id")), None)
            if waiter is not None:
                loop, fut = waiter
                loop.call_soon_threadsafe(_settle, fut, payload)
        item = {"topic": msg.topic, "payload": payload}
        with self._lock:
            if not msg.payload:  # a cleared retained topic
                self.latest.pop(msg.topic, None)
            else:
                self.latest[msg.topic] = payload
            clients = list(self._clients)
        for loop, q in clients:
            loop.call_soon_threadsafe(self._offer, q, item)

    def _offer(self, q: asyncio.Queue[dict[str, Any]], item: dict[str, Any]) -> None:
        if q.full():  # a stalled browser must not hold memory: drop its oldest update
            q.get_nowait()
        q.put_nowait(item)
        self.sent += 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return dict(self.latest)

    def connect(self) -> asyncio.Queue[dict[str, Any]]:
        q: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=10000)
        with self._lock:
            self._clients.add((asyncio.get_running_loop(), q))
        return q

    def disconnect(self, q: asyncio.Queue[dict[str, Any]]) -> None:
        with self._lock:
            self._clients = {c for c in self._clients if c[1] is not q}

    def expect_reply(self, cid: str) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Any] = loop.create_future()
        self._waiting[cid] = (loop, fut)
        return fut

    def forget(self, cid: str) -> None:
        self._waiting.pop(cid, None)
