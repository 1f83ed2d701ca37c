"""The recorder's disk buffer: order kept, bounded, survives a restart."""

from __future__ import annotations

from pathlib import Path

from trackerdcs.storage.buffer import DiskBuffer
from trackerdcs.storage.points import Point


def batch(start: int, n: int = 100) -> list[Point]:
    return [Point("m", "v", float(i), 1e9 + i, (("k", "x"),)) for i in range(start, start + n)]


def test_oldest_first_bounded_and_persistent(tmp_path: Path) -> None:
    buf = DiskBuffer(tmp_path / "buf", max_bytes=10**9)
    for k in range(3):
        buf.append(batch(100 * k))
    assert buf.points == 300 and buf.bytes > 0
    # a new process finds what the old one left, in order
    again = DiskBuffer(tmp_path / "buf", max_bytes=10**9)
    path, first = again.oldest()  # type: ignore[misc]
    assert [p.value for p in first] == [float(i) for i in range(100)]
    assert first[0].tags == (("k", "x"),)
    again.remove(path)
    assert again.oldest()[1][0].value == 100.0  # type: ignore[index]
    again.append(batch(300))
    assert again.points == 300

    small = DiskBuffer(tmp_path / "small", max_bytes=again.bytes // 2)  # about 1.5 batches
    for k in range(4):
        small.append(batch(100 * k))
    # over the bound the oldest batches go, and the loss is counted, never silent
    assert small.dropped > 0 and small.points + small.dropped == 400
    assert small.oldest()[1][0].value >= 100.0  # type: ignore[index]
