"""IV scans through the runs service on the simulated mainframe (issue 13, first step)."""

from __future__ import annotations

import time

from tests.runs.conftest import RunStand

SCAN = {"start": 0, "stop": 100, "step": 10, "settle": 0.2, "readings": 2, "interval": 0.1,
        "compliance": 50.0, "breakdown_factor": 5.0}  # fmt: skip


def test_a_breakdown_stops_its_channel_the_others_complete_and_all_end_at_0_v(
    run_stand,
) -> None:
    rs: RunStand = run_stand(breakdown="{2: 100}", modules=4)
    rs.lv_on()
    time.sleep(2.5)
    r = rs.cmd("runs", "iv/start", SCAN)
    assert r["ok"], r
    assert r["result"]["modules"] == ["PS_M1", "PS_M2", "PS_M3", "PS_M4"]
    doc = rs.run_doc(r["result"]["id"], "done", timeout=90)
    end = rs.probe.mark()
    curves = doc["curves"]
    two = curves["2"]
    for cid in ("1", "3", "4"):
        c = curves[cid]
        assert c["status"] == "done", c
        assert [p["v_set"] for p in c["points"]] == list(range(0, 101, 10))  # one per step
        assert all(p["temperature"] is not None and p["humidity"] is not None
                   for p in c["points"])  # fmt: skip
        assert c["points"][-1]["i_20c"] is not None
    assert two["status"] == "breakdown" and "breakdown" in two["reason"]
    assert len(two["points"]) < len(curves["1"]["points"])
    # the scan always ends at the end voltage (0 V: HV off), LV untouched, and the set-point
    # back at the module's bias (40 V): the next HV on is not a green HV_ON at 0 V
    rs.cmd("dcs", "refresh")
    for cid in ("1", "2", "3", "4"):
        ch = rs.probe.wait_json(f"dcs/channel/{cid}", lambda c: True, 10, end)
        assert ch["hv_pw"] is False and ch["hv_vMon"] < 1 and ch["fsm_state"] == "LV_ON", ch
        assert ch["hv_setV"] == 40.0, ch
    assert rs.cmd("dcs", "switch/hv", "on")["ok"]
    rs.probe.wait_json("dcs/channel/1", lambda c: c["hv_vMon"] > 39.0, 20)


def test_an_iv_scan_is_refused_with_lv_off_or_the_dew_point_margin_short(run_stand) -> None:
    import json

    rs: RunStand = run_stand()
    r = rs.cmd("runs", "iv/start", SCAN)
    assert not r["ok"] and "LV must be on" in r["error"]
    rs.lv_on()
    # 78 %RH at 22 °C: dew point 18 °C, a margin of 4 K: under the warning level (5 K), above
    # the action level (3 K) that would switch the modules off
    rs.probe.publish("sim/sensors/box", json.dumps({"humidity": 78}))
    rs.probe.wait_json("safety/status", lambda s: s["state"] == "WARNING", 20)
    r = rs.cmd("runs", "iv/start", SCAN)
    assert not r["ok"] and "dew-point margin 4.0 K is below 5 K" in r["error"], r
    assert "LV must be on" not in r["error"]


def test_compliance_stops_a_channel_and_an_abort_ramps_everything_down(run_stand) -> None:
    rs: RunStand = run_stand(breakdown="{2: 100}")
    rs.lv_on()
    time.sleep(2.5)
    tight = {**SCAN, "compliance": 1.0, "breakdown_factor": 1000.0}  # only compliance acts
    r = rs.cmd("runs", "iv/start", tight)
    assert r["ok"], r
    doc = rs.run_doc(r["result"]["id"], "done", timeout=90)
    two = doc["curves"]["2"]
    assert two["status"] == "compliance" and "limit 1 µA" in two["reason"]
    assert two["points"][-1]["i"] >= 1.0
    slow = {**SCAN, "step": 5, "settle": 0.5}
    r = rs.cmd("runs", "iv/start", slow)
    assert r["ok"], r
    rs.probe.wait_json("runs/status", lambda s: s["steps_done"] >= 3, 30)
    assert rs.cmd("runs", "stop")["ok"]
    doc = rs.run_doc(r["result"]["id"], "aborted", timeout=30)
    assert "stopped by" in doc["reason"]
    end = rs.probe.mark()
    rs.cmd("dcs", "refresh")
    for cid in ("1", "2"):
        ch = rs.probe.wait_json(f"dcs/channel/{cid}", lambda c: True, 10, end)
        assert ch["hv_pw"] is False and ch["hv_setV"] == 40.0, ch


def test_the_command_line_writes_one_csv_per_module(run_stand, tmp_path) -> None:
    import subprocess
    import sys

    rs: RunStand = run_stand()
    rs.lv_on()
    time.sleep(2.5)
    r = rs.cmd("runs", "iv/start", {**SCAN, "stop": 30})
    rs.run_doc(r["result"]["id"], "done", timeout=60)
    argv = [sys.executable, "-m", "trackerdcs", "runs", "--config", str(rs.path), "csv",
            str(r["result"]["id"]), "-d", str(tmp_path / "csv"), "--station", "Lyon"]  # fmt: skip
    out = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    text = (tmp_path / "csv" / f"PS_M1_IV_run{r['result']['id']}.csv").read_text()
    assert text.startswith("# module: PS_M1\n# station: Lyon\n")
    rows = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert rows[0].startswith("V,I_uA") and len(rows) == 1 + 4  # 0, 10, 20, 30 V


def test_a_scan_cut_by_a_killed_runs_service_is_ramped_down_when_it_comes_back(run_stand) -> None:
    import signal

    rs: RunStand = run_stand()
    rs.lv_on()
    time.sleep(2.5)
    r = rs.cmd("runs", "iv/start", {**SCAN, "step": 5, "settle": 0.5})
    assert r["ok"], r
    rs.probe.wait_json("runs/status", lambda s: s["steps_done"] >= 4, 30)
    rs.procs.kill("runs", signal.SIGKILL)  # the channels stay at the last step's voltage
    m = rs.probe.mark()
    rs.cmd("dcs", "refresh")
    assert rs.probe.wait_json("dcs/channel/1", lambda c: True, 10, m)["hv_setV"] > 0
    rs.procs.start("runs")
    doc = rs.run_doc(r["result"]["id"], "aborted", timeout=60)
    assert doc["reason"] == "the runs service restarted during the scan; channels ramped down " \
                            "to 0 V", doc["reason"]  # fmt: skip
    m = rs.probe.mark()
    rs.cmd("dcs", "refresh")
    for cid in ("1", "2"):  # the bias before the scan kept in its document: given back
        ch = rs.probe.wait_json(f"dcs/channel/{cid}", lambda c: True, 10, m)
        assert ch["hv_pw"] is False and ch["hv_setV"] == 40.0 and ch["fsm_state"] == "LV_ON", ch
