"""Cooling as a role: a stand cooled by a MARTA plant (no Julabo). Safety reads MARTA's CO2
supply and return as cold surfaces, its chiller rule knows MARTA's running state, and a
dew-point ACTION switches HV down then LV off and orders MARTA to its safe set-point."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from trackerdcs.caen.testing import channel_map_yaml
from trackerdcs.testing.mosquitto import free_port
from trackerdcs.testing.probe import Probe
from trackerdcs.testing.processes import StandProcesses


def caen_and_marta(prefix: str, modules: int, puts: Path | None = None,
                   guard: bool = False) -> str:  # fmt: skip
    """A simulated mainframe (HV on board 12) and a simulated MARTA plant, 30x faster;
    `guard`: MARTA refuses CO2 set-points below the dew point + 3 K."""
    put_log = f"\n  sim: {{put_log: {puts}}}" if puts else ""
    dewpoint_guard = "\n  dewpoint_guard: {margin: 3}" if guard else ""
    return f"""
caen:
  simulate: true
  prefix: {prefix}
  ca_server_port: {free_port()}
  heartbeat: 1
  watchdog: {{timeout: 6}}
  global:
    lv: {{V0Set: 10.5, I0Set: 3.0}}
    hv: {{V0Set: 40.0, I0Set: 100.0, RUp: 100.0, RDWn: 100.0, PDwn: Ramp}}{put_log}
  channels:
{channel_map_yaml(modules, hv_board=12)}
marta:
  simulate: true
  port: {free_port()}
  poll: 0.3
  sim: {{time_scale: 30, update: 0.1}}{dewpoint_guard}
"""


def test_a_dewpoint_action_on_a_marta_cooled_stand(write_stand, own_mosquitto,
                                                   tmp_path: Path) -> None:  # fmt: skip
    prefix = f"m{uuid.uuid4().hex[:5]}"
    puts = tmp_path / "puts.jsonl"
    body = (
        caen_and_marta(prefix, 2, puts, guard=True)
        + f"""
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
    procs.start(*procs.specs)
    try:
        with Probe(stand.bus) as p:
            p.wait_json("dcs/status", lambda s: s["fsm_state"] == "LV_OFF", 60)
            p.wait_json("MARTA/status", lambda s: s["fsm_state"] == "CONNECTED", 30)
            # the CO2 circulating at 10 °C: cooling as it should, and the coldest surface
            # the dew-point guard on set-points works for the CO2 plant as for a Julabo
            box = p.wait_json("sensors/box", lambda r: r.get("dewpoint") is not None, 20)
            too_cold = round(box["dewpoint"] + 1)  # the dry box: its dew point is far below 0
            r = p.command("MARTA", "set_temperature_setpoint", str(too_cold))
            assert (
                not r["ok"]
                and f"CO2 temperature set-point {too_cold:g} °C is below dew " in (r["error"])
            ), r
            assert p.command("MARTA", "set_temperature_setpoint", "10")["ok"]
            assert p.command("MARTA", "start_chiller")["ok"]
            p.wait_json("MARTA/status", lambda s: s["fsm_state"] == "CHILLER_RUNNING", 20)
            assert p.command("MARTA", "start_co2")["ok"]
            p.wait_json("MARTA/status", lambda s: s["fsm_state"] == "CO2_RUNNING"
                        and s["CO2_TT05"] < 11, 30)  # fmt: skip
            # the chiller rule knows MARTA's running state; its CO2 is a cold surface
            st = p.wait_json(
                "safety/status",
                lambda s: (
                    s["state"] == "OK"
                    and s["interlocks"]["chiller"]["message"] == "chiller running"
                ),
                30,
            )
            assert "MARTA CO2 supply" in st["interlocks"]["dewpoint"]["message"]
            assert p.command("dcs", "switch/lv", "on")["ok"]
            p.wait_json("dcs/status", lambda s: s["fsm_state"] == "LV_ON", 30)
            assert p.command("dcs", "switch/hv", "on")["ok"]
            p.wait_json("dcs/status", lambda s: s["fsm_state"] == "HV_ON", 30)

            mark = p.mark()
            p.publish("sim/sensors/box", {"humidity": 95.0})  # the box air near saturation
            st = p.wait_json("safety/status", lambda s: s["state"] == "ACTION", 20, mark)
            assert st["interlocks"]["dewpoint"]["state"] == "ACTION"
            assert "(MARTA CO2 supply)" in st["interlocks"]["dewpoint"]["message"]
            p.wait_json("dcs/status", lambda s: s["fsm_state"] == "LV_OFF", 30, mark)
            m = p.wait_json("MARTA/status", lambda s: s.get("temperature_setpoint") == 20.0,
                            20, mark)  # the safe set-point (safety.actions)  # fmt: skip
            assert m["fsm_state"] == "CO2_RUNNING"  # cooling goes on, warmer: not switched off
            order = p.wait_json("MARTA/reply", lambda r: r["command"] == "set_temperature_setpoint"
                                and r["result"] == {"temperature": 20.0}, 5, mark)  # fmt: skip
            assert order["ok"]
        # the mainframe saw HV switched off before LV, for every channel
        writes = [json.loads(line) for line in puts.read_text().splitlines()]
        offs = [(w["pv"], i) for i, w in enumerate(writes) if w["pv"].endswith(":Pw")
                and w["value"] in (0, "Off")]  # fmt: skip
        for cid, (hv, lv) in enumerate(((f"{prefix}:12:000", f"{prefix}:00:000"),
                                        (f"{prefix}:12:001", f"{prefix}:00:001")), 1):  # fmt: skip
            hv_off = min(i for pv, i in offs if pv.startswith(hv))
            lv_off = min(i for pv, i in offs if pv.startswith(lv))
            assert hv_off < lv_off, f"channel {cid}: LV went off before HV"
    finally:
        procs.stop()


