"""The chiller service against the simulated Julabo, over TCP, a pty and the RFC 2217 bridge."""

from __future__ import annotations

import pytest

from tests.julabo.conftest import JulaboStand


@pytest.mark.parametrize("transport", ["tcp", "pty", "rfc2217"])
def test_setpoint_start_stop_drive_the_bath(julabo, transport: str) -> None:
    js: JulaboStand = julabo(transport)
    p = js.probe
    assert p.command("julabo", "setWT", {"setpoint": 2, "temp": -15.0})["ok"]
    assert p.command("julabo", "useSP", {"setpoint": 2})["ok"]
    reply = p.command("julabo", "start")
    assert reply["ok"], reply
    s = js.status(lambda s: s["fsm_state"] == "ON" and s["used_setpoint"] == 2)
    assert s["setpoint_2"] == pytest.approx(-15.0)
    assert s["running"] is True
    # the bath really cools towards the active setpoint
    js.status(lambda s: s["internal_temp"] < 0, timeout=30)
    assert p.command("julabo", "stop")["ok"]
    js.status(lambda s: s["fsm_state"] == "OFF" and s["running"] is False)


def test_setpoint_outside_limits_is_refused_with_reason(julabo) -> None:
    js: JulaboStand = julabo("tcp")
    reply = js.probe.command("julabo", "setWT", {"setpoint": 1, "temp": -55.0})
    assert reply["ok"] is False and reply.get("refused") is True
    assert "outside limits" in reply["error"] and "-30" in reply["error"]
    mark = js.probe.mark()
    assert js.probe.command("julabo", "refresh")["ok"]
    s = js.status(lambda s: "setpoint_1" in s, since=mark)
    assert s["setpoint_1"] != pytest.approx(-55.0)
    bad = js.probe.command("julabo", "setWT", {"setpoint": 7, "temp": 10})
    assert bad["ok"] is False and "setpoint" in bad["error"]


def test_simulator_gone_then_back_restores_real_state(julabo) -> None:
    js: JulaboStand = julabo("tcp")
    p = js.probe
    assert p.command("julabo", "start")["ok"]
    js.status(lambda s: s["fsm_state"] == "ON")
    mark = p.mark()
    js.sim.kill()
    js.status(lambda s: s["fsm_state"] == "DISCONNECTED", since=mark)
    alarm = p.wait_json("alarms/julabo.comm", lambda a: a["active"], timeout=10, since=mark)
    assert alarm["severity"] == "INVALID"
    # commands while disconnected are refused, not queued
    reply = p.command("julabo", "stop")
    assert reply["ok"] is False and "not reachable" in reply["error"]
    # a fresh simulator starts stopped: the service must report that, not remember ON
    mark = p.mark()
    js.sim = js.restart_sim()
    s = js.status(lambda s: s["fsm_state"] in ("ON", "OFF"), timeout=20, since=mark)
    assert s["fsm_state"] == "OFF" and s["running"] is False
    p.wait_json("alarms/julabo.comm", lambda a: a["current"] == "OK", timeout=10, since=mark)


def test_alarm_code_gives_error_with_message(julabo) -> None:
    import serial

    js: JulaboStand = julabo("tcp")
    mark = js.probe.mark()
    # the simulator's back door, as a unit would raise a low-level alarm by itself
    with serial.serial_for_url(js.stand.julabo.port, timeout=1) as port:  # type: ignore[union-attr]
        port.write(b"SIM_ALARM -1\r")
        port.readline()
    s = js.status(lambda s: s["fsm_state"] == "ERROR", since=mark)
    assert s["status_code"] == -1
    assert "low liquid level" in s["message"]
    alarm = js.probe.wait_json("alarms/julabo.alarm", lambda a: a["active"], since=mark)
    assert alarm["severity"] == "MAJOR" and "low liquid level" in alarm["message"]
    reply = js.probe.command("julabo", "start")
    assert reply["ok"] is False and "ERROR" in reply["error"]


