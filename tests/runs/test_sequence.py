"""Sequences through the runs service on the simulated mainframe, sensors and Ph2_ACF, real
Mosquitto (issue 13): every step recorded, resume after SIGKILL, safety wins."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.runs.conftest import RunStand
from trackerdcs.testing.mosquitto import free_port

QUICK = """
name: smoke
version: "1"
steps:
  - lv: on
  - iv: {stop: 30, step: 10, settle: 0.2, readings: 2, interval: 0.1, compliance: 50}
  - hv: {state: on, voltage: 40, band: 3}
  - calibration: pedenoise
  - hv: off
  - wait: 1
  - lv: off
"""


def start(rs: RunStand, text: str, name: str = "smoke.yaml") -> dict:
    r = rs.cmd("runs", "sequence/start", {"recipe": name, "text": text})
    assert r["ok"], r
    return r["result"]


def seq_doc(rs: RunStand, seq_id: int, status: str, timeout: float = 120) -> dict:
    try:
        rs.probe.wait_json("runs/sequence", lambda s: s["id"] == seq_id and s["state"] == status,
                           timeout)  # fmt: skip
    except TimeoutError:
        raise AssertionError(
            f"sequence {seq_id} not {status}: {rs.cmd('runs', f'show/{seq_id}')}"
        ) from None
    reply = rs.cmd("runs", f"show/{seq_id}")
    assert reply["ok"], reply
    return reply["result"]


def test_a_recipe_runs_every_step_and_records_each_with_its_runs(run_stand) -> None:
    rs: RunStand = run_stand()
    time.sleep(2.5)  # the stability window of the calibration's preconditions
    seq = start(rs, QUICK)
    assert seq["steps"] == 7 and seq["modules"] == ["PS_M1", "PS_M2"]
    doc = seq_doc(rs, seq["id"], "done")
    assert [s["status"] for s in doc["steps"]] == ["done"] * 7, doc["steps"]
    assert doc["recipe"]["text"] == QUICK and doc["recipe"]["sha256"]
    iv_id = doc["steps"][1]["runs"][0]
    cal_id = doc["steps"][3]["runs"][0]
    iv = rs.cmd("runs", f"show/{iv_id}")["result"]
    cal = rs.cmd("runs", f"show/{cal_id}")["result"]
    assert iv["kind"] == "iv" and iv["status"] == "done" and iv["sequence"] == seq["id"]
    assert [p["v_set"] for p in iv["curves"]["1"]["points"]] == [0, 10, 20, 30]
    assert cal["calibration"] == "pedenoise" and cal["status"] == "done", cal
    assert all(s["start"] <= s["end"] for s in doc["steps"])
    m = rs.probe.mark()
    rs.cmd("dcs", "refresh")
    rs.probe.wait_json("dcs/status", lambda s: s["fsm_state"] == "LV_OFF", 10, m)


def test_a_failed_step_stops_the_sequence_and_switches_the_modules_off(run_stand) -> None:
    rs: RunStand = run_stand()
    recipe = """
name: fails
steps:
  - lv: on
  - hv: {state: on, voltage: 40, band: 3}
  - wait: {seconds: 1, on_failure: continue}
  - calibration: {tag: nosuchtag, label: a tag Ph2_ACF does not know}
  - wait: 1
