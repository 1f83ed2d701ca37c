"""Interlocks end to end: simulated sensors -> sensors -> safety -> CAEN service -> simulated
mainframe, on a real Mosquitto."""

from __future__ import annotations

import time

import pytest

from tests.safety.conftest import SafetyStand
from trackerdcs.sensors.dewpoint import humidity_for

BOX_T = 22.0  # no chiller in this stand: the cold box sits at room temperature


def margin_humidity(margin: float) -> float:
    """Cold-box humidity that leaves `margin` K between its temperature and its dew point."""
    return round(humidity_for(BOX_T, BOX_T - margin), 2)


def test_dewpoint_margin_action_ramps_hv_then_lv_off_and_latches(
    safety_stand: SafetyStand,
) -> None:
    st = safety_stand
    p = st.probe
    st.power_up()
    mark = p.mark()
    st.set_sensor(humidity=margin_humidity(4.0))  # between action (3) and warning (5)
    s = st.safety(lambda s: s["state"] == "WARNING", since=mark)
    assert s["interlocks"]["dewpoint"]["value"] == pytest.approx(4.0, abs=0.1)
    st.caen_state("HV_ON")  # a warning does not act

    mark = p.mark()
    st.set_sensor(humidity=margin_humidity(2.0))
    st.safety(lambda s: s["state"] == "ACTION", since=mark)
    st.caen_state("LV_OFF", since=mark)
    alarm = p.wait_json("alarms/safety.dewpoint", lambda a: a["severity"] == "MAJOR", since=mark)
    assert alarm["active"] and not alarm["acknowledged"] and "margin 2.0 K" in alarm["message"]
    # shelving silences notifications for a while, never for ever
    shelf = st.cmd("safety", "shelve", {"alarm": "safety.dewpoint", "minutes": 30})
    assert shelf["ok"] and shelf["result"]["shelved_until"] > time.time() + 1700
    too_long = st.cmd("safety", "shelve", {"alarm": "safety.dewpoint", "minutes": 5000})
    assert too_long["ok"] is False and "1..1440" in too_long["error"]
    assert st.cmd("safety", "unshelve", {"alarm": "safety.dewpoint"})["ok"]
    # the order that protects the sensors: every HV off before any LV off
    puts = [x for x in st.puts() if x["pv"].endswith(":Pw") and x["value"] in (0, "Off")]
    hv = [x["t"] for x in puts if ":12:" in x["pv"]]
    lv = [x["t"] for x in puts if ":00:" in x["pv"]]
    assert len(hv) >= 2 and len(lv) >= 2 and max(hv) < min(lv)

    # powering up again is refused while the interlock holds
    reply = st.cmd("dcs", "switch/lv", "on")
    assert reply["ok"] is False and "interlock" in reply["error"]

    # recovery inside the hysteresis band (3..4 K) keeps the action level
    mark = p.mark()
    st.set_sensor(humidity=margin_humidity(3.5))
    s = st.safety(lambda s: s["interlocks"]["dewpoint"]["value"] > 3.3, since=mark)
    assert s["state"] == "ACTION"

    # condition gone: the alarm stays latched (unacknowledged) until acknowledged
    mark = p.mark()
    st.set_sensor(humidity=None)
    st.safety(lambda s: s["state"] == "OK", since=mark)
    a = p.wait_json("alarms/safety.dewpoint", lambda a: a["current"] == "OK", since=mark)
    assert a["severity"] == "MAJOR" and a["acknowledged"] is False
    ack = st.cmd("safety", "ack", {"alarm": "safety.dewpoint"})
    assert ack["ok"], ack
    a = p.wait_json("alarms/safety.dewpoint", lambda a: a["acknowledged"], since=mark)
    assert a["severity"] == "OK" and not a["active"]
    assert st.cmd("dcs", "switch/lv", "on")["ok"]


def test_silent_sensor_triggers_stale_rule(safety_stand: SafetyStand) -> None:
    st = safety_stand
    st.power_up()
    mark = st.probe.mark()
    st.set_sensor(silent=True)
    w = st.safety(lambda s: s["interlocks"]["stale.box"]["state"] == "WARNING", since=mark)
    assert "silent" in w["interlocks"]["stale.box"]["message"]
    s = st.safety(lambda s: s["interlocks"]["stale.box"]["state"] == "ACTION", since=mark)
    assert s["state"] == "ACTION"
    st.caen_state("LV_OFF", since=mark)
    st.probe.wait_json("alarms/safety.stale.box", lambda a: a["active"], since=mark)
    mark = st.probe.mark()
    st.set_sensor(silent=False)
    st.safety(lambda s: s["interlocks"]["stale.box"]["state"] == "OK", since=mark)


def test_killed_safety_service_makes_caen_go_safe_by_itself(safety_stand: SafetyStand) -> None:
    st = safety_stand
    st.power_up()
    mark = st.probe.mark()
    st.procs.kill("safety")
    st.probe.wait_for("safety/online", lambda m: m.payload == b"false", timeout=15, since=mark)
    # watchdog timeout is 4 s in this stand; nobody commands anything
    st.caen_state("LV_OFF", timeout=25, since=mark)
    wd = st.probe.wait_json("alarms/dcs.watchdog", lambda a: a["active"], since=mark)
    assert "heartbeat" in wd["message"]
    reply = st.cmd("dcs", "switch/lv", "on")
    assert reply["ok"] is False and "heartbeat" in reply["error"]


def test_sensor_sending_nan_counts_as_no_reading_and_acts(safety_stand: SafetyStand) -> None:
    """Defect (c): `nan` was published as `temperature: null` with a fresh `ts`, so safety
    stayed at WARNING "margin unknown" for ever with the modules powered."""
    st = safety_stand
    p = st.probe
    st.power_up()
    mark = p.mark()
    p.publish("sim/sensors/box", b'{"temperature": NaN}')  # the board now prints "nan"
    s = st.safety(lambda s: s["interlocks"]["stale.box"]["state"] == "ACTION", since=mark)
    assert s["state"] == "ACTION"
    st.caen_state("LV_OFF", since=mark)
    # never published as a current reading: every sensors/box after the fault is older
    fault = next(m.received for m in p.messages[mark:] if m.topic.endswith("/BME/temp")
                 and m.payload == b"nan")  # fmt: skip
    later = [m.json() for m in p.messages[mark:] if m.topic == "sensors/box"
             and m.received > fault + 0.5]  # fmt: skip
    assert later and all(r["ts"] < fault for r in later)
