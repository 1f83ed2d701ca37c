"""The recorder's store-and-forward buffer: batches on disk, replayed oldest first.

One file per batch keeps the order obvious and makes dropping the oldest data cheap when the
bound is reached; nothing is kept only in memory while the historian is down.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from trackerdcs.storage.points import Point


class DiskBuffer:
    def __init__(self, directory: Path, max_bytes: int):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.max_bytes = max_bytes
        self.dropped = 0
        self._counts: dict[Path, int] = {}
        for f in self._files():
            with open(f, "rb") as fh:
                self._counts[f] = sum(1 for _ in fh)
        self._next = int(self._files()[-1].stem) + 1 if self._counts else 0

    def _files(self) -> list[Path]:
        return sorted(self.dir.glob("*.jsonl"))

    @property
    def points(self) -> int:
        return sum(self._counts.values())

    @property
    def bytes(self) -> int:
        return sum(f.stat().st_size for f in self._counts if f.exists())

    def __bool__(self) -> bool:
        return bool(self._counts)

    def append(self, batch: list[Point]) -> None:
        path = self.dir / f"{self._next:012d}.jsonl"
        self._next += 1
        tmp = path.with_suffix(".tmp")
        with open(tmp, "w") as fh:
            for p in batch:
                fh.write(json.dumps(p.to_json()) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        tmp.rename(path)  # a crash mid-write leaves no half batch to replay
        self._counts[path] = len(batch)
        while self.bytes > self.max_bytes and len(self._counts) > 1:
            oldest = min(self._counts)
            self.dropped += self._counts.pop(oldest)
            oldest.unlink(missing_ok=True)

    def oldest(self) -> tuple[Path, list[Point]] | None:
        if not self._counts:
            return None
        path = min(self._counts)
        with open(path) as fh:
            return path, [Point.from_json(json.loads(line)) for line in fh if line.strip()]

    def remove(self, path: Path) -> None:
        self._counts.pop(path, None)
        path.unlink(missing_ok=True)
