"""Reconnect backoff, written once: the bus, every device link and every serial reader use it."""

from __future__ import annotations

import random


class Backoff:
    """Doubling delays from `first` to `longest`, with ±10 % jitter so that services restarted
    together do not hammer a broker or a port in lock-step."""

    def __init__(self, first: float = 0.5, longest: float = 30.0):
        self.first = first
        self.longest = max(first, longest)
        self._next = first

    def next(self) -> float:
        delay = self._next
        self._next = min(self._next * 2, self.longest)
        return delay * random.uniform(0.9, 1.1)

    def reset(self) -> None:
        self._next = self.first
