"""Retained state publishing with deadbands, written once for every family.

A state is published when a field changed (numbers: by at least their deadband) or when it
is forced (a reconnect, a `refresh`, the periodic full republish every `heartbeat` s).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from trackerdcs.core.bus import Bus


def moved(new: Mapping[str, Any], old: Mapping[str, Any], deadbands: Mapping[str, float]) -> bool:
    """True when `new` differs from `old` by more than the deadbands (ts is not compared)."""
    if not old:
        return True
    for key, value in new.items():
        if key == "ts":
            continue
        before = old.get(key)
        band = deadbands.get(key)
        if band is not None and isinstance(value, float) and isinstance(before, float):
            if abs(value - before) >= band:
                return True
        elif value != before:
            return True
    return False


class StatePublisher:
    """One retained JSON state topic (and optionally a non-retained stream copy)."""

    def __init__(self, bus: Bus, topic: str, deadbands: Mapping[str, float] | None = None,
                 stream: str | None = None):  # fmt: skip
        self.bus = bus
        self.topic = topic
        self.deadbands = dict(deadbands or {})
        self.stream = stream
        self.last: dict[str, Any] = {}

    def offer(self, data: dict[str, Any], force: bool = False) -> bool:
        if not force and not moved(data, self.last, self.deadbands):
            return False
        self.last = data
        if self.stream:
            self.bus.publish_state(self.stream, data, retain=False)
        self.bus.publish_state(self.topic, data)
        return True
