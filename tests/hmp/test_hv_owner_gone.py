"""The module's HV service gone while the HMP4040 must cut that module's LV: the operator is
refused with the reason, a safe-off keeps the LV on with a MAJOR alarm (HV without LV would
damage the module), and once the HV service is back the safe-off takes the HV down through
it first, then the LV."""

from __future__ import annotations

import uuid
from pathlib import Path

from tests.hmp.stands import hv_caen_and_hmp
from tests.hmp.test_mixed_supplies import assert_hv_down_before_lv_off
from trackerdcs.testing.probe import Probe
from trackerdcs.testing.processes import StandProcesses


def test_an_lv_supply_never_cuts_a_module_whose_hv_state_is_unknown(
    write_stand, own_mosquitto, tmp_path: Path
) -> None:
    body = hv_caen_and_hmp(
        1, f"g{uuid.uuid4().hex[:5]}", hmp_extra="  hv_off_timeout: 3\n  hv_sources_max_age: 5\n"
    )
    path, stand = write_stand(body, broker=own_mosquitto)
    procs = StandProcesses(path, stand, tmp_path)
    with procs.start(*procs.specs), Probe(stand.bus) as p:
        p.wait_json("hmp4040/status", lambda s: s["fsm_state"] == "LV_OFF", 30)
        p.wait_json("dcs/status", lambda s: s["fsm_state"] == "LV_OFF", 60)
        assert p.command("hmp4040", "switch/1", "on")["ok"]
        p.wait_json("dcs/channel/1", lambda s: s["fsm_state"] == "LV_ON", 20)
        assert p.command("dcs", "switch/hv/1", "on")["ok"]
        p.wait_json("dcs/channel/1", lambda s: s["fsm_state"] == "HV_ON", 20)

        m = p.mark()
        procs.kill("caen")  # the HV's service dies; the HV itself stays up
        p.wait_for("dcs/online", lambda x: x.text == "false", 15, m)
        r = p.command("hmp4040", "switch/1", "off")
        assert r["refused"] and "HV of M1 unknown (dcs channel 1: offline)" in r["error"], r
        assert p.command("hmp4040", "safe_off", {"reason": "test"})["ok"]
        alarm = p.wait_json("alarms/hmp4040.rampdown", lambda a: a["active"], 15, m)
        assert alarm["severity"] == "MAJOR" and "LV kept on" in alarm["message"], alarm
        assert p.latest["hmp4040/channel/1"].json()["output"] is True

        # back: it reads the HV still up; a safe-off now takes it down through it first
        procs.start("caen")
        p.wait_json("dcs/channel/1", lambda s: s["fsm_state"] == "HV_ON", 60, m)
        m = p.mark()
        assert p.command("hmp4040", "safe_off", {"reason": "test"})["ok"]
        p.wait_json("hmp4040/channel/1", lambda s: s["output"] is False, 30, m)
        assert_hv_down_before_lv_off(p, 1, m)
