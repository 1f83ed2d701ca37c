"""Issue 11 item 13: alarm state lived in memory. After a restart `ack` failed ("no alarm
'dcs.watchdog'"), `dcs.watchdog` never cleared, and every safety start latched a nuisance
MINOR alarm. Alarms now persist in the state dir and clear when their condition clears."""

from __future__ import annotations

import json

from tests.safety.conftest import SafetyStand


def test_an_alarm_survives_a_restart_and_clears_when_its_condition_does(
    safety_stand: SafetyStand,
) -> None:
    st = safety_stand
    st.power_up()
    mark = st.probe.mark()
    st.procs.kill("safety")  # CAEN's watchdog (4 s) takes the safe state alone
    alarm = st.probe.wait_json("alarms/dcs.watchdog", lambda a: a["active"], timeout=15, since=mark)
    assert alarm["severity"] == "MAJOR"
    st.caen_state("LV_OFF", since=mark)

    restart = st.probe.mark()
    st.procs.kill("caen")
    st.procs.start("caen")
    st.caen_state("LV_OFF", since=restart)
    reply = st.cmd("dcs", "ack", {"alarm": "dcs.watchdog"})
    assert reply["ok"], reply  # the restarted service still knows the alarm
    assert reply["result"]["severity"] == "MAJOR"  # condition still there: stays shown

    back = st.probe.mark()
    st.procs.start("safety")  # heartbeat again: the condition is gone, and it was acked
    cleared = st.probe.wait_json(
        "alarms/dcs.watchdog", lambda a: a["severity"] == "OK", timeout=15, since=back
    )
    assert not cleared["active"] and cleared["acknowledged"]


def test_a_safety_start_latches_no_nuisance_alarm(safety_stand: SafetyStand) -> None:
    st = safety_stand
    st.procs.kill("safety")
    mark = st.probe.mark()
    st.procs.start("safety")
    st.safety(lambda s: s["state"] == "OK", since=mark)
    # one full republish later (heartbeat 1 s): every alarm safety published since is OK
    st.probe.wait_for("safety/heartbeat", timeout=5, since=st.probe.mark())
    st.probe.wait_for("safety/heartbeat", timeout=5, since=st.probe.mark())
    raised = [(m.topic, json.loads(m.payload)["severity"]) for m in st.probe.messages[mark:]
              if m.topic.startswith("alarms/safety.")]  # fmt: skip
    assert [r for r in raised if r[1] != "OK"] == []
