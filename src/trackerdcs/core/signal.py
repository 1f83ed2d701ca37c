"""Typed signals: one value read back from the hardware, with its unit, its time and its age.

A signal only ever holds what was read: `update()` with a value that is not a finite number
is *no reading* (the previous value keeps its own, older time and grows stale); `invalidate()`
(the link is gone) leaves no value at all. Nothing here invents a timestamp: `ts` is the time
of the reading, never the time of publishing.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from typing import Generic, TypeVar

from trackerdcs.core import payload as pl

T = TypeVar("T")


def finite(value: object) -> bool:
    """A reading worth keeping: not None, and not NaN/inf when it is a number."""
    if value is None:
        return False
    if isinstance(value, float):
        return math.isfinite(value)
    return True


class Signal(Generic[T]):
    def __init__(self, name: str, unit: str = "", deadband: float = 0.0,
                 stale_after: float | None = None, source: str = ""):  # fmt: skip
        self.name = name
        self.unit = unit
        self.deadband = deadband
        self.stale_after = stale_after
        self.source = source  # where it is read from (a PV, a serial query, a topic)
        self.value: T | None = None
        self.ts: float | None = None
        self.rejected = 0  # non-finite readings seen
        self._waiters: set[asyncio.Future[None]] = set()

    def update(self, value: T | None, ts: float | None = None) -> bool:
        """A new reading; returns False (and keeps the old value) when it is no reading."""
        if not finite(value):
            self.rejected += 1
            return False
        self.value = value
        self.ts = ts if ts is not None else pl.now()
        self._wake()
        return True

    def invalidate(self) -> None:
        """The source is gone: no current value."""
        self.value = None
        self.ts = None
        self._wake()

    def age(self, now: float | None = None) -> float | None:
        if self.ts is None:
            return None
        return max(0.0, (now if now is not None else pl.now()) - self.ts)

    @property
    def fresh(self) -> bool:
        if self.value is None:
            return False
        if self.stale_after is None:
            return True
        age = self.age()
        return age is not None and age <= self.stale_after

    def get(self, default: T) -> T:
        return self.value if self.value is not None else default

    def _wake(self) -> None:
        for fut in self._waiters:
            if not fut.done():
                fut.set_result(None)
        self._waiters.clear()

    def next_change(self) -> asyncio.Future[None]:
        """A future done at the next change. Registered at once, not when first awaited:
        a change arriving before the waiter runs must not be missed."""
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.add(fut)
        return fut

    def forget(self, fut: asyncio.Future[None]) -> None:
        self._waiters.discard(fut)
        fut.cancel()


async def wait_for(
    signals: Signal[T] | list[Signal[T]],
    predicate: Callable[[], bool],
    timeout: float,
) -> bool:
    """Wait until `predicate()` holds, re-checked whenever one of `signals` changes.
    Returns False on timeout (the caller decides what a timeout means); cancellable."""
    sigs = signals if isinstance(signals, list) else [signals]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        left = deadline - loop.time()
        if left <= 0:
            return False
        waits = [(s, s.next_change()) for s in sigs]
        try:
            await asyncio.wait([f for _s, f in waits], timeout=left,
                               return_when=asyncio.FIRST_COMPLETED)  # fmt: skip
        finally:
            for s, f in waits:
                s.forget(f)
    return True
