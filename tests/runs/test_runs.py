"""Calibration runs over MQTT on a stand of real processes (issue 12 acceptance)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.runs.conftest import RunStand
from tests.storage.conftest import influx, storage_yaml  # noqa: F401


def _raw(rs: RunStand, series: str, start: float, end: float) -> list[float]:
    out = subprocess.run(
        [sys.executable, "-m", "trackerdcs", "query", "--config", str(rs.path), "raw", series,
         f"--start={start}", f"--end={end}", "--format=json"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    return [r["value"] for r in json.loads(out.stdout)]


def test_a_run_ends_done_with_its_number_result_and_the_recorded_conditions(
    run_stand,
    storage_yaml: str,  # noqa: F811
) -> None:
    rs: RunStand = run_stand(storage_yaml=storage_yaml)
    rs.lv_on()
    time.sleep(2.5)  # the stability window (for_s: 2) fills with readings
    reply = rs.cmd("runs", "start", {"calibration": "calibration", "note": "first"})
    assert reply["ok"], reply
    doc = rs.run_doc(reply["result"]["id"], "done")
    assert doc["run_number"] == 1  # written by Ph2_ACF (the simulator) in RunNumbers.dat
    assert doc["result"] == "Results/Run_1/Results.root"
    assert [m["module"] for m in doc["modules"]] == ["PS_M1", "PS_M2"]
    assert doc["end"] > doc["start"] and doc["hw_config"]["text"].startswith("<HwDescription")
    cond = doc["conditions"]
    box = _raw(rs, "sensors,kind=coldbox,sensor=box:temperature", doc["start"], doc["end"])
    t = cond["sensors"]["box"]["temperature"]
    # the recorder stores changes (a steady box: its value in force at the start, and a
    # keep-alive point now and then): the conditions are those stored points, nothing else
    values = [t["at_start"], *box] if t["at_start"] is not None else box
    assert values, "the recorder stored the box temperature in force over the run"
    assert t["n"] == len(box) and t["min"] == min(values) and t["max"] == max(values)
    assert t["mean"] == pytest.approx(sum(values) / len(values))
    lv = cond["modules"]["PS_M1"]["lv"]
    assert lv["service"] == "dcs" and lv["units"] == {"voltage": "V", "current": "A"}, lv
    # LV was on throughout
    assert lv["voltage"] is not None and lv["voltage"]["min"] == pytest.approx(10.5, abs=0.5)
    assert cond["modules"]["PS_M1"]["hv"]["units"]["current"] == "µA"
    assert cond["dewpoint_margin"] is not None
    assert doc["checked"]["safety"] == "OK" and doc["checked"]["dewpoint_margin"] > 5


def test_a_start_is_refused_with_the_reason_when_the_stand_is_not_ready(run_stand) -> None:
    rs: RunStand = run_stand(steps=30, step_seconds=0.3)
    r = rs.cmd("runs", "start", {"calibration": "calibration"})
    assert not r["ok"] and "LV must be on" in r["error"]
    rs.lv_on()
    time.sleep(2.5)
    r = rs.cmd("runs", "start", {"calibration": "pedenoise"})  # needs HV at 40 V
    assert not r["ok"] and "HV must be on at 40 V" in r["error"]
    mark = rs.probe.mark()
    rs.probe.publish("sim/sensors/box", {"temperature": 15.0})  # the box is cooling down
    rs.probe.wait_json("sensors/box", lambda b: b["temperature"] < 16, 10, mark)
    r = rs.cmd("runs", "start", {"calibration": "calibration"})
    assert not r["ok"] and "temperature of box not stable" in r["error"]
    time.sleep(2.5)  # stable again, at 15 °C
    r = rs.cmd("runs", "start", {"calibration": "calibration"})
    assert r["ok"], r
    again = rs.cmd("runs", "start", {"calibration": "calibration"})
    assert not again["ok"] and f"run {r['result']['id']} (calibration) is running" in again["error"]
    assert rs.cmd("runs", "stop")["ok"]
    doc = rs.run_doc(r["result"]["id"], "aborted")
    assert "stopped by" in doc["reason"]


def test_a_dewpoint_action_mid_run_aborts_it_and_the_modules_go_safe(run_stand) -> None:
    rs: RunStand = run_stand(steps=40, step_seconds=0.3)
    rs.lv_on()
    time.sleep(2.5)
    r = rs.cmd("runs", "start", {"calibration": "calibration"})
    assert r["ok"], r
    rs.probe.wait_json("runs/status", lambda s: s["steps_done"] >= 1, 20)
    rs.probe.publish("sim/sensors/box", {"humidity": 95.0})  # dew point above the box
    doc = rs.run_doc(r["result"]["id"], "aborted", timeout=40)
    assert "safety ACTION" in doc["reason"] and "dew point" in doc["reason"]
    rs.probe.wait_json("dcs/status", lambda s: s["fsm_state"] == "LV_OFF", 30)


def test_a_restart_of_the_runs_service_mid_run_records_the_truth(run_stand) -> None:
    rs: RunStand = run_stand(steps=10, step_seconds=0.4)
    rs.lv_on()
    time.sleep(2.5)
    r = rs.cmd("runs", "start", {"calibration": "calibration"})
    assert r["ok"], r
    rs.probe.wait_json("runs/status", lambda s: s["run_number"] is not None, 20)
    rs.procs.kill("runs", signal.SIGKILL)  # Ph2_ACF runs on in its own session
    rs.procs.start("runs")
    doc = rs.run_doc(r["result"]["id"], "done", timeout=60)
    assert "restart" in doc["reason"] and doc["result"] == "Results/Run_1/Results.root"


def test_the_command_line_starts_lists_and_exports_runs(run_stand, tmp_path) -> None:
    rs: RunStand = run_stand()
    rs.lv_on()
    time.sleep(2.5)

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "trackerdcs", "runs", "--config",
                               str(rs.path), "--user", "alice", *args],
                              capture_output=True, text=True, timeout=90)  # fmt: skip

    started = cli("start", "calibration", "--modules", "PS_M1", "--note", "from the shell")
    assert started.returncode == 0, started.stderr
    run_id = json.loads(started.stdout)["id"]
    rs.run_doc(run_id, "done")
    listed = cli("list")
    assert listed.returncode == 0 and "done" in listed.stdout and "PS_M1" in listed.stdout
    assert cli("export", str(run_id), "-o", str(tmp_path / "run.json")).returncode == 0
    doc = json.loads((tmp_path / "run.json").read_text())
    assert doc["operator"] == "alice" and doc["note"] == "from the shell"
    assert [m["module"] for m in doc["modules"]] == ["PS_M1"]
    refused = cli("start", "pedenoise")
    assert refused.returncode == 1 and "refused: not ready" in refused.stderr


@pytest.mark.parametrize(("mode", "fail", "reason"), [
    ("batch", "hardware", "ControlHub returned error code 3"),
    ("middleware", "crash", "middleware connection lost"),
])  # fmt: skip
def test_a_failing_daq_ends_the_run_failed_with_the_real_error(run_stand, mode, fail,
                                                               reason) -> None:  # fmt: skip
    rs: RunStand = run_stand(mode=mode, fail=fail, steps=4, step_seconds=0.3)
    rs.lv_on()
    time.sleep(2.5)
    r = rs.cmd("runs", "start", {"calibration": "calibration"})
    assert r["ok"], r
    doc = rs.run_doc(r["result"]["id"], "failed", timeout=60)
    assert reason in doc["reason"] and doc["result"] is None
    assert doc["conditions"] is not None  # failed runs are recorded with their conditions


def test_a_run_whose_program_died_with_the_service_is_recorded_failed(run_stand) -> None:
    rs: RunStand = run_stand(steps=20, step_seconds=0.4)
    rs.lv_on()
    time.sleep(2.5)
    r = rs.cmd("runs", "start", {"calibration": "calibration"})
    assert r["ok"], r
    rs.probe.wait_json("runs/status", lambda s: s["run_number"] is not None, 20)
    pid = rs.cmd("runs", f"show/{r['result']['id']}")["result"]["pid"]
    rs.procs.kill("runs", signal.SIGKILL)
    os.kill(pid, signal.SIGKILL)  # a power cut for both
    rs.procs.start("runs")
    doc = rs.run_doc(r["result"]["id"], "failed", timeout=30)
    assert "restarted during the run" in doc["reason"] and doc["result"] is None


def test_a_run_can_use_another_hardware_description(run_stand, tmp_path) -> None:
    rs: RunStand = run_stand()
    rs.lv_on()
    time.sleep(2.5)
    missing = rs.cmd("runs", "start", {"calibration": "calibration", "config": "nope.xml"})
    assert not missing["ok"] and "nope.xml not found" in missing["error"]
    (tmp_path / "two_hybrids.xml").write_text("<HwDescription><Hybrid Id='1'/></HwDescription>")
    r = rs.cmd("runs", "start", {"calibration": "calibration", "config": "two_hybrids.xml"})
    assert r["ok"], r
    doc = rs.run_doc(r["result"]["id"], "done")
    assert doc["hw_config"]["path"].endswith("two_hybrids.xml")
    assert "Hybrid Id='1'" in doc["hw_config"]["text"]
