"""Signals that stop a thread-based program (the supervisor, the plain simulators, the
Ph2_ACF simulator, the serial bridge)."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable


def stop_on(stop: Callable[[], None], *signals: int) -> None:
    """These signals call `stop` (an event's `set`) — from a helper thread, not in the
    handler: the handler runs in the main thread, maybe while that thread holds the event's
    lock (inside its wait or set), and a second SIGTERM there deadlocked (seen in CI: the
    sensors simulator outlived its killed supervisor, its main thread stuck in Event.set
    inside the handler)."""
    for sig in signals or (signal.SIGTERM,):
        signal.signal(sig, lambda *_: threading.Thread(target=stop, daemon=True).start())
