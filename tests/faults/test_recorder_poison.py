"""Issue 11 item 8: one `{"x": NaN}` made InfluxDB answer 400 and the recorder buffered
everything behind it for ever; a `{"ts": NaN}` dropped a whole batch with `dropped` still
0. A bad value is rejected and counted alone; the rest is written. SQLite and InfluxDB."""

from __future__ import annotations

import time
from pathlib import Path

from tests.storage.test_recorder import query, start_recorder
from trackerdcs.testing.faults import crash
from trackerdcs.testing.probe import Probe
from trackerdcs.testing.processes import stop_process


def test_a_nan_value_or_ts_is_rejected_alone(recorder) -> None:
    path, probe = recorder
    ts = time.time() - 2
    probe.publish("poison/status", f'{{"x": NaN, "y": 1.5, "ts": {ts}}}'.encode())
    probe.publish("poison2/status", b'{"v": 2.0, "w": 3.0, "ts": NaN}')
    probe.publish("sensors/box", {"name": "box", "kind": "coldbox", "temperature": -20.5,
                                  "ts": ts})  # fmt: skip
    reply = probe.command("recorder", "flush", timeout=20)
    status = reply["result"]
    assert reply["ok"] and status["connected"], status  # the historian is not "down"
    assert status["rejected"] == 3 and status["buffered_points"] == 0, status
    assert query(path, "raw", "poison.status,service=poison:y", "--start=-1m")[0]["value"] == 1.5
    box = query(path, "raw", "sensors,kind=coldbox,sensor=box:temperature", "--start=-1m")
    assert box[0]["value"] == -20.5


def test_a_killed_recorder_loses_nothing(write_stand, own_mosquitto, storage_yaml,
                                         tmp_path: Path) -> None:  # fmt: skip
    """Issue 11 item 15: the recorder's in-memory batch was lost on SIGKILL (and what was
    published while it was down never reached it)."""
    path, stand = write_stand(storage_yaml + "recorder: {flush_interval: 60, retry: 1}\n",
                              broker=own_mosquitto)  # fmt: skip
    proc = start_recorder(path, tmp_path / "recorder.log")
    t0 = time.time() - 10
    try:
        with Probe(stand.bus) as probe:
            probe.wait_for("recorder/online", lambda m: m.payload == b"true", timeout=20)
            for i in range(100):
                probe.publish("soak/counter", {"n": i, "ts": t0 + i * 0.01})
            # received, journalled, not yet written (the flush is a minute away)
            probe.wait_json("recorder/status", lambda s: s["pending"] == 100, timeout=10)
            mark = probe.mark()
            crash(proc)
            probe.wait_for("recorder/online", lambda m: m.payload == b"false", timeout=10,
                           since=mark)  # fmt: skip
            for i in range(100, 200):  # published while it is down
                probe.publish("soak/counter", {"n": i, "ts": t0 + i * 0.01})
            # everything the new process says comes after this mark (its status with the
            # 100 it was sent may come before its online word has reached us: it says its
            # status only when it changes)
            restart = probe.mark()
            proc = start_recorder(path, tmp_path / "recorder2.log")
            probe.wait_for("recorder/online", lambda m: m.payload == b"true", timeout=20,
                           since=restart)  # fmt: skip
            probe.wait_json("recorder/status", lambda s: s["pending"] >= 100, timeout=10,
                            since=restart)  # fmt: skip
            reply = probe.command("recorder", "flush", timeout=20)
            assert reply["ok"], reply
        rows = query(path, "raw", "soak.counter,service=soak:n", "--start=-1h")
        assert sorted(int(r["value"]) for r in rows) == list(range(200))  # none lost, none twice
    finally:
        stop_process(proc)


def test_a_field_an_existing_database_typed_otherwise_is_refused_alone(
    write_stand, own_mosquitto, influx, tmp_path: Path
) -> None:
    """A lab's database where `sensors.temperature` was once written as an integer: InfluxDB
    answers our float with 400 "partial write: field type conflict". That batch was retried
    for ever and everything behind it waited; now the clashing field is left out (counted as
    refused, and left out of later points at once) and the rest is written."""
    import uuid

    import httpx

    db = f"c{uuid.uuid4().hex[:8]}"
    auth = (influx.username, influx.password)
    with httpx.Client(base_url=influx.url, auth=auth, timeout=10) as http:
        assert http.post("/query", params={"q": f"CREATE DATABASE {db}"}).status_code == 200
        r = http.post("/write", params={"db": db}, content=b"sensors,sensor=old temperature=5i")
        assert r.status_code == 204, r.text
    body = influx.storage_yaml(db) + "recorder: {flush_interval: 0.2, retry: 1}\n"
    path, stand = write_stand(body, broker=own_mosquitto)
    proc = start_recorder(path, tmp_path / "recorder.log")
    try:
        with Probe(stand.bus) as probe:
            probe.wait_for("recorder/online", lambda m: m.payload == b"true", timeout=20)
            ts = time.time() - 5
            probe.publish("sensors/box", {"temperature": -20.5, "humidity": 10.0, "ts": ts})
            for i in range(20):
                probe.publish("soak/counter", {"n": i, "ts": ts + i * 0.01})
            reply = probe.command("recorder", "flush", timeout=20)
            status = reply["result"]
            assert reply["ok"] and status["connected"], status
            assert status["refused"] >= 1 and status["buffered_points"] == 0, status
        rows = query(path, "raw", "soak.counter,service=soak:n", "--start=-1h")
        assert sorted(int(r["value"]) for r in rows) == list(range(20))
        # the point's other field is kept (InfluxDB dropped the whole line)
        humidity = query(path, "raw", "sensors,sensor=box:humidity", "--start=-1h")
        assert [r["value"] for r in humidity] == [10.0]
    finally:
        stop_process(proc)
