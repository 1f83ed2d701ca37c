"""The environment-board family: one folder (trackerdcs/envboards) and these tests, no
central file touched. Real Mosquitto, the family's simulator and service as processes."""

from __future__ import annotations

import time

import pytest

from trackerdcs.envboards.protocol import NoReading, parse
from trackerdcs.runtime.plan import plan
from trackerdcs.storage.recorder import to_points
from trackerdcs.testing.processes import StandProcesses

BODY = """
envboards:
  simulate: true
  stale_after: 2
  heartbeat: 0.5
  sim: {period: 0.3, noise: 0.0}
  boards:
    - {name: ESP02, location: clean room, temperature: SCD30/temp, humidity: SCD30/humi,
       channels: [DS/temp, SCD30/co2, SCD30/temp, SCD30/humi, CCS/tvoc]}
"""


def test_chip_values_are_checked_against_what_the_chip_can_report() -> None:
    assert parse("SCD30/co2", b"612.5") == 612.5
    assert parse("CCS/tvoc", b'{"value": 60}') == 60.0
    for channel, raw in (("SCD30/co2", b"nan"), ("SCD30/humi", b"140"), ("DS/temp", b"hot")):
        with pytest.raises(NoReading):
            parse(channel, raw)


def test_a_board_becomes_one_reading_with_dewpoint_and_goes_stale_when_silent(
    write_stand, probe, tmp_path
) -> None:
    path, stand = write_stand(BODY)
    assert [s.name for s in plan(stand, path)] == ["sim-envboards", "envboards"]
    procs = StandProcesses(path, stand, tmp_path).start("sim-envboards", "envboards")
    try:
        r = probe.wait_json("envboards/ESP02", lambda r: r["ts"] is not None, timeout=20)
        assert r["SCD30_co2"] == pytest.approx(650, rel=0.05) and r["CCS_tvoc"] > 0
        assert r["dewpoint"] is not None and r["dewpoint"] < r["temperature"]
        assert time.time() - r["ts"] < 5
        # a broken chip printing nan is no reading: counted, never published as current
        mark = probe.mark()
        probe.publish("sim/envboards/ESP02", {"SCD30/co2": "nan"})
        probe.wait_json("envboards/status", lambda s: s["boards"]["ESP02"]["errors"] > 0,
                        since=mark)  # fmt: skip
        fault = time.time()
        time.sleep(1.0)
        later = [m.json() for m in probe.messages[mark:] if m.topic == "envboards/ESP02"
                 and m.received > fault + 0.5]  # fmt: skip
        assert later and all(r["ts"] < fault for r in later)
        # the channel without readings raises the board's alarm, by name
        alarm = probe.wait_json("alarms/envboards.ESP02", lambda a: a["active"], since=mark)
        assert alarm["severity"] == "MINOR" and alarm["message"].startswith(
            "board ESP02: no reading of SCD30/co2 for")  # fmt: skip
        # a silent board: every channel
        mark = probe.mark()
        probe.publish("sim/envboards/ESP02", {"silent": True, "SCD30/co2": None})
        probe.wait_json("alarms/envboards.ESP02", lambda a: "DS/temp" in a["message"],
                        timeout=15, since=mark)  # fmt: skip
        # its readings go to the historian as the labs name them
        points = to_points("envboards/ESP02", probe.latest["envboards/ESP02"].payload,
                           {"envboards"})  # fmt: skip
        fields = {p.field for p in points if p.measurement == "sensors"}
        assert {"SCD30_co2", "CCS_tvoc", "DS_temp", "dewpoint"} <= fields
    finally:
        procs.stop()
