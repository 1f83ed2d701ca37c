"""The CAEN service against the caproto mainframe through pyepics, on a real Mosquitto."""

from __future__ import annotations

import threading
import time

REFERENCE_FIELDS = [
    "id",
    "module",
    "lv_board",
    "lv_channel",
    "lv_status",
    "lv_setV",
    "lv_vMon",
    "lv_iMon",
    "lv_maxI",
    "lv_tripTime",
    "lv_tripInt",
    "lv_tripExt",
    "lv_unVthr",
    "lv_ovVthr",
    "lv_rampUpTime",
    "lv_rampDwnTime",
    "lv_temp",
    "hv_board",
    "hv_channel",
    "hv_status",
    "hv_setV",
    "hv_vMon",
    "hv_iMon",
    "hv_maxI",
    "hv_tripTime",
    "hv_tripInt",
    "hv_tripExt",
    "hv_rampUpSpeed",
    "hv_rampDwnSpeed",
    "hv_imRange",
    "hv_tripMode",
    "fsm_state",
]


def test_hv_on_refused_without_lv_then_ramps_to_hv_on(caen) -> None:
    cs = caen()
    p = cs.probe
    refused = p.command("dcs", "switch/hv", "on")
    assert refused["ok"] is False and refused["refused"] is True
    assert "HV on refused for channel 1: LV is off" in refused["error"]
    assert not any(e["pv"].endswith(":Pw") for e in cs.puts()), "nothing may be written"

    assert p.command("dcs", "switch/lv", "on")["ok"]
    cs.channel(1, "LV_ON")
    cs.channel(2, "LV_ON")
    mark = p.mark()
    assert p.command("dcs", "switch/hv/1", "on")["ok"]
    ramp = cs.channel(1, "HV_RAMP", since=mark)
    assert ramp["hv_vMon"] < 60
    on = cs.channel(1, "HV_ON", since=mark)
    assert abs(on["hv_vMon"] - 60.0) < 1.0
    assert on["hv_iMon"] > 0  # leakage current grows with voltage
    status = p.wait_json("dcs/status", lambda s: s["fsm_state"] == "HV_MIX")
    assert status["channels"]["1"] == "HV_ON" and status["channels"]["2"] == "LV_ON"


def test_reference_payloads_and_plain_commands(caen) -> None:
    cs = caen()
    p = cs.probe
    mark = p.mark()
    p.publish("dcs/cmd/switch/lv", "on")  # the reference stack's plain payload
    reply = p.wait_json("dcs/reply", lambda r: r["command"] == "switch/lv", since=mark)
    assert reply["ok"] and reply["id"] is None
    msg = p.wait_json("dcs/channels", lambda c: c["id"] == 1 and c["fsm_state"] == "LV_ON")
    assert set(REFERENCE_FIELDS) <= set(msg)
    assert msg["module"] == "M1" and msg["hv_board"] == 12 and msg["ts"] > 0
    assert msg["lv_maxI"] == 3.0  # settings from the stand file were pushed at connect
    # the inactive channel 3 (no module) was not switched
    assert not any(e["pv"] == cs.pv(0, 2, "Pw") for e in cs.puts())
    assert p.latest["dcs/channel/3"].json()["lv_pw"] is False


def test_limits_and_bad_channels_are_refused_with_reasons(caen) -> None:
    cs = caen()
    p = cs.probe
    r = p.command("dcs", "setv/hv/1", 900)
    assert r["refused"] and "outside limits 0..800 V" in r["error"]
    r = p.command("dcs", "setv/lv/2", 20)
    assert r["refused"] and "outside limits 0..12.5 V" in r["error"]
    r = p.command("dcs", "setv/hv/9", 100)
    assert not r["ok"] and "unknown channel 9" in r["error"]
    r = p.command("dcs", "setv/hv/1", "lots")
    assert not r["ok"] and "must be a number" in r["error"]
    r = p.command("dcs", "switch/lv", "maybe")
    assert not r["ok"] and "'on' or 'off'" in r["error"]
    assert p.command("dcs", "setv/hv/1", 250)["ok"]
    ch = p.wait_json("dcs/channel/1", lambda c: c["hv_setV"] == 250.0)
    assert ch["hv_setV"] == 250.0


