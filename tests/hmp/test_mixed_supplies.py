"""Module LV from an HMP4040, HV from a CAEN mainframe, cooling from a MARTA plant: HV on is
refused while the module's LV (on the other supply) is off, an operator's LV off brings the
module's HV down first, and a dew-point ACTION takes HV down, then LV off, and the CO2 to
its safe set-point — HV before LV for every module, across the two supplies."""

from __future__ import annotations

import itertools
import json
import time
import uuid
from pathlib import Path

from tests.hmp.stands import hv_caen_and_hmp
from tests.hmp.test_hmp_service import sim_line
from trackerdcs.testing.mosquitto import free_port
from trackerdcs.testing.probe import Probe
from trackerdcs.testing.processes import StandProcesses


def test_hv_before_lv_across_supplies_and_a_dewpoint_action_on_a_marta_stand(
    write_stand, own_mosquitto, tmp_path: Path
) -> None:
    prefix = f"x{uuid.uuid4().hex[:5]}"
    hmp_port = free_port()
    puts, writes = tmp_path / "caen-puts.jsonl", tmp_path / "hmp-writes.jsonl"
    body = (
        hv_caen_and_hmp(
            2,
            prefix,
            watchdog="6",
            hmp_port=hmp_port,
            caen_extra=f"  heartbeat: 1\n  sim: {{put_log: {puts}}}\n",
            hmp_extra=f"  heartbeat: 1\n  sim: {{write_log: {writes}}}\n",
        )
        + f"""
marta:
  simulate: true
  port: {free_port()}
  poll: 0.3
  sim: {{time_scale: 30, update: 0.1}}
sensors:
  simulate: true
  sim: {{period: 0.3, noise: 0.0, room: {{temperature: 22.0, humidity: 30.0, drift: 0.0}}}}
  sensors:
    - {{name: box, kind: coldbox, temp_topic: R{prefix}/sensors/BME/temp,
       humi_topic: R{prefix}/sensors/BME/humi}}
safety:
  heartbeat: 1
  heartbeat_period: 0.5
  dewpoint: {{warning: 5, action: 3, hysteresis: 1}}
  stale: {{warning: 5, action: 10}}
  chiller: {{grace: 60}}
"""
    )
    path, stand = write_stand(body, broker=own_mosquitto)
    procs = StandProcesses(path, stand, tmp_path)
    with procs.start(*procs.specs), Probe(stand.bus) as p:
        p.wait_json("dcs/status", lambda s: s["fsm_state"] == "LV_OFF", 60)
        p.wait_json("hmp4040/status", lambda s: s["fsm_state"] == "LV_OFF", 30)
        p.wait_json("MARTA/status", lambda s: s["fsm_state"] == "CONNECTED", 30)
        # HV on a module whose LV (on the HMP) is off: refused, the other supply named
        r = p.command("dcs", "switch/hv/1", "on")
        assert r["refused"] and "LV of M1 is off (hmp4040 channel 1)" in r["error"], r
        r = p.command("dcs", "switch/lv", "on")
        assert r["refused"] and "LV is not on this mainframe" in r["error"], r

        assert p.command("MARTA", "set_temperature_setpoint", "10")["ok"]
        assert p.command("MARTA", "start_chiller")["ok"]
        p.wait_json("MARTA/status", lambda s: s["fsm_state"] == "CHILLER_RUNNING", 20)
        assert p.command("MARTA", "start_co2")["ok"]
        p.wait_json("safety/status", lambda s: s["state"] == "OK" and s["interlocks"][
            "chiller"]["message"] == "chiller running", 40)  # fmt: skip

        assert p.command("hmp4040", "switch", "on")["ok"]
        p.wait_json("dcs/status", lambda s: s["fsm_state"] == "LV_ON", 20)
        assert p.command("dcs", "switch/hv", "on")["ok"]
        p.wait_json("dcs/status", lambda s: s["fsm_state"] == "HV_ON", 20)

        # an operator's LV off on the HMP: the CAEN brings M1's HV down first
        m = p.mark()
        r = p.command("hmp4040", "switch/1", "off")
        assert r["ok"] and r["result"]["sequence"] == "HV ramp-down first", r
        p.wait_json("hmp4040/channel/1", lambda s: s["output"] is False, 20, m)
        assert_hv_down_before_lv_off(p, 1, m)
        assert p.command("hmp4040", "switch/1", "on")["ok"]
        p.wait_json("dcs/channel/1", lambda s: s["fsm_state"] == "LV_ON", 20)
        m = p.mark()
        assert p.command("dcs", "switch/hv/1", "on")["ok"]
        p.wait_json("dcs/channel/1", lambda s: s["fsm_state"] == "HV_ON", 20, m)

        # M2's output trips under HV (nothing could order that): the CAEN kills M2's HV
        m = p.mark()
        sim_line(hmp_port, "SIM:TRIP 2")
        lost = p.wait_json("alarms/dcs.ch2.lv_lost", lambda a: a["active"], 10, m)
        assert lost["severity"] == "MAJOR" and "LV of M2 is off" in lost["message"], lost
        p.wait_json("dcs/channel/2", lambda s: s["hv_pw"] is False and s["hv_vMon"] < 5, 20, m)
        assert p.command("hmp4040", "clear/2")["ok"]
        assert p.command("hmp4040", "switch/2", "on")["ok"]
        p.wait_json("dcs/channel/2", lambda s: s["fsm_state"] == "LV_ON", 20, m)
        m = p.mark()
        assert p.command("dcs", "switch/hv/2", "on")["ok"]
        p.wait_json("dcs/channel/2", lambda s: s["fsm_state"] == "HV_ON", 20, m)

        # the box air near saturation: a dew-point ACTION
        mark, t0 = p.mark(), time.time()
        p.publish("sim/sensors/box", {"humidity": 95.0})
        st = p.wait_json("safety/status", lambda s: s["state"] == "ACTION", 20, mark)
        assert "(MARTA CO2 supply)" in st["interlocks"]["dewpoint"]["message"]
        p.wait_json("hmp4040/status", lambda s: s["fsm_state"] == "LV_OFF", 30, mark)
        p.wait_json("dcs/status", lambda s: s["fsm_state"] == "LV_OFF", 10, mark)
        for cid in (1, 2):
            assert_hv_down_before_lv_off(p, cid, mark)
        p.wait_json("MARTA/status", lambda s: s.get("temperature_setpoint") == 20.0, 20, mark)
        # the same order as the supplies saw it: each module's HV Pw=0 written before
        # its LV output off
        caen = [json.loads(x) for x in puts.read_text().splitlines()]
        hmp = [json.loads(x) for x in writes.read_text().splitlines()]
        for cid in (1, 2):
            lv_off = [b["t"] for a, b in itertools.pairwise(hmp)
                      if a["line"] == f"INST:NSEL {cid}" and b["line"] == "OUTP:SEL 0"
                      and b["t"] >= t0]  # fmt: skip
            hv_off = [w["t"] for w in caen if w["pv"] == f"{prefix}:12:{cid - 1:03d}:Pw"
                      and w["value"] in (0, "Off") and w["t"] >= t0]  # fmt: skip
            assert lv_off and hv_off, (cid, lv_off, hv_off)
            assert min(hv_off) < min(lv_off), f"module M{cid}: LV off before HV off"


def assert_hv_down_before_lv_off(p: Probe, cid: int, since: int) -> None:
    """When the HMP output went off, the CAEN's last word on that module's HV was: down."""
    msgs = p.messages[since:]
    off = next(i for i, m in enumerate(msgs) if m.topic == f"hmp4040/channel/{cid}"
               and json.loads(m.payload).get("output") is False)  # fmt: skip
    before = [json.loads(m.payload) for m in msgs[:off] if m.topic == f"dcs/channel/{cid}"]
    assert before, "no HV state seen before the LV went off"
    last = before[-1]
    assert any(b["hv_vMon"] > 5.0 for b in before), f"HV was not up: nothing to order {before}"
    assert last["hv_vMon"] <= 5.0 and last["hv_pw"] is False, last
