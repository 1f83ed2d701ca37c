"""The historian contract, the same on SQLite and on InfluxDB."""

from __future__ import annotations

import pytest

from trackerdcs.config import load_stand
from trackerdcs.storage.historian import open_historian
from trackerdcs.storage.points import Point, parse_series

T0 = 1_790_000_000.0


def test_write_once_query_raw_and_buckets(storage_yaml: str, tmp_path) -> None:
    path = tmp_path / "stand.yaml"
    path.write_text(f"state_dir: {tmp_path / 'var'}\n" + storage_yaml)
    h = open_historian(load_stand(path))
    try:
        tags = (("location", "cold box"), ("sensor", "box"))
        pts = [Point("sensors", "temperature", float(i % 10), T0 + i, tags) for i in range(600)]
        h.write(pts[:400])
        h.write(pts[300:])  # overlapping replay: stored once
        key = "sensors,location=cold box,sensor=box:temperature"
        assert key in h.series("sensors")
        raw = h.raw(key, T0 + 10, T0 + 19)
        assert [v for _, v in raw] == [float(i % 10) for i in range(10, 20)]
        assert raw[0][0] == pytest.approx(T0 + 10)
        assert len(h.raw(key, T0, T0 + 600)) == 600
        b = h.buckets(key, T0, T0 + 600, 6)
        assert len(b) == 6 and all(x.count == 100 for x in b)
        assert b[0].min == 0 and b[0].max == 9 and b[0].mean == pytest.approx(4.5)
        assert b[2].ts == pytest.approx(T0 + 200)
        assert h.raw("sensors,sensor=nope:temperature", T0, T0 + 10) == []
        with pytest.raises(ValueError):
            parse_series("no field here")
    finally:
        h.close()


def test_long_range_uses_rollups_with_the_same_answer(tmp_path) -> None:
    from trackerdcs.storage.sqlite import SqliteHistorian

    h = SqliteHistorian(tmp_path / "h.sqlite")
    t0 = 1_789_999_200.0  # on an hour boundary
    pts = [Point("m", "v", float(i % 97), t0 + 10 * i) for i in range(8640 * 3)]  # 3 days
    h.write(pts)
    coarse = h.buckets("m:v", t0, t0 + 3 * 86400, 12)  # 6 h buckets: hourly rollup
    fine = h.buckets("m:v", t0, t0 + 3 * 86400, 4320)  # 1 min buckets: raw rows
    assert len(coarse) == 12 and sum(b.count for b in coarse) == len(pts)
    assert coarse[0].min == 0 and coarse[0].max == 96
    # a range that does not start on an hour: the partial hours come from raw rows
    odd = h.buckets("m:v", t0 + 1234, t0 + 2 * 86400 + 567, 8)
    assert sum(b.count for b in odd) == len(
        [p for p in pts if t0 + 1234 <= p.ts < t0 + 2 * 86400 + 567]
    )
    first_6h = [b for b in fine if b.ts < t0 + 6 * 3600]
    mean = sum(b.mean * b.count for b in first_6h) / sum(b.count for b in first_6h)
    assert coarse[0].mean == pytest.approx(mean)
    h.close()