@pytest.mark.parametrize(
    ("fault", "heal", "expect"),
    [("SIM_GARBLE 3", None, "expected a number|garbled"),
     ("SIM_MUTE 1", "SIM_MUTE 0", "no answer")],
)  # fmt: skip
def test_garbage_or_silence_gives_disconnected_alarm_then_recovers(
    julabo, fault: str, heal: str | None, expect: str
) -> None:
    import re

    import serial

    js: JulaboStand = julabo("tcp")
    mark = js.probe.mark()
    with serial.serial_for_url(js.stand.julabo.port, timeout=1) as port:  # type: ignore[union-attr]
        port.write(fault.encode() + b"\r")
        s = js.status(lambda s: s["fsm_state"] == "DISCONNECTED", since=mark)
        assert re.search(expect, s["message"]), s["message"]
        alarm = js.probe.wait_json("alarms/julabo.comm", lambda a: a["active"], since=mark)
        assert alarm["severity"] == "INVALID"
        if heal:
            port.write(heal.encode() + b"\r")
    # the service reconnects by itself and reads the real state again
    mark = js.probe.mark()
    js.status(lambda s: s["fsm_state"] == "OFF", timeout=20, since=mark)


def test_a_chiller_that_listens_after_the_service_starts_is_no_alarm(write_stand, own_mosquitto,
                                                                     tmp_path) -> None:  # fmt: skip
    """Services and device servers start together (a demo, a pod): a Julabo simulator that
    listened a moment after its service first tried latched a MAJOR-looking comm alarm at
    every such start (seen in a fresh-clone run of the demo test). Within the start-up grace
    the chiller is DISCONNECTED with no number, and no alarm; one that never answers is
    alarmed once the grace is over."""
    import shutil
    import subprocess
    import sys

    from tests.julabo.conftest import JULABO_SECTION
    from trackerdcs.julabo.testing import sim_tcp
    from trackerdcs.testing.mosquitto import free_port
    from trackerdcs.testing.probe import Probe

    tcp = free_port()
    path, stand = write_stand(JULABO_SECTION.format(port=f"socket://127.0.0.1:{tcp}", tcp=tcp),
                              broker=own_mosquitto)  # fmt: skip
    with Probe(stand.bus) as p:
        service = subprocess.Popen([sys.executable, "-m", "trackerdcs", "run", "julabo",
                                    "--config", str(path)],
                                   stdout=open(tmp_path / "service.log", "wb"),  # noqa: SIM115
                                   stderr=subprocess.STDOUT)  # fmt: skip
        sim = None
        try:
            gone = p.wait_json("julabo/status", lambda s: s["fsm_state"] == "DISCONNECTED", 30)
            assert gone.get("internal_temp") is None  # no number while nothing answers
            sim = sim_tcp(path, "127.0.0.1", tcp, tmp_path / "sim.log")
            p.wait_json("julabo/status", lambda s: s["fsm_state"] == "OFF", 30)
            raised = [m.json() for m in p.messages if m.topic == "alarms/julabo.comm"]
            assert not [a for a in raised if a["severity"] != "OK"], raised
            # gone after it answered once: alarmed at once, as before
            mark = p.mark()
            sim.kill()
            alarm = p.wait_json("alarms/julabo.comm", lambda a: a["active"], 15, since=mark)
            assert alarm["severity"] == "INVALID"
        finally:
            service.terminate()
            service.wait(10)
            if sim is not None:
                sim.stop()
    # a chiller that never answers: the alarm comes once the grace (10 s) is over
    shutil.rmtree(stand.data_dir / "alarms")  # the first run's latched alarm, forgotten
    with Probe(stand.bus) as p:
        p.publish("alarms/julabo.comm", b"", retain=True)  # the previous run's, cleared
        mark = p.mark()
        service = subprocess.Popen([sys.executable, "-m", "trackerdcs", "run", "julabo",
                                    "--config", str(path)],
                                   stdout=open(tmp_path / "service2.log", "wb"),  # noqa: SIM115
                                   stderr=subprocess.STDOUT)  # fmt: skip
        try:
            alarm = p.wait_json("alarms/julabo.comm", lambda a: a.get("active"), 40, since=mark)
            assert "Disconnected" in alarm["message"]
        finally:
            service.terminate()
            service.wait(10)
