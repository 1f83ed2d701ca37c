"""The recorder as a real process: bus messages into the historian with their own timestamps
and tags; queried back through `trackerdcs query`."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from trackerdcs.testing.probe import Probe


def start_recorder(path: Path, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "trackerdcs", "run", "recorder", "--config", str(path)],
        stdout=open(log, "wb"),
        stderr=subprocess.STDOUT,
    )


def query(path: Path, *args: str) -> list[dict]:
    out = subprocess.run(
        [sys.executable, "-m", "trackerdcs", "query", "--config", str(path), *args,
         "--format", "json"], capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    return json.loads(out.stdout)


@pytest.fixture
def recorder(write_stand, own_mosquitto, storage_yaml: str, tmp_path: Path):
    path, stand = write_stand(storage_yaml + "recorder: {flush_interval: 0.2, retry: 1}\n",
                              broker=own_mosquitto)  # fmt: skip
    proc = start_recorder(path, tmp_path / "recorder.log")
    with Probe(stand.bus) as probe:
        probe.wait_for("recorder/online", lambda m: m.payload == b"true", timeout=20)
        yield path, probe
    proc.terminate()
    proc.wait(15)


def test_values_recorded_with_own_timestamp_and_tags(recorder) -> None:
    path, probe = recorder
    ts = time.time() - 5
    probe.publish("sensors/box", {"name": "box", "location": "cold box", "kind": "coldbox",
                                  "temperature": -20.5, "humidity": 3.0, "dewpoint": None,
                                  "ts": ts})  # fmt: skip
    probe.publish("dcs/channel/3", {"id": 3, "module": "M3", "hv_vMon": 299.5, "lv_pw": True,
                                    "fsm_state": "HV_ON", "ts": ts + 1})  # fmt: skip
    probe.publish("ESP01/sensors/BME/temp", b"21.75")
    probe.publish("julabo/status", b'{"internal_temp": 1,')  # malformed: skipped, not fatal
    reply = probe.command("recorder", "flush", timeout=20)
    assert reply["ok"] and reply["result"]["connected"], reply
    assert reply["result"]["malformed"] >= 1
    box = query(path, "raw", "sensors,kind=coldbox,location=cold box,sensor=box:temperature",
                "--start=-1m")  # fmt: skip
    assert [(r["value"], round(r["ts"], 3)) for r in box] == [(-20.5, round(ts, 3))]
    ch = query(path, "raw", "dcs.channel,channel=3,module=M3,service=dcs:hv_vMon", "--start=-1m")
    assert ch[0]["value"] == 299.5
    pw = query(path, "raw", "dcs.channel,channel=3,module=M3,service=dcs:lv_pw", "--start=-1m")
    assert pw[0]["value"] == 1.0
    # the state as a string field, as the labs' Telegraf keeps it
    state = query(path, "raw", "dcs.channel,channel=3,module=M3,service=dcs:fsm_state",
                  "--start=-1m")  # fmt: skip
    assert state[0]["value"] == "HV_ON"
    # an ESP board's plain float as the reference names it: board, chip and quantity
    esp = query(path, "raw", "sensors,sensor=ESP01,topic=ESP01/sensors/BME/temp:BME_temp",
                "--start=-1m")  # fmt: skip
    assert esp[0]["value"] == 21.75
    names = subprocess.run([sys.executable, "-m", "trackerdcs", "query", "--config", str(path),
                            "series", "--match", "sensors"], capture_output=True, text=True,
                           timeout=60, check=True).stdout.split()  # fmt: skip
    assert "sensors,kind=coldbox,location=cold box,sensor=box:humidity" in " ".join(names)


def test_influx_down_for_30s_every_point_arrives_exactly_once(
    write_stand, own_mosquitto, influx, tmp_path: Path
) -> None:
    path, stand = write_stand(influx.storage_yaml("outage") + "recorder: {flush_interval: 0.2,"
                              " retry: 1}\n", broker=own_mosquitto)  # fmt: skip
    proc = start_recorder(path, tmp_path / "recorder.log")
    sent: list[float] = []
    stop = threading.Event()
    try:
        with Probe(stand.bus) as probe:
            probe.wait_for("recorder/online", lambda m: m.payload == b"true", timeout=20)

            def publish() -> None:
                i = 0
                while not stop.is_set():
                    ts = round(time.time(), 6)
                    probe.publish("sensors/flow", {"temperature": float(i), "ts": ts})
                    sent.append(ts)
                    i += 1
                    time.sleep(0.05)

            t = threading.Thread(target=publish, daemon=True)
            t.start()
            time.sleep(3)
            influx.stop()
            mark = probe.mark()
            buffered = probe.wait_json("recorder/status", lambda s: s["buffered_points"] > 0,
                                       timeout=20, since=mark)  # fmt: skip
            assert buffered["connected"] is False
            time.sleep(30)
            influx.start()
            time.sleep(3)
            stop.set()
            t.join(5)
            mark = probe.mark()
            probe.wait_json("recorder/status", lambda s: s["connected"]
                            and s["buffered_points"] == 0 and s["pending"] == 0, timeout=60,
                            since=mark)  # fmt: skip
            assert probe.command("recorder", "flush", timeout=30)["ok"]
        rows = query(path, "raw", "sensors,sensor=flow:temperature",
                     "--start=-10m")  # fmt: skip
        values = [r["value"] for r in rows]
        assert len(sent) > 600
        assert len(values) == len(sent)
        assert values == [float(i) for i in range(len(sent))]  # in order, none twice
    finally:
        stop.set()
        if influx.proc is None:
            influx.start()
        proc.terminate()
        proc.wait(15)


def test_query_takes_short_names_and_says_when_a_series_does_not_exist(recorder) -> None:
    path, probe = recorder
    ts = time.time() - 5
    for i in (1, 2):
        probe.publish(f"dcs/channel/{i}", {"id": i, "module": f"M{i}", "lv_iMon": 0.5 * i,
                                           "ts": ts})  # fmt: skip
    probe.publish("sensors/room", {"temperature": 21.5, "kind": "ambient", "ts": ts})
    assert probe.command("recorder", "flush", timeout=20)["ok"]
    # a short name: measurement or tag values, then the field
    assert [r["value"] for r in query(path, "raw", "room:temperature", "--start=-1m")] == [21.5]
    both = query(path, "raw", "lv_iMon", "--start=-1m")  # every series of that field
    assert sorted(r["value"] for r in both) == [0.5, 1.0]
    assert [r["value"] for r in query(path, "raw", "M2:lv_iMon", "--start=-1m")] == [1.0]
    # a series that does not exist: said, with names like it, and a failure exit
    out = subprocess.run([sys.executable, "-m", "trackerdcs", "query", "--config", str(path),
                          "raw", "room:temprature"], capture_output=True, text=True,
                         timeout=60)  # fmt: skip
    assert out.returncode == 1 and out.stdout == ""
    assert "no series 'room:temprature'" in out.stderr
    # a range with no points is said too (values are stored when they change)
    out = subprocess.run([sys.executable, "-m", "trackerdcs", "query", "--config", str(path),
                          "raw", "room:temperature", "--start=-1h", "--end=-30m"],
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    assert out.returncode == 0 and "no points between" in out.stderr


def test_query_reads_the_demo_state_dir_without_flags_and_creates_nothing(tmp_path: Path) -> None:
    from trackerdcs.storage.points import Point
    from trackerdcs.storage.sqlite import SqliteHistorian

    argv = [sys.executable, "-m", "trackerdcs", "query", "raw", "room:temperature"]
    out = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert out.returncode != 0 and "no demo data" in out.stderr
    (tmp_path / "trackerdcs-demo").mkdir()
    out = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert out.returncode == 1 and "no historian at" in out.stderr
    assert not (tmp_path / "trackerdcs-demo" / "history.sqlite").exists()  # none created
    h = SqliteHistorian(tmp_path / "trackerdcs-demo" / "history.sqlite")
    h.write([Point("sensors", "temperature", 20.5, time.time() - 60, (("sensor", "room"),))])
    h.close()
    out = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "20.5" in out.stdout


def test_a_point_published_as_the_recorder_says_online_is_recorded(
    write_stand, own_mosquitto, tmp_path: Path
) -> None:
    """`recorder/online` came from its command connection while the receiver (its own
    session) had not yet subscribed: a value published at that moment reached nobody — a
    fresh-clone run lost a test's points that way. Online now means recording."""
    path, stand = write_stand(
        f"storage:\n  historian: sqlite:///{tmp_path / 'history.sqlite'}\n"
        "recorder: {flush_interval: 0.2, retry: 1}\n",
        broker=own_mosquitto,
    )
    probe = Probe(stand.bus)
    sent: list[float] = []

    def at_once(msg) -> None:  # on the probe's own thread, as soon as the word arrives
        if msg.payload == b"true" and not sent:
            sent.append(time.time())
            probe.publish("sensors/first", {"temperature": 20.25, "ts": sent[0]})

    probe.bus.subscribe("recorder/online", at_once)
    with probe:
        proc = start_recorder(path, tmp_path / "recorder.log")
        try:
            probe.wait_for("recorder/online", lambda m: m.payload == b"true", timeout=20)
            assert probe.command("recorder", "flush", timeout=20)["ok"]
            assert [r["value"] for r in query(path, "raw", "first:temperature",
                                              "--start=-1m")] == [20.25]  # fmt: skip
        finally:
            proc.terminate()
            proc.wait(15)