def test_overcurrent_trip_gives_error_and_clear_recovers(caen) -> None:
    cs = caen()
    p = cs.probe
    assert p.command("dcs", "switch/lv/1", "on")["ok"]
    cs.channel(1, "LV_ON")
    assert p.command("dcs", "switch/hv/1", "on")["ok"]
    cs.channel(1, "HV_ON")
    mark = p.mark()
    cs.caput(cs.pv(12, 0, "SimLeak"), 25.0)  # 25 µA > I0Set 10 µA for > Trip 0.5 s
    # over-current for longer than Trip: the channel trips (Kill) and latches the trip bits
    err = p.wait_json("dcs/channel/1", lambda c: "internal trip" in c["reason"], since=mark)
    assert err["fsm_state"] == "ERROR" and "over-current" in err["reason"]
    assert err["hv_pw"] is False
    alarm = p.wait_json("alarms/dcs.ch1", lambda a: a["severity"] == "MAJOR", since=mark)
    assert alarm["active"] and "over-current" in alarm["message"]
    refused = p.command("dcs", "switch/hv/1", "on")
    assert refused["refused"] and "ERROR" in refused["error"]

    cs.caput(cs.pv(12, 0, "SimLeak"), 0.0)
    mark = p.mark()
    assert p.command("dcs", "clear")["ok"]
    back = cs.channel(1, "LV_ON", since=mark)  # Kill mode: HV is off after the trip
    assert back["hv_vMon"] == 0.0
    # latched until acknowledged, even though the condition cleared
    latched = p.wait_json("alarms/dcs.ch1", lambda a: not a["active"], since=mark)
    assert latched["severity"] == "MAJOR" and latched["acknowledged"] is False
    assert p.command("dcs", "ack", {"alarm": "dcs.ch1"})["ok"]
    p.wait_json("alarms/dcs.ch1", lambda a: a["severity"] == "OK" and a["acknowledged"])


def test_lv_off_ramps_hv_down_first(caen) -> None:
    cs = caen(rdwn=30.0)  # 60 V at 30 V/s: two seconds of ramp-down
    p = cs.probe
    assert p.command("dcs", "switch/lv/1", "on")["ok"]
    cs.channel(1, "LV_ON")
    assert p.command("dcs", "switch/hv/1", "on")["ok"]
    cs.channel(1, "HV_ON")
    mark = p.mark()
    reply = p.command("dcs", "switch/lv/1", "off")
    assert reply["ok"] and reply["result"]["sequence"] == "HV ramp-down first"
    cs.channel(1, "LV_OFF", since=mark)
    states = [m.json()["fsm_state"] for m in p.messages[mark:] if m.topic == "dcs/channel/1"]
    # HV reached 0 with LV still on, only then LV went off
    assert states.index("LV_ON") < states.index("LV_OFF")
    pw = [(e["pv"], e["value"]) for e in cs.puts() if e["pv"].endswith(":Pw")]
    hv_off = pw.index((cs.pv(12, 0, "Pw"), "Off"))
    lv_off = pw.index((cs.pv(0, 0, "Pw"), "Off"))
    assert hv_off < lv_off


