"""The recorder's write-ahead journal: every point is on disk (in the page cache) before it
waits in memory for the next batch, so a SIGKILL loses nothing it had received.

Points are appended to `current.jsonl`. A writer takes what is pending with `rotate()`,
which closes that file under a numbered name; once those points are safe (in the historian
or the disk buffer) `done()` deletes it. At start, `leftovers()` returns what a killed
recorder had not yet made safe. Replaying a batch twice is harmless: both historians keep
one point per series and time.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO, Any

from trackerdcs.storage.points import Point, by_row


def _grouped(points: list[Point]) -> list[list[Any]]:
    """One line per measurement, tag set and time: one JSON encoding per message instead of
    one per value."""
    return [[m, [list(t) for t in tags], ts, [[p.field, p.value] for p in group]]
            for (m, tags, ts), group in by_row(points).items()]  # fmt: skip


def _expand(line: list[Any]) -> list[Point]:
    if len(line) == 5:  # one point per line (journals written before the grouping)
        return [Point.from_json(line)]
    m, tags, ts, fields = line
    return [Point.from_json([m, f, v, ts, tags]) for f, v in fields]


class Journal:
    def __init__(self, directory: Path):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.current = self.dir / "current.jsonl"
        self._fh: IO[str] | None = None
        self._n = 0

    def leftovers(self) -> list[Point]:
        """Everything journalled by a previous run; its files are removed by `done()`."""
        points: list[Point] = []
        for f in sorted(self.dir.glob("*.jsonl")):
            for line in f.read_text(encoding="utf-8", errors="replace").splitlines():
                try:
                    points += _expand(json.loads(line))
                except (ValueError, TypeError, IndexError):
                    continue  # the last line of a killed writer may be cut short
        return points

    def clear(self) -> None:
        self.close()
        for f in self.dir.glob("*.jsonl"):
            f.unlink(missing_ok=True)

    def add(self, points: list[Point]) -> None:
        """Journal `points`; they are in the kernel after the next `flush()`, which the
        recorder calls before it acknowledges the messages they came from."""
        if self._fh is None:
            self._fh = open(self.current, "a", encoding="utf-8")  # noqa: SIM115
        self._fh.write("".join(json.dumps(g) + "\n" for g in _grouped(points)))

    def flush(self) -> None:
        if self._fh is not None:
            self._fh.flush()  # in the kernel now: a killed process cannot lose it

    def rotate(self) -> Path | None:
        """Close the current file and return it (None when nothing was journalled)."""
        if self._fh is None:
            return None
        self.close()  # (closing flushes)
        self._n += 1
        done = self.dir / f"taken-{self._n:09d}.jsonl"
        self.current.rename(done)
        return done

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    @staticmethod
    def done(path: Path | None) -> None:
        if path is not None:
            path.unlink(missing_ok=True)
