"""One board as a device: a signal per chip channel; its reading's `ts` is the oldest."""

from __future__ import annotations

from typing import Any

from trackerdcs.core.device import Device
from trackerdcs.core.signal import Signal
from trackerdcs.envboards import protocol
from trackerdcs.envboards.config import Board
from trackerdcs.sensors.dewpoint import dewpoint


class EnvBoard(Device):
    def __init__(self, cfg: Board):
        self.cfg = cfg
        self.label = f"board {cfg.name}"
        self.channels: dict[str, Signal[float]] = {
            ch: Signal(protocol.field(ch), protocol.CHANNELS[ch].unit, source=cfg.topic(ch))
            for ch in cfg.channels
        }
        self.errors = 0

    def signals(self) -> dict[str, Signal[Any]]:
        return {s.name: s for s in self.channels.values()}

    @property
    def ts(self) -> float | None:
        """Time of the oldest channel's reading; None until every channel has spoken."""
        stamps = [s.ts for s in self.channels.values()]
        return None if None in stamps else min(t for t in stamps if t is not None)

    def age(self, now: float) -> float | None:
        stamps = [s.ts for s in self.channels.values() if s.ts is not None]
        return now - min(stamps) if stamps else None

    def _value(self, channel: str | None) -> float | None:
        return self.channels[channel].value if channel else None

    def derive(self) -> tuple[str, str]:
        silent = [ch for ch, s in self.channels.items() if s.ts is None]
        return ("OK", "") if not silent else ("NO_DATA", f"no reading of {', '.join(silent)}")

    def payload(self) -> dict[str, Any]:
        t, h = self._value(self.cfg.temperature), self._value(self.cfg.humidity)
        out: dict[str, Any] = {
            "name": self.cfg.name,
            "location": self.cfg.location,
            "kind": "ambient",
            "temperature": t,
            "humidity": h,
            "dewpoint": round(dewpoint(t, h), 3) if t is not None and h else None,
        }
        out.update({s.name: s.value for s in self.channels.values()})
        out["ts"] = self.ts
        return out