def test_ioc_restart_disconnects_then_resyncs_from_hardware(caen) -> None:
    cs = caen()
    p = cs.probe
    assert p.command("dcs", "switch/lv/1", "on")["ok"]
    cs.channel(1, "LV_ON")
    mark = p.mark()
    cs.ioc.kill()
    cs.channel(1, "DISCONNECTED", timeout=20, since=mark)
    p.wait_json("alarms/dcs.ioc", lambda a: a["severity"] == "INVALID", since=mark)
    p.wait_json("dcs/status", lambda s: s["fsm_state"] == "DISCONNECTED", since=mark)
    refused = p.command("dcs", "switch/lv/1", "on")
    assert refused["refused"] and "DISCONNECTED" in refused["error"]

    mark = p.mark()
    cs.ioc.start()  # a power-cycled crate: everything is off now
    # the true state (LV off), not the remembered one (LV on), and no operator action
    ch = cs.channel(1, "LV_OFF", timeout=30, since=mark)
    assert ch["connected"] is True and ch["lv_pw"] is False
    p.wait_json("alarms/dcs.ioc", lambda a: not a["active"], since=mark)
    assert cs.service.poll() is None


def test_watchdog_goes_safe_when_safety_heartbeat_stops(caen) -> None:
    cs = caen(watchdog="2.0")
    p = cs.probe
    beating = threading.Event()
    beating.set()
    done = threading.Event()

    def beat() -> None:
        while not done.is_set():
            if beating.is_set():
                p.publish("safety/heartbeat", {"ts": time.time()})
            done.wait(0.3)

    t = threading.Thread(target=beat, daemon=True)
    t.start()
    try:
        p.wait_json("dcs/status", lambda s: s["watchdog"]["heartbeat_age"] < 1.0)
        assert p.command("dcs", "switch/lv", "on")["ok"]
        cs.channel(1, "LV_ON")
        assert p.command("dcs", "switch/hv/1", "on")["ok"]
        cs.channel(1, "HV_ON")
        mark = p.mark()
        beating.clear()  # the safety service died
        cs.channel(1, "LV_OFF", timeout=15, since=mark)
        cs.channel(2, "LV_OFF", timeout=15, since=mark)
        alarm = p.wait_json("alarms/dcs.watchdog", lambda a: a["active"], since=mark)
        assert "heartbeat" in alarm["message"]
        refused = p.command("dcs", "switch/lv", "on")
        assert refused["refused"] and "no safety heartbeat" in refused["error"]
    finally:
        done.set()
        t.join(5)


def _hv_on_everywhere(cs) -> None:
    p = cs.probe
    assert p.command("dcs", "switch/lv", "on")["ok"]
    cs.channel(1, "LV_ON")
    cs.channel(2, "LV_ON")
    assert p.command("dcs", "switch/hv", "on")["ok"]
    cs.channel(1, "HV_ON")
    cs.channel(2, "HV_ON")


def _lv_off_puts(cs) -> list[str]:
    return [e["pv"] for e in cs.puts() if e["pv"].endswith(":Pw") and e["pv"].startswith(
        f"{cs.prefix}:00:") and e["value"] == "Off"]  # fmt: skip


def test_stopping_the_service_during_safe_off_never_switches_lv_off_with_hv_up(caen) -> None:
    """Defect (a): SIGTERM while safe_off waits for the HV ramp-down fell through to LV off."""
    cs = caen(rdwn=10.0)  # 60 V at 10 V/s: six seconds of ramp-down
    _hv_on_everywhere(cs)
    mark = cs.probe.mark()
    assert cs.probe.command("dcs", "safe_off")["result"]["started"] is True
    cs.probe.wait_json("dcs/channel/1", lambda c: 20 < c["hv_vMon"] < 55, since=mark)
    cs.service.terminate()
    assert cs.service.wait(10) == 0
    # the IOC keeps ramping HV down by itself; we wrote nothing more: LV stays on
    time.sleep(1.0)
    assert _lv_off_puts(cs) == []
    import epics

    assert epics.caget(cs.pv(0, 0, "Pw"), timeout=5) == 1


