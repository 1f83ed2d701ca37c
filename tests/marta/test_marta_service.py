"""The MARTA service against the simulated plant (a pymodbus server over real TCP), through a
real Mosquitto: the reference FSM, set-point limits, a named alarm latched and cleared as on
the plant, the PLC gone and back, and the reference Node-RED commands as they are sent."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from trackerdcs.config.model import Stand
from trackerdcs.testing.mosquitto import free_port
from trackerdcs.testing.probe import Probe
from trackerdcs.testing.processes import StandProcesses


@dataclass
class MartaStand:
    procs: StandProcesses
    probe: Probe
    stand: Stand

    def status(self, ok, timeout: float = 20.0, since: int | None = None) -> dict:
        return self.probe.wait_json("MARTA/status", ok, timeout, since)

    def state(self, name: str, timeout: float = 20.0) -> dict:
        return self.status(lambda s: s["fsm_state"] == name, timeout)


@pytest.fixture
def marta(write_stand, own_mosquitto, tmp_path: Path) -> Iterator[MartaStand]:
    body = f"""
marta:
  simulate: true
  port: {free_port()}
  poll: 0.3
  temperature_min: -30
  sim: {{time_scale: 60, update: 0.1}}
"""
    path, stand = write_stand(body, broker=own_mosquitto)  # no retained state of another test
    procs = StandProcesses(path, stand, tmp_path)
    procs.start(*procs.specs)
    with Probe(stand.bus) as probe:
        ms = MartaStand(procs, probe, stand)
        ms.state("CONNECTED", 30)
        try:
            yield ms
        finally:
            procs.stop()


def test_chiller_then_co2_run_and_the_supply_follows_its_setpoint(marta: MartaStand) -> None:
    p = marta.probe
    refused = p.command("MARTA", "start_co2")
    assert refused["refused"] and "needs the chiller running" in refused["error"]
    assert p.command("MARTA", "set_temperature_setpoint", "-20")["ok"]
    assert p.command("MARTA", "start_chiller")["ok"]
    st = marta.state("CHILLER_RUNNING")
    assert st["start_chiller"] is True and st["temperature_setpoint"] == -20.0
    assert p.command("MARTA", "set_flow_active", "1")["ok"]
    assert p.command("MARTA", "set_flow_setpoint", "3.5")["ok"]
    assert p.command("MARTA", "start_co2")["ok"]
    marta.state("CO2_RUNNING")
    # the CO2 supply approaches -20 °C with the plant's time constant; flow follows 3.5 g/s
    st = marta.status(lambda s: s["CO2_TT05"] < -18 and abs(s["CO2_FT01"] - 3.5) < 0.2, 40)
    assert st["CO2_TT06"] > st["CO2_TT05"]  # the return carries the detector's heat
    assert 14 < st["CO2_PT05"] < 25  # CO2 saturation near -20 °C (~19.7 bar) + pump head
    # limits: the reference ones, then the stand's own (temperature_min -30)
    for cmd, value, why in (("set_temperature_setpoint", "-40", "outside -35 .. 25"),
                            ("set_temperature_setpoint", "-32", "stand's limits -30 .. 25"),
                            ("set_speed_setpoint", "7000", "outside 0 .. 6000"),
                            ("set_flow_setpoint", "6", "outside 0 .. 5"),
                            ("set_flow_setpoint", "nan", "payload must be finite")):  # fmt: skip
        r = p.command("MARTA", cmd, value)
        assert not r["ok"] and why in r["error"], (cmd, value, r)
    assert marta.probe.latest["MARTA/status"].json()["temperature_setpoint"] == -20.0


def test_an_injected_alarm_is_latched_by_name_and_cleared_as_on_the_plant(
    marta: MartaStand,
) -> None:
    p = marta.probe
    assert p.command("MARTA", "start_chiller")["ok"]
    marta.state("CHILLER_RUNNING")
    mark = p.mark()
    p.publish("sim/marta", {"alarm": "CO2 low flow"})
    st = marta.status(lambda s: s["fsm_state"] == "ALARM", since=mark)
    assert st["alarms"] == ["CO2 low flow"] and "CO2 low flow" in st["message"]
    alarm = p.wait_json("alarms/MARTA.co2_low_flow", lambda a: a["active"], since=mark)
    assert alarm["severity"] == "MAJOR"
    ref = p.wait_json("MARTA/alarms", lambda a: a["alarms"], since=mark)
    assert ref["alarms"] == ["CO2 low flow"]
    r = p.command("MARTA", "start_chiller")
    assert r["refused"] and "clear_alarms first" in r["error"]
    # the fault is still there: the reset cannot clear it, and says so
    r = p.command("MARTA", "clear_alarms", timeout=15)
    assert r["refused"] and "still present" in r["error"] and "CO2 low flow" in r["error"]
    p.publish("sim/marta", {"clear": "CO2 low flow"})
    mark = p.mark()
    # the simulator takes the fault away on its own connection: the reset may come first
    # (a fresh-clone run under load), and then it is refused again, as on the plant
    deadline = time.monotonic() + 15
    while not (r := p.command("MARTA", "clear_alarms", timeout=15))["ok"]:
        assert "still present" in r["error"] and time.monotonic() < deadline, r
        time.sleep(0.5)
    st = marta.status(lambda s: s["fsm_state"] == "CONNECTED", since=mark)
    assert st["start_chiller"] is False and st["start_co2"] is False and st["alarms"] == []
    # its condition gone, the alarm stays latched (MAJOR) until someone acknowledges it
    alarm = p.wait_json("alarms/MARTA.co2_low_flow", lambda a: a["current"] == "OK", since=mark)
    assert alarm["severity"] == "MAJOR" and not alarm["acknowledged"]


def test_the_plc_gone_is_disconnected_with_no_number_and_back_reads_the_truth(
    marta: MartaStand,
) -> None:
    p = marta.probe
    assert p.command("MARTA", "start_chiller")["ok"]
    marta.state("CHILLER_RUNNING")
    mark = p.mark()
    marta.procs.kill("sim-marta")
    st = marta.status(lambda s: s["fsm_state"] == "DISCONNECTED", since=mark)
    assert not [k for k, v in st.items() if isinstance(v, float) and k != "ts"]  # no number
    alarm = p.wait_json("alarms/MARTA.comm", lambda a: a["active"], since=mark)
    assert alarm["severity"] == "INVALID"
    refused = p.command("MARTA", "start_chiller")
    assert refused["refused"] and "not reachable" in refused["error"]
    mark = p.mark()
    marta.procs.start("sim-marta")  # a power-cycled PLC: everything stopped
    st = marta.status(lambda s: s["fsm_state"] != "DISCONNECTED", 30, since=mark)
    assert st["fsm_state"] == "CONNECTED" and st["start_chiller"] is False
    p.wait_json("alarms/MARTA.comm", lambda a: a["current"] == "OK", since=mark)


def test_the_reference_node_red_commands_work_as_sent(marta: MartaStand) -> None:
    """The reference MARTA tab sends plain payloads: numbers as text, buttons with a
    timestamp or an empty payload."""
    p = marta.probe
    sent = [("set_temperature_setpoint", b"12.5"), ("set_speed_setpoint", b"2500"),
            ("set_flow_active", b"0"),
            ("start_chiller", b"1764115200000")]  # an inject node's timestamp  # fmt: skip
    for name, payload in sent:
        p.publish(f"MARTA/cmd/{name}", payload)
    st = marta.status(
        lambda s: (
            s["fsm_state"] == "CHILLER_RUNNING"
            and s["temperature_setpoint"] == 12.5
            and s["speed_setpoint"] == 2500
        )
    )
    assert st["flow_active"] is False
    for name, payload in (("start_co2", b""), ("refresh", b""), ("stop_chiller", b"")):
        p.publish(f"MARTA/cmd/{name}", payload)
        sent.append((name, payload))
        if name == "start_co2":
            marta.state("CO2_RUNNING")
    marta.state("CONNECTED")
    # every one of them was answered on MARTA/reply, in order, none refused
    for name, _ in sent:
        reply = p.wait_json("MARTA/reply", lambda r, n=name: r["command"] == n)
        assert reply["ok"], reply
