"""The historian contract, the same on SQLite and on InfluxDB."""

from __future__ import annotations

import time

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


def test_typed_values_keep_their_type(storage_yaml: str, tmp_path) -> None:
    path = tmp_path / "stand.yaml"
    path.write_text(f"state_dir: {tmp_path / 'var'}\n" + storage_yaml)
    h = open_historian(load_stand(path))
    try:
        tags = (("id", "1"),)
        h.write([Point("channels", "fsm_state", "HV_ON", T0, tags),
                 Point("channels", "lv_status", 1, T0, tags),
                 Point("channels", "lv_vMon", 10.5, T0, tags)])  # fmt: skip
        assert h.raw("channels,id=1:fsm_state", T0 - 1, T0 + 1) == [(T0, "HV_ON")]
        assert h.raw("channels,id=1:lv_status", T0 - 1, T0 + 1)[0][1] == 1
        assert h.exists("channels,id=1:lv_vMon") and not h.exists("channels,id=2:lv_vMon")
    finally:
        h.close()


def test_retention_drops_old_raw_rows_and_long_ranges_still_answer(tmp_path) -> None:
    from trackerdcs.storage.sqlite import SqliteHistorian

    h = SqliteHistorian(tmp_path / "h.sqlite")
    day = 86400
    t0 = T0 - T0 % 3600
    now = t0 + 40 * day
    # a point a minute for 40 days
    h.write([Point("m", "v", float(i % 7), t0 + 60 * i) for i in range(40 * 1440)])
    deleted = h.prune(now, raw_days=30, rollup_days={60: 35, 3600: 0})
    rows = h.raw("m:v", t0, now)
    assert rows and rows[0][0] >= now - 30 * day  # raw: 30 days left
    assert len(rows) == 30 * 1440
    assert deleted == 10 * 1440 + 5 * 24 * 60  # raw rows of 10 days, minute rollups of 5
    h.close()
    h = SqliteHistorian(tmp_path / "h.sqlite")  # another process: it knows what was pruned
    # a month ago at hour resolution comes from the rollups that are kept
    old = h.buckets("m:v", t0, t0 + 10 * day, 10)
    assert len(old) == 10 and all(b.count == 1440 for b in old)
    # minutes and raw rows past their retention: an hour 36 days back has its hour rollup
    hour = h.buckets("m:v", now - 36 * day, now - 36 * day + 3600, 4)
    assert [b.count for b in hour] == [60]
    # an hour 32 days back still has its minutes
    minutes = h.buckets("m:v", now - 32 * day, now - 32 * day + 3600, 4)
    assert [b.count for b in minutes] == [15, 15, 15, 15]
    h.close()


def test_influx_gets_retention_policies_and_rollups_and_reads_create_nothing(
    influx, tmp_path
) -> None:
    import uuid

    import httpx

    from trackerdcs.storage.historian import HistorianError

    db = f"ret{uuid.uuid4().hex[:6]}"
    path = tmp_path / "stand.yaml"
    path.write_text(f"state_dir: {tmp_path / 'var'}\n" + influx.storage_yaml(db)
                    + "recorder: {retention: {raw_days: 14, minute_days: 200}}\n")  # fmt: skip
    http = httpx.Client(base_url=influx.url, auth=(influx.username, influx.password))

    def q(text: str) -> list:
        res = http.get("/query", params={"q": text, "db": db}).json()["results"][0]
        return [v for s in res.get("series", []) for v in s.get("values", [])]

    reader = open_historian(load_stand(path))
    with pytest.raises(HistorianError, match=f"database '{db}' does not exist"):
        reader.raw("m:v", T0, T0 + 1)
    assert [db] not in q("SHOW DATABASES")  # the misspelt read made no database
    writer = open_historian(load_stand(path))
    now = float(int(time.time()))
    # a point older than the raw policy keeps is refused by InfluxDB; the rest is written
    writer.write([Point("m", "v", 1.0, now), Point("m", "v", 0.5, now - 20 * 86400)])
    assert writer.expired == 1
    policies = {p[0]: (p[1], p[-1]) for p in q("SHOW RETENTION POLICIES")}
    assert policies == {"raw": ("336h0m0s", True), "rollup_1m": ("4800h0m0s", False),
                        "rollup_1h": ("0s", False)}  # fmt: skip
    cqs = " ".join(str(v) for v in q("SHOW CONTINUOUS QUERIES"))
    assert f"INTO {db}.rollup_1m.:MEASUREMENT FROM {db}.raw./.*/ GROUP BY time(1m)" in cqs
    assert f"INTO {db}.rollup_1h.:MEASUREMENT FROM {db}.raw./.*/ GROUP BY time(1h)" in cqs
    assert reader.raw("m:v", now - 30 * 86400, now + 1) == [(now, 1.0)]
    writer.close()
    reader.close()


def test_a_point_twice_in_one_batch_is_stored_and_counted_once(tmp_path) -> None:
    from trackerdcs.storage.sqlite import SqliteHistorian

    h = SqliteHistorian(tmp_path / "h.sqlite")
    t0 = T0 - T0 % 3600
    h.write([Point("m", "v", 1.0, t0), Point("m", "v", 1.0, t0), Point("m", "v", 3.0, t0 + 1)])
    h.write([Point("m", "v", 1.0, t0)])  # and again in the next one
    assert h.raw("m:v", t0, t0 + 10) == [(t0, 1.0), (t0 + 1, 3.0)]
    hour = h.buckets("m:v", t0, t0 + 3600 * 8, 2)  # from the hourly rollup
    assert [(b.count, b.mean) for b in hour] == [(2, 2.0)]
    h.close()


def test_absurd_but_finite_values_do_not_block_the_historian(tmp_path) -> None:
    """A fuzzer's 1e308 and -1e308 in one minute summed to inf - inf, which SQLite stores as
    NULL: the batch failed, and the recorder retried it for ever."""
    from trackerdcs.storage.sqlite import SqliteHistorian

    h = SqliteHistorian(tmp_path / "h.sqlite")
    t0 = T0 - T0 % 3600
    h.write([Point("m", "v", 1e308, t0), Point("m", "v", 1e308, t0 + 1),
             Point("m", "v", -1e308, t0 + 2), Point("m", "v", 2**70, t0 + 3)])  # fmt: skip
    h.write([Point("m", "v", -1e308, t0 + 4)])
    assert [v for _, v in h.raw("m:v", t0, t0 + 10)] == [1e308, 1e308, -1e308, 2.0**70, -1e308]
    h.close()
