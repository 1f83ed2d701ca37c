"""Points and series names shared by the recorder, both historians and the query tools.

A series is one field of one measurement with one tag set, written in line-protocol style:
`sensors,sensor=room:temperature`. A field's value is a float, an integer (enum indices,
status words), a boolean or a string (`fsm_state`), as InfluxDB types fields; a series keeps
one type (InfluxDB refuses a point whose type differs from the field's).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import NamedTuple

Value = float | int | bool | str


def numeric(v: Value) -> bool:
    return not isinstance(v, str)


class Point(NamedTuple):
    """A tuple: the recorder makes one per value on the bus, and a tuple is made several
    times faster than a frozen dataclass."""

    measurement: str
    field: str
    value: Value
    ts: float  # epoch seconds
    tags: tuple[tuple[str, str], ...] = ()

    @property
    def series(self) -> str:
        return series_key(self.measurement, dict(self.tags), self.field)

    def to_json(self) -> list:
        return [self.measurement, self.field, self.value, self.ts, [list(t) for t in self.tags]]

    @classmethod
    def from_json(cls, d: list) -> Point:
        # JSON keeps the type apart from an integral float, which `to_json` wrote as 1.0
        value = d[2] if isinstance(d[2], bool | int | float | str) else str(d[2])
        return cls(d[0], d[1], value, float(d[3]), tuple((str(k), str(v)) for k, v in d[4]))


Row = tuple[str, tuple[tuple[str, str], ...], float]  # measurement, tags, time


def by_row(points: list[Point]) -> dict[Row, list[Point]]:
    """Points grouped by measurement, tag set and time, in order: a message's values share
    them, and both the journal and InfluxDB's line protocol write one line per group."""
    rows: dict[Row, list[Point]] = {}
    for p in points:
        rows.setdefault((p.measurement, p.tags, p.ts), []).append(p)
    return rows


@dataclass(frozen=True)
class Series:
    measurement: str
    field: str
    tags: dict[str, str] = dataclasses.field(default_factory=dict)

    @property
    def key(self) -> str:
        return series_key(self.measurement, self.tags, self.field)


def series_key(measurement: str, tags: dict[str, str], fld: str) -> str:
    tagpart = "".join(f",{k}={v}" for k, v in sorted(tags.items()))
    return f"{measurement}{tagpart}:{fld}"


def parse_series(key: str) -> Series:
    head, sep, fld = key.rpartition(":")
    if not sep or not head or not fld:
        raise ValueError(f"series '{key}' is not MEASUREMENT[,TAG=VALUE...]:FIELD")
    measurement, *pairs = head.split(",")
    tags: dict[str, str] = {}
    for pair in pairs:
        k, eq, v = pair.partition("=")
        if not eq:
            raise ValueError(f"series '{key}': tag '{pair}' is not TAG=VALUE")
        tags[k] = v
    return Series(measurement, fld, tags)


@dataclass(frozen=True)
class Bucket:
    ts: float  # start of the bucket
    min: float
    mean: float
    max: float
    count: int
