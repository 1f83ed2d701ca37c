"""Payload conventions of the bus.

Timestamps are UTC epoch seconds (float) in the field `ts`: numeric, cheap to compare, and what
the historian stores. Reference-stack payloads (plain floats, `on`/`off`) are still accepted.
"""

from __future__ import annotations

import json
import math
import time
from typing import Any


def now() -> float:
    return time.time()


def _default(obj: Any) -> Any:
    if hasattr(obj, "model_dump"):
        return obj.model_dump(mode="json")
    if isinstance(obj, set | frozenset | tuple):
        return list(obj)
    if hasattr(obj, "value") and hasattr(obj, "name"):  # enums
        return obj.value
    return str(obj)


def _clean(obj: Any) -> Any:
    # JSON has no NaN/Inf: a reading that is not a number is published as null
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    return obj


def encode(payload: Any) -> bytes:
    """dict/list -> JSON; bool -> `true`/`false` (reference `online` form); numbers -> text."""
    if payload is None:
        return b""
    if isinstance(payload, bytes | bytearray):
        return bytes(payload)
    if isinstance(payload, bool):
        return b"true" if payload else b"false"
    if isinstance(payload, str):
        return payload.encode()
    if isinstance(payload, int | float):
        return json.dumps(_clean(payload)).encode()
    return json.dumps(_clean(payload), default=_default, separators=(",", ":")).encode()


def stamped(data: dict[str, Any], ts: float | None = None) -> dict[str, Any]:
    """Copy of `data` carrying a `ts` (kept if already there: the value's own time wins)."""
    out = dict(data)
    out.setdefault("ts", ts if ts is not None else now())
    return out


def decode_json(raw: bytes) -> Any:
    return json.loads(raw.decode("utf-8"))