def test_the_cold_room_door_is_safe_to_open_only_when_warm_dry_unpowered_and_current(
    write_stand, own_mosquitto, tmp_path: Path
) -> None:
    prefix = f"d{uuid.uuid4().hex[:5]}"
    body = (
        caen_and_marta(prefix, 1)
        + f"""
sensors:
  simulate: true
  sim: {{period: 0.3, noise: 0.0, room: {{temperature: 22.0, humidity: 30.0, drift: 0.0}}}}
  sensors:
    - {{name: room, kind: ambient, temp_topic: R{prefix}/room/t, humi_topic: R{prefix}/room/h}}
safety:
  heartbeat: 1
  heartbeat_period: 0.5
  stale: {{warning: 3, action: 30}}
  chiller: {{enabled: false}}
  dewpoint: {{enabled: false}}
  door: {{margin: 1.0, max_age: 4}}
"""
    )
    path, stand = write_stand(body, broker=own_mosquitto)
    procs = StandProcesses(path, stand, tmp_path)
    procs.start(*procs.specs)
    door = "coldroom/safe_to_open"
    try:
        with Probe(stand.bus) as p:

            def becomes(value: bytes, why: str = "", timeout: float = 20.0) -> None:
                p.wait_for(door, lambda m: m.payload == value, timeout, since=mark)
                if why:
                    reasons = p.wait_json(f"{door}/why", lambda d: d["safe_to_open"] is False,
                                          5, since=mark)["why"]  # fmt: skip
                    assert any(why in r for r in reasons), reasons

            mark = 0
            p.wait_json("dcs/status", lambda s: s["fsm_state"] == "LV_OFF", 60)
            # CO2 at room temperature, the room at 22 °C / 30 % (dew point 3.6 °C), HV off
            becomes(b"true")
            with Probe(stand.bus, subscribe=(door,)) as late:  # a panel that opens now
                assert late.wait_for(door, timeout=5).payload == b"true"  # retained
            mark = p.mark()
            assert p.command("dcs", "switch/lv", "on")["ok"]
            p.wait_json("dcs/status", lambda s: s["fsm_state"] == "LV_ON", 30)
            assert p.latest[door].payload == b"true"  # LV alone does not matter
            assert p.command("dcs", "switch/hv", "on")["ok"]
            becomes(b"false", "HV not off on dcs channel(s) 1")
            mark = p.mark()
            assert p.command("dcs", "switch/hv", "off")["ok"]
            becomes(b"true")
            # the room's data goes stale: not safe, whatever it said last
            mark = p.mark()
            p.publish("sim/sensors/room", {"silent": True})
            becomes(b"false", "room sensor room")
            mark = p.mark()
            p.publish("sim/sensors/room", {"silent": False})
            becomes(b"true")
            # the CO2 cooled below the room's dew point + margin
            mark = p.mark()
            assert p.command("MARTA", "set_temperature_setpoint", "-10")["ok"]
            assert p.command("MARTA", "start_chiller")["ok"]
            p.wait_json("MARTA/status", lambda s: s["fsm_state"] == "CHILLER_RUNNING", 20)
            assert p.command("MARTA", "start_co2")["ok"]
            becomes(b"false", "MARTA CO2 supply", 40)
    finally:
        procs.stop()