"""
    time.sleep(2.5)
    seq = start(rs, recipe, "fails.yaml")
    doc = seq_doc(rs, seq["id"], "failed", 60)
    steps = doc["steps"]
    assert [s["status"] for s in steps] == ["done", "done", "done", "failed", "pending"]
    assert "step 4 (a tag Ph2_ACF does not know) failed" in doc["reason"]
    assert "failed" in steps[3]["reason"] and steps[3]["runs"], steps[3]
    assert doc["end_actions"] == ["HV off: done", "LV off: done"], doc["end_actions"]
    rs.probe.wait_json("dcs/status", lambda s: s["fsm_state"] == "LV_OFF", 10)


def test_an_invalid_recipe_is_refused_with_file_line_and_key(run_stand) -> None:
    rs: RunStand = run_stand()
    bad = "name: x\nsteps:\n  - lv: on\n  - hv: {state: on, voltag: 40}\n"
    r = rs.cmd("runs", "sequence/start", {"recipe": "bad.yaml", "text": bad})
    assert not r["ok"]
    assert "bad.yaml:4: steps.1.hv.voltag: unknown key" in r["error"], r


def put_log_pw_on(path: Path, since: float) -> list[dict]:
    out = []
    for line in path.read_text().splitlines():
        e = json.loads(line)
        if e["t"] >= since and e["pv"].endswith(":Pw") and e["value"] in (1, "1", "On"):
            out.append(e)
    return out


KILLABLE = """
name: kill me
steps:
  - lv: on
  - wait: 5
  - hv: {state: on, voltage: 40, band: 3}
  - wait: 0.5
  - hv: off
  - lv: off
"""


def test_a_sequencer_killed_mid_recipe_reports_its_position_and_resumes_on_command(
    run_stand,
) -> None:
    rs: RunStand = run_stand()
    seq = start(rs, KILLABLE, "kill.yaml")["id"]
    rs.probe.wait_json("runs/sequence", lambda s: s["step_no"] == 2 and s["state"] == "running",
                       30)  # fmt: skip
    killed = time.time()
    rs.procs.kill("runs")  # SIGKILL: no clean-up of any kind
    time.sleep(2.0)
    mark = rs.probe.mark()
    rs.procs.start("runs")
    status = rs.probe.wait_json("runs/sequence", lambda s: s["state"] == "interrupted", 30, mark)
    assert status["id"] == seq and status["step_no"] == 2 and status["step"] == "wait 5 s"
    assert "stopped during step 2 (wait 5 s)" in status["reason"], status
    # while it was down and until it is told, nothing was switched on
    assert put_log_pw_on(rs.puts, killed) == []
    m = rs.probe.mark()
    rs.cmd("dcs", "refresh")
    assert rs.probe.wait_json("dcs/status", lambda s: True, 5, m)["fsm_state"] == "LV_ON"
    # the stand is no longer what the recipe left it in: resume refuses, says why and how
    assert rs.cmd("dcs", "switch/lv", "off")["ok"]
    rs.caen_state("LV_OFF")
    r = rs.cmd("runs", "sequence/resume")
    assert not r["ok"] and "but the recipe had LV on" in r["error"] and "from_step" in r["error"]
    assert put_log_pw_on(rs.puts, killed) == []
    r = rs.cmd("runs", "sequence/resume", {"from_step": 1})
    assert r["ok"] and r["result"]["step"] == 1, r
    doc = seq_doc(rs, seq, "done", 60)
    steps = doc["steps"]
    assert [s["status"] for s in steps] == ["done"] * 6
    assert steps[1]["attempts"] == 2 and steps[0]["attempts"] == 2
    events = [e["event"] for e in doc["events"]]
    assert events == ["started", "interrupted", "resumed", "done"], doc["events"]
    assert "stopped during step 2" in doc["events"][1]["detail"]


def test_a_dew_point_action_mid_sequence_aborts_it_with_the_modules_safe(
    run_stand, webhook
) -> None:
    url, posts = webhook
    rs: RunStand = run_stand(notify=f"{{webhook: {{url: '{url}'}}}}")
    recipe = """
name: soak
steps:
  - lv: on
  - hv: {state: on, voltage: 40, band: 3}
  - wait: 120
  - hv: off
