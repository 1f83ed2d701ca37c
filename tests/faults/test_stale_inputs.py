"""Issue 11 items 6, 9 and 12 on the real safety stand (Mosquitto, simulated mainframe and
sensors, the sensors, safety and CAEN services as processes): inputs that look current but
are not must count as stale, and unknown power is not off."""

from __future__ import annotations

import time

from tests.safety.conftest import SafetyStand


def test_a_reading_dated_in_the_future_is_stale_not_current(safety_stand: SafetyStand) -> None:
    st = safety_stand
    st.power_up()
    mark = st.probe.mark()
    st.set_sensor(silent=True)  # the board stops; a forged reading claims to be from later
    forged = {"name": "box", "kind": "coldbox", "temperature": 22.0, "humidity": 10.0,
              "dewpoint": -11.0, "ts": time.time() + 3600}  # fmt: skip
    st.probe.publish("sensors/box", forged, retain=True)
    s = st.safety(lambda s: s["interlocks"]["stale.box"]["state"] == "ACTION", since=mark)
    assert "in the future" in s["interlocks"]["stale.box"]["message"]
    st.caen_state("LV_OFF", since=mark)
    # the real board back: its readings count again at once
    mark = st.probe.mark()
    st.set_sensor(silent=False)
    st.safety(lambda s: s["interlocks"]["stale.box"]["state"] == "OK", since=mark)


def test_readings_of_a_dead_sensors_service_are_stale_at_once(safety_stand: SafetyStand) -> None:
    st = safety_stand
    st.power_up()
    mark = st.probe.mark()
    st.procs.kill("sensors")
    s = st.safety(lambda s: s["interlocks"]["stale.box"]["state"] == "ACTION", since=mark)
    assert "sensors service offline" in s["interlocks"]["stale.box"]["message"]
    st.caen_state("LV_OFF", since=mark)


def test_unreachable_mainframe_counts_as_powered(safety_stand: SafetyStand) -> None:
    st = safety_stand
    assert st.cmd("dcs", "switch/lv", "on")["ok"]
    st.caen_state("LV_ON")
    mark = st.probe.mark()
    st.procs.kill("sim-caen")
    st.caen_state("DISCONNECTED", since=mark)
    s = st.safety(lambda s: s["powered"] is True, timeout=15, since=st.probe.mark())
    assert s["powered"] is True  # unknown is not off


def test_a_stale_retained_ok_status_does_not_lift_an_interlock(safety_stand: SafetyStand) -> None:
    """Issue 11 item 4: any client's retained `safety/status` `{"state": "OK"}` with
    yesterday's `ts`, published during an ACTION, let `switch/lv on` through."""
    st = safety_stand
    st.power_up()
    mark = st.probe.mark()
    st.set_sensor(humidity=90.0)  # dew point far above the cold box: ACTION
    st.safety(lambda s: s["state"] == "ACTION", since=mark)
    st.caen_state("LV_OFF", since=mark)
    forged = {"state": "OK", "message": "", "interlocks": {}, "ts": time.time() - 86400}
    st.probe.publish("safety/status", forged, retain=True)
    st.probe.publish("safety/heartbeat", {"state": "OK", "ts": time.time() - 86400})
    time.sleep(0.5)  # let the CAEN service see both
    reply = st.cmd("dcs", "switch/lv", "on")
    assert reply["ok"] is False and "interlock active" in reply["error"]
