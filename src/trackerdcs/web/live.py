"""Live state for the browser: the latest payload of every state topic, fanned out to
WebSocket clients."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from trackerdcs.core.bus import Message
from trackerdcs.core.ordering import Newest, ts_of
from trackerdcs.core.topics import matches

HIDDEN = ("+/cmd/#", "sim/#", "+/heartbeat")


def decode(raw: bytes) -> Any:
    text = raw.decode("utf-8", "replace")
    try:
        return json.loads(text)
    except ValueError:
        return text


class LiveState:
    """Lives on the web service's loop, beside the bus: no lock, no thread hand-over."""

    def __init__(self) -> None:
        self.latest: dict[str, Any] = {}
        self._clients: list[asyncio.Queue[dict[str, Any]]] = []
        self.sent = 0
        self.newest = Newest()

    def on_message(self, msg: Message) -> None:
        if any(matches(p, msg.topic) for p in HIDDEN):
            return
        payload = decode(msg.payload)
        if not msg.payload:  # a cleared retained topic
            self.latest.pop(msg.topic, None)
            self.newest.forget(msg.topic)
        elif not self.newest.accept(msg.topic, ts_of(payload)):
            return  # older than what is shown: a queued message delivered late
        else:
            self.latest[msg.topic] = payload
        item = {"topic": msg.topic, "payload": payload}
        for q in self._clients:
            if q.full():  # a stalled browser must not hold memory: drop its oldest update
                q.get_nowait()
            q.put_nowait(item)
            self.sent += 1

    def snapshot(self) -> dict[str, Any]:
        return dict(self.latest)

    def connect(self) -> asyncio.Queue[dict[str, Any]]:
        q: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=10000)
        self._clients.append(q)
        return q

    def disconnect(self, q: asyncio.Queue[dict[str, Any]]) -> None:
        self._clients = [c for c in self._clients if c is not q]
