"""Issue 11 item 8: one `{"x": NaN}` made InfluxDB answer 400 and the recorder buffered
everything behind it for ever; a `{"ts": NaN}` dropped a whole batch with `dropped` still
0. A bad value is rejected and counted alone; the rest is written. SQLite and InfluxDB."""

from __future__ import annotations

import time

from tests.storage.test_recorder import query


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
