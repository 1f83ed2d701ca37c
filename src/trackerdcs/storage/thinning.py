"""Change-only writes: a point is stored when its value moved by more than its field's
deadband (strings, booleans and integers: when it changed), or when the series' last stored
point is `keepalive` seconds old, so a flat line is still drawn as a line.

A value held back is not lost information: it is within the deadband of the stored one. When
the series then moves, the last held point is stored before the new one, so a step stays a
step (flat until the moment it moved), not a slope from the last stored point. A series that
goes silent gets its last held point stored by `sweep` once the keep-alive is due.
"""

from __future__ import annotations

from collections.abc import Mapping
from fnmatch import fnmatchcase

from trackerdcs.storage.points import Point, Value

Key = tuple[str, tuple[tuple[str, str], ...], str]


def moved(old: Value, new: Value, band: float) -> bool:
    if isinstance(old, float) and isinstance(new, float):
        return abs(new - old) > band
    return old != new  # integers (enums, status words), booleans and strings: any change


class Thinning:
    def __init__(self, deadbands: Mapping[str, float], keepalive: float):
        # first matching pattern wins: specific names before globs
        self.patterns = sorted(deadbands.items(), key=lambda kv: ("*" in kv[0], kv[0]))
        self.keepalive = keepalive
        self._bands: dict[str, float] = {}
        self._stored: dict[Key, Point] = {}
        self._held: dict[Key, Point] = {}
        self.seen = 0
        self.kept = 0

    def band(self, fld: str) -> float:
        band = self._bands.get(fld)
        if band is None:
            band = next((b for pat, b in self.patterns if fnmatchcase(fld, pat)), 0.0)
            self._bands[fld] = band
        return band

    def admit(self, p: Point) -> list[Point]:
        """The points to store now because `p` arrived (none, `p`, or the held one and `p`)."""
        self.seen += 1
        key = (p.measurement, p.tags, p.field)
        last = self._stored.get(key)
        if last is None or p.ts < last.ts:
            if last is None:
                self._stored[key] = p
            self.kept += 1
            return [p]  # the first of its series, or a late one: stored as it is
        if p.ts == last.ts:
            return []  # the same reading again (a retained copy, a republish)
        if moved(last.value, p.value, self.band(p.field)):
            held = self._held.pop(key, None)
            self._stored[key] = p
            out = [held, p] if held is not None else [p]
        elif p.ts - last.ts >= self.keepalive:
            self._held.pop(key, None)
            self._stored[key] = p
            out = [p]
        else:
            self._held[key] = p
            return []
        self.kept += len(out)
        return out

    def sweep(self, now: float) -> list[Point]:
        """Held points of series that went quiet, once their keep-alive is due."""
        out = []
        for key, held in list(self._held.items()):
            if now - self._stored[key].ts >= self.keepalive:
                del self._held[key]
                self._stored[key] = held
                out.append(held)
        self.kept += len(out)
        return out

    def forget(self) -> None:
        """After a restart of the stream (historian lost, buffer dropped): store afresh."""
        self._stored.clear()
        self._held.clear()