def test_the_event_log_is_kept_in_either_historian(recorder) -> None:
    """Commands with their replies become events (with the sender and, when the channel's
    module is known, the module); a read-only command's reply does not."""
    path, probe = recorder
    ts = time.time() - 3
    probe.publish("dcs/channel/4", {"id": 4, "module": "M4", "fsm_state": "LV_ON", "ts": ts})
    probe.publish("dcs/cmd/switch/hv/4", {"id": "c1", "user": "ana", "via": "web",
                                          "value": "on"})  # fmt: skip
    probe.publish("dcs/reply", {"id": "c1", "command": "switch/hv/4", "ok": False,
                                "refused": True, "error": "LV of M4 is off", "user": "ana",
                                "via": "web", "ts": ts + 1})  # fmt: skip
    probe.publish("runs/cmd/show/3", {"id": "c2"})
    probe.publish("runs/reply", {"id": "c2", "command": "show/3", "ok": True,
                                 "read_only": True, "ts": ts + 1.5})  # fmt: skip
    probe.publish("dcs/channel/4", {"id": 4, "module": "M4", "fsm_state": "LV_OFF",
                                    "reason": "LV off by ana (web)", "ts": ts + 2})  # fmt: skip
    assert probe.command("recorder", "flush", timeout=20)["ok"]
    out = subprocess.run([sys.executable, "-m", "trackerdcs", "query", "--config", str(path),
                          "events", "--module", "M4", "--format", "json"], capture_output=True,
                         text=True, timeout=60, check=True)  # fmt: skip
    events = sorted(json.loads(out.stdout), key=lambda e: e["ts"])
    assert [(e["kind"], e["level"], e["user"], e["text"]) for e in events] == [
        ("command", "warning", "ana", "switch/hv/4 on by ana (web): refused: LV of M4 is off"),
        ("state", "info", "", "M4 (dcs channel 4): LV_ON → LV_OFF: LV off by ana (web)"),
    ]
    assert events[0]["ts"] == pytest.approx(ts + 1, abs=1e-3)
    everything = subprocess.run([sys.executable, "-m", "trackerdcs", "query", "--config",
                                 str(path), "events"], capture_output=True, text=True,
                                timeout=60, check=True).stdout  # fmt: skip
    assert "show/3" not in everything and "switch/hv/4 on by ana" in everything
