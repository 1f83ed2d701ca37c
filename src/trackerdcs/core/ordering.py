"""Per-source ordering by the message's own `ts`.

After a broker restart, QoS 1 messages queued during the outage can arrive after the fresh
state that followed them (a stale HV_RAMP after HV_ON). Every consumer keeps, per topic, the
`ts` of the newest message it took and ignores an older one. A `ts` too far in the future
(a wrong clock, a forged message) is taken but never blocks the real messages after it.
"""

from __future__ import annotations

import math
import time

FUTURE_TOLERANCE = 2.0  # s a message's ts may be ahead of our clock (NTP-synced hosts)


def ts_of(payload: object) -> float | None:
    """The finite `ts` of a decoded JSON object, else None."""
    if isinstance(payload, dict):
        ts = payload.get("ts")
        if isinstance(ts, int | float) and not isinstance(ts, bool) and math.isfinite(ts):
            return float(ts)
    return None


class Newest:
    def __init__(self) -> None:
        self._last: dict[str, float] = {}

    def accept(self, key: str, ts: float | None) -> bool:
        """True if a message from `key` dated `ts` is news (it is not older than the last)."""
        if ts is None:
            return True  # nothing to order by (a plain value): take it
        last = self._last.get(key)
        if last is not None and ts < last and last <= time.time() + FUTURE_TOLERANCE:
            return False
        self._last[key] = ts
        return True

    def forget(self, key: str) -> None:
        self._last.pop(key, None)