def test_safe_off_superseding_an_operator_lv_off_keeps_its_name_and_runs_once(caen) -> None:
    """Defect (b): the superseded operator sequence cleared the name on its way out, so
    status showed no sequence while safe_off still ran, and a second safe_off was taken."""
    cs = caen(rdwn=10.0)
    p = cs.probe
    _hv_on_everywhere(cs)
    mark = p.mark()
    assert p.command("dcs", "switch/hv/1", "off")["ok"]  # channel 1 ramps down first
    p.wait_json("dcs/channel/1", lambda c: c["hv_vMon"] < 20, since=mark)
    mark = p.mark()
    assert p.command("dcs", "switch/lv/1", "off")["result"]["sequence"] == "HV ramp-down first"
    assert p.command("dcs", "safe_off")["result"]["started"] is True
    # the operator's part (channel 1) is done while channel 2's HV is still up
    p.wait_json("dcs/channel/1", lambda c: c["hv_vMon"] < 4, since=mark)
    time.sleep(0.5)
    assert p.latest["dcs/channel/2"].json()["hv_vMon"] > 10
    assert p.command("dcs", "safe_off")["result"]["started"] is False  # one at a time
    now = p.mark()
    assert p.command("dcs", "refresh")["ok"]
    assert p.wait_json("dcs/status", lambda s: True, since=now)["sequence"] == "safe_off"
    done = p.wait_json("dcs/status", lambda s: s["fsm_state"] == "LV_OFF", timeout=20, since=mark)
    assert done["sequence"] is None
    # status never showed "no sequence" while HV was still up
    for s in (m.json() for m in p.messages[mark:] if m.topic == "dcs/status"):
        hv_up = {"HV_ON", "HV_RAMP"} & set(s["channels"].values())
        assert s["sequence"] or not hv_up, s
    # and LV went off only after HV was down on both channels
    pw = [(e["pv"], e["value"]) for e in cs.puts() if e["pv"].endswith(":Pw")]
    last_hv_off = max(i for i, x in enumerate(pw) if x[0].startswith(f"{cs.prefix}:12:"))
    lv2_off = pw.index((cs.pv(0, 1, "Pw"), "Off"))
    assert last_hv_off < lv2_off


def test_hv_that_will_not_come_down_keeps_lv_on_with_a_major_alarm(caen) -> None:
    """Never LV first: when the ramp-down outlasts hv_off_timeout, LV stays on."""
    cs = caen(rdwn=1.0, hv_off_timeout=2.0)  # 60 V at 1 V/s cannot make it in 2 s
    p = cs.probe
    _hv_on_everywhere(cs)
    mark = p.mark()
    assert p.command("dcs", "safe_off")["result"]["started"] is True
    alarm = p.wait_json("alarms/dcs.rampdown", lambda a: a["active"], timeout=10, since=mark)
    assert alarm["severity"] == "MAJOR" and "LV kept on" in alarm["message"]
    p.wait_json("dcs/status", lambda s: s["sequence"] is None, since=mark)
    assert _lv_off_puts(cs) == []


def test_the_simulated_sensor_breaks_down_where_the_stand_file_says(caen) -> None:
    """For IV scans: channel 2's sensor breaks down at 80 V, channel 1's does not."""
    cs = caen(breakdown="{2: 80}")
    p = cs.probe
    for cid in (1, 2):
        assert p.command("dcs", f"switch/lv/{cid}", "on")["ok"]
        cs.channel(cid, "LV_ON")
        assert p.command("dcs", f"setv/hv/{cid}", 60)["ok"]
    for cid in (1, 2):
        assert p.command("dcs", f"switch/hv/{cid}", "on")["ok"]
    one = p.wait_json("dcs/channel/1", lambda c: c["fsm_state"] == "HV_ON"
                      and c["hv_vMon"] > 59, 20)  # fmt: skip
    two = p.wait_json("dcs/channel/2", lambda c: c["fsm_state"] == "HV_ON"
                      and c["hv_vMon"] > 59, 20)  # fmt: skip
    assert two["hv_iMon"] > 10 * max(one["hv_iMon"], 0.01), (one["hv_iMon"], two["hv_iMon"])
