"""The historian interface and how a stand chooses its implementation."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from trackerdcs.config.model import Stand
from trackerdcs.storage.points import Bucket, Point, Value


class HistorianError(Exception):
    """The historian is unreachable or refused the request (the recorder buffers then)."""


class RejectedData(HistorianError):
    """The historian is there and refuses these points themselves (a value it cannot hold,
    a field whose type the database fixed otherwise): retrying cannot help; the recorder
    writes the batch in halves to find and reject only the bad points."""


class Historian(Protocol):
    def write(self, points: list[Point]) -> None:
        """Store points; writing the same point twice stores it once."""

    def series(self, match: str = "") -> list[str]: ...

    def raw(self, series: str, start: float, end: float) -> list[tuple[float, Value]]: ...

    def exists(self, series: str) -> bool:
        """Whether the series was ever written (a query of a misspelt name says so)."""

    def buckets(self, series: str, start: float, end: float, n: int) -> list[Bucket]: ...

    def events(self, start: float, end: float, where: dict[str, str],
               limit: int) -> list[tuple[float, dict[str, str], str]]:  # fmt: skip
        """The event log (`storage/events.py`) newest first: (time, tags, text), tags equal
        to `where`'s."""

    def close(self) -> None: ...


def open_historian(stand: Stand, create: bool = True) -> Historian:
    """`create=False` (readers such as `trackerdcs query`): a historian that does not exist
    is an error, not a new empty one."""
    url = stand.storage.historian
    if url.startswith("sqlite:///"):
        from trackerdcs.storage.sqlite import SqliteHistorian

        path = Path(url.removeprefix("sqlite:///")).expanduser()
        path = path if path.is_absolute() else stand.data_dir / path
        if not create and not path.exists():
            raise HistorianError(f"no historian at {path} (nothing was recorded there)")
        return SqliteHistorian(path)
    from trackerdcs.storage.influx import InfluxHistorian

    return InfluxHistorian.from_stand(stand)
