"""The HMP4040 service against the simulated supply (a SCPI server over real TCP), through a
real Mosquitto: switching, set values within limits, an OVP trip shown as an alarm and
cleared, the Lyon fork's topics, and the supply gone and back."""

from __future__ import annotations

import socket
from pathlib import Path

from trackerdcs.testing.mosquitto import free_port
from trackerdcs.testing.probe import Probe
from trackerdcs.testing.processes import StandProcesses


def sim_line(port: int, line: str) -> None:
    """The simulator's fault injection (not SCPI: only the simulator knows it)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(f"{line}\n".encode())


def test_switch_setpoints_limits_ovp_trip_lyon_topics_and_reconnect(
    write_stand, own_mosquitto, tmp_path: Path
) -> None:
    port = free_port()
    body = f"""
hmp:
  simulate: true
  port: {port}
  poll: 0.2
  timeout: 1.0
  reconnect_max: 1.0
  watchdog: {{timeout: null}}
  limits: {{vmax: 12.0, imax: 3.0}}
  channels:
    1: {{module: M1, voltage: 10.5, current: 2.5, ovp: 11.5}}
    2: {{module: M2, voltage: 10.5, current: 0.5, ovp: 11.5}}
"""
    path, stand = write_stand(body, broker=own_mosquitto)
    procs = StandProcesses(path, stand, tmp_path)
    procs.start(*procs.specs)
    try:
        with Probe(stand.bus) as p:
            st = p.wait_json("hmp4040/status", lambda s: s["fsm_state"] == "LV_OFF", 30)
            assert st["channels"] == {"1": "LV_OFF", "2": "LV_OFF", "3": "LV_OFF", "4": "LV_OFF"}
            # the stand file's values were written at connect; nothing was switched on
            ch1 = p.wait_json("hmp4040/channel/1", lambda s: s["vset"] == 10.5, 10)
            assert ch1["output"] is False and ch1["ovp"] == 11.5 and ch1["iset"] == 2.5

            assert p.command("hmp4040", "switch/1", "on")["ok"]
            ch1 = p.wait_json("hmp4040/channel/1", lambda s: s["vmon"] > 10.4, 10)
            assert ch1["fsm_state"] == "LV_ON" and ch1["mode"] == "CV"
            assert abs(ch1["imon"] - 10.5 / 7.0) < 0.05  # the module's 7 Ω
            # a current limit below what the module draws: constant current, voltage down
            assert p.command("hmp4040", "switch/2", "on")["ok"]
            ch2 = p.wait_json("hmp4040/channel/2", lambda s: s.get("mode") == "CC", 10)
            assert ch2["vmon"] < 4.0 and abs(ch2["imon"] - 0.5) < 0.01

            # limits: the stand's, the model's, and the OVP the instrument would trip at
            for cmd, value, why in (
                ("setv/1", "12.5", "outside limits 0..12 V"),
                ("setv/1", "11.6", "at or above its OVP of 11.5 V"),
                ("seti/1", "4", "outside limits 0..3 A"),
                ("setovp/1", "10", "at or below its voltage 10.5 V"),
                ("setv/7", "1", "outputs 1..4"),
                ("setv/1", "nan", "payload must be finite"),
            ):
                r = p.command("hmp4040", cmd, value)
                assert not r["ok"] and why in r["error"], (cmd, value, r)
            assert p.command("hmp4040", "setv/1", "10.0")["ok"]
            p.wait_json("hmp4040/channel/1", lambda s: abs(s["vmon"] - 10.0) < 0.05, 10)

            # the Lyon fork's topics: a leading slash, plain payloads; its status mirrored
            m = p.mark()
            p.publish("/hmp4040/cmd/setv/1", "10.5")
            assert p.wait_json("hmp4040/reply", lambda r: r["command"] == "setv/1", 10, m)["ok"]
            lyon = p.wait_json("/hmp4040/status", lambda s: s["ch1"]["vset"] == 10.5, 10, m)
            assert lyon["fsm_state"] == "LV_ON" and lyon["ch1"]["output"] is True
            p.publish("/hmp4040/cmd/switch/2", "off")
            p.wait_json("hmp4040/channel/2", lambda s: s["output"] is False, 10, m)

            # an over-voltage transient trips output 1: off, ERROR, a MAJOR alarm
            m = p.mark()
            sim_line(port, "SIM:TRIP 1")
            ch1 = p.wait_json("hmp4040/channel/1", lambda s: s["fsm_state"] == "ERROR", 10, m)
            assert ch1["output"] is False and ch1["ovp_tripped"] is True
            alarm = p.wait_json("alarms/hmp4040.ch1", lambda a: a["active"], 10, m)
            assert (
                alarm["severity"] == "MAJOR"
                and "over-voltage protection tripped" in (alarm["message"])
            )
            r = p.command("hmp4040", "switch/1", "on")
            assert r["refused"] and "clear first" in r["error"]
            assert p.command("hmp4040", "clear/1")["result"] == {"cleared": [1]}
            p.wait_json("hmp4040/channel/1", lambda s: s["fsm_state"] == "LV_OFF", 10, m)
            assert p.command("hmp4040", "switch/1", "on")["ok"]
            p.wait_json("hmp4040/channel/1", lambda s: s["vmon"] > 10.4, 10, m)

            # a supply that stops answering: DISCONNECTED, no number, an INVALID alarm
            m = p.mark()
            sim_line(port, "SIM:MUTE 1")
            gone = p.wait_json("hmp4040/channel/1",
                               lambda s: s["fsm_state"] == "DISCONNECTED", 10, m)  # fmt: skip
            assert "vmon" not in gone and "output" not in gone
            assert p.wait_json("hmp4040/status", lambda s: True, 5, m)["fsm_state"] == (
                "DISCONNECTED"
            )
            alarm = p.wait_json("alarms/hmp4040.comm", lambda a: a["active"], 10, m)
            assert alarm["severity"] == "INVALID" and "no answer" in alarm["message"]
            r = p.command("hmp4040", "switch/1", "off")
            assert r["refused"] and "not reachable" in r["error"]
            # power-cycled: back, its true state read (the outputs came up off)
            procs.kill("sim-hmp")
            procs.start("sim-hmp")
            m = p.mark()
            back = p.wait_json("hmp4040/channel/1", lambda s: s["fsm_state"] == "LV_OFF", 30, m)
            assert back["output"] is False and back["vmon"] == 0.0
            assert p.wait_json("alarms/hmp4040.comm", lambda a: a["current"] == "OK", 10, m)
    finally:
        procs.stop()