"""
    seq = start(rs, recipe, "soak.yaml")["id"]
    rs.probe.wait_json("runs/sequence", lambda s: s["step_no"] == 3, 60)
    # the cold box gets humid: dew point 21 °C at 22 °C, margin below the action level
    box = rs.stand.sensors.sensors[0].name
    rs.probe.publish(f"sim/sensors/{box}", json.dumps({"humidity": 95}))
    doc = seq_doc(rs, seq, "aborted", 60)
    assert doc["reason"].startswith("safety ACTION"), doc["reason"]
    assert "dew" in doc["reason"].lower(), doc["reason"]
    assert [s["status"] for s in doc["steps"]] == ["done", "done", "aborted", "pending"]
    assert doc["steps"][2]["reason"].startswith("safety ACTION")
    rs.probe.wait_json("dcs/status", lambda s: s["fsm_state"] == "LV_OFF", 30)
    m = rs.probe.mark()
    rs.cmd("dcs", "refresh")
    for cid in ("1", "2"):
        ch = rs.probe.wait_json(f"dcs/channel/{cid}", lambda c: True, 5, m)
        assert ch["hv_pw"] is False and ch["lv_pw"] is False, ch
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and not any("sequence" in p for p in posts):
        time.sleep(0.2)
    sent = [p for p in posts if "sequence" in p]
    assert sent and f"sequence {seq} aborted" in sent[0]["text"], posts


def test_pause_holds_a_wait_resume_goes_on_and_an_operator_abort_ends_with_power_off(
    run_stand,
) -> None:
    rs: RunStand = run_stand()
    recipe = """
name: pausable
steps:
  - lv: on
  - hv: {state: on, voltage: 40, band: 3}
  - wait: 3
  - wait: 60
"""
    seq = start(rs, recipe, "pausable.yaml")["id"]
    rs.probe.wait_json("runs/sequence", lambda s: s["step_no"] == 3, 30)
    assert rs.cmd("runs", "sequence/pause")["ok"]
    held = rs.probe.wait_json("runs/sequence", lambda s: s["state"] == "paused", 10)
    time.sleep(4)  # longer than the wait: time does not count while paused
    now = rs.cmd("runs", "sequence/status")["result"]
    assert now["state"] == "paused" and now["step_no"] == 3
    assert now["remaining_in_step"] == pytest.approx(held["remaining_in_step"], abs=0.6)
    assert rs.cmd("runs", "sequence/resume")["ok"]
    rs.probe.wait_json("runs/sequence", lambda s: s["step_no"] == 4 and s["state"] == "running",
                   15)  # fmt: skip
    # no manual run under a running sequence
    r = rs.cmd("runs", "iv/start", {"stop": 10, "step": 5, "compliance": 5})
    assert not r["ok"] and f"sequence {seq} (pausable) is running" in r["error"]
    assert rs.cmd("runs", "sequence/abort", {"reason": "end of shift"})["ok"]
    doc = seq_doc(rs, seq, "aborted", 60)
    assert doc["reason"] == "end of shift"
    assert [s["status"] for s in doc["steps"]] == ["done", "done", "done", "aborted"]
    assert doc["end_actions"] == ["HV off: done", "LV off: done"]
    events = [e["event"] for e in doc["events"]]
    assert events == ["started", "pause", "resumed", "abort", "aborted"], doc["events"]


def test_a_chiller_step_on_a_marta_stand_runs_its_co2_to_the_set_point(run_stand) -> None:
    """Cooling as a role in the sequencer: the same recipe step drives a MARTA plant (its
    set-point, the chiller, the CO2 once the chiller runs) and waits for the CO2 supply."""
    marta = f"""
marta:
  simulate: true
  port: {free_port()}
  poll: 0.3
  sim: {{time_scale: 60, update: 0.1}}
"""
    rs: RunStand = run_stand(extra=marta)
    rs.probe.wait_json("MARTA/status", lambda s: s["fsm_state"] == "CONNECTED", 30)
    seq = start(rs, """
name: co2
steps:
  - chiller: {setpoint: 12, tolerance: 1, stable_for: 1, band: 2, timeout: 90}
""")  # fmt: skip
    doc = seq_doc(rs, seq["id"], "done", timeout=100)
    assert doc["steps"][0]["status"] == "done", doc["steps"]
    st = rs.probe.latest["MARTA/status"].json()
    assert st["fsm_state"] == "CO2_RUNNING" and st["temperature_setpoint"] == 12.0
    assert abs(st["CO2_TT05"] - 12) <= 1.0
    orders = [json.loads(m.payload)["command"] for m in rs.probe.messages
              if m.topic == "MARTA/reply"]  # fmt: skip
    assert orders == ["set_temperature_setpoint", "start_chiller", "start_co2"], orders
