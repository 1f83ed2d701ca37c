"""The serial switchbox over a real pty (its simulator), switched as the reference does
(`SB/cmd` with the box's own lines), in series with an HMP4040 output on the module's LV
line, the module's HV on a CAEN: HV on needs both LV supplies on, a relay opened under HV
brings the HV down first, and a box that goes away is unknown, never off."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.hmp.stands import hv_caen_and_hmp
from trackerdcs.testing.probe import Probe
from trackerdcs.testing.processes import StandProcesses

# the simulated box with module M1 on relay 1; `port` a pty path or socket://HOST:PORT
BOX = """
switchbox:
  simulate: true
  port: {port}
  poll: 0.2
  timeout: 0.5
  reconnect_max: 1.0
  watchdog: {{timeout: null}}
  channels:
    1: {{module: M1}}
"""


@contextmanager
def lyon_shape(write_stand, broker, tmp_path: Path) -> Iterator[tuple[StandProcesses, Probe]]:
    """Module M1: HV from a CAEN, LV from an HMP4040 output through the box's relay 1; every
    part simulated and started, every supply read back off."""
    body = hv_caen_and_hmp(1, f"s{uuid.uuid4().hex[:5]}") + BOX.format(port=tmp_path / "sb.tty")
    path, stand = write_stand(body, broker=broker)
    procs = StandProcesses(path, stand, tmp_path)
    procs.start(*procs.specs)
    try:
        with Probe(stand.bus) as p:
            p.wait_json("SB/status", lambda s: s["fsm_state"] == "LV_OFF", 30)
            p.wait_json("dcs/status", lambda s: s["fsm_state"] == "LV_OFF", 60)
            p.wait_json("hmp4040/status", lambda s: s["fsm_state"] == "LV_OFF", 30)
            yield procs, p
    finally:
        procs.stop()


def test_reference_lines_relays_in_series_with_the_supply_and_hv_first(
    write_stand, own_mosquitto, tmp_path: Path
) -> None:
    def line(text: str) -> dict:
        m = p.mark()
        p.publish("SB/cmd", text)
        return p.wait_json("SB/reply", lambda r: True, 10, m)

    with lyon_shape(write_stand, own_mosquitto, tmp_path) as (procs, p):
        st = p.latest["SB/status"].json()
        assert st["lv"] is False and st["relays"]["1"] is False
        assert line("STATUS?")["ok"]
        # the supply's output on, the box's relay open: the module has no LV
        assert p.command("hmp4040", "switch/1", "on")["ok"]
        p.wait_json("hmp4040/channel/1", lambda s: s["output"] is True, 10)
        r = p.command("dcs", "switch/hv/1", "on")
        assert r["refused"] and "LV of M1 is off (SB channel 1)" in r["error"], r
        # the reference's lines, answered on SB/reply
        assert line("LV|ON")["ok"] and line("CH1|ON")["ok"]
        p.wait_json("SB/status", lambda s: s["channels"]["1"] == "LV_ON", 10)
        p.wait_json("dcs/channel/1", lambda s: s["fsm_state"] == "LV_ON", 10)
        assert p.command("dcs", "switch/hv/1", "on")["ok"]
        p.wait_json("dcs/channel/1", lambda s: s["fsm_state"] == "HV_ON", 20)
        bad = line("CH9|ON")
        assert not bad["ok"] and "channels 1..8" in bad["error"]
        bad = line("RELAY 1 ON")
        assert not bad["ok"] and "not a switchbox command" in bad["error"]

        # the relay opened under HV: the HV comes down first, then the relay opens
        m = p.mark()
        reply = line("CH1|OFF")
        assert reply["ok"] and reply["result"]["sequence"] == "HV ramp-down first", reply
        p.wait_json("SB/status", lambda s: s["channels"]["1"] == "LV_OFF", 20, m)
        msgs = p.messages[m:]
        opened = next(i for i, x in enumerate(msgs) if x.topic == "SB/status"
                      and json.loads(x.payload)["channels"]["1"] == "LV_OFF")  # fmt: skip
        hv = [json.loads(x.payload) for x in msgs[:opened] if x.topic == "dcs/channel/1"]
        assert any(h["hv_vMon"] > 5 for h in hv) and hv[-1]["hv_vMon"] <= 5.0, hv

        # the box gone: unknown (not off), its commands refused with why
        procs.kill("sim-switchbox")
        m = p.mark()
        gone = p.wait_json("SB/status", lambda s: s["fsm_state"] == "DISCONNECTED", 15, m)
        assert "relays" not in gone and "lv" not in gone
        p.wait_json("SB/modules", lambda s: s["modules"]["M1"]["lv"] == "unknown", 10, m)
        r = line("CH1|ON")
        assert not r["ok"] and "not reachable" in r["error"]
        r = p.command("dcs", "switch/hv/1", "on")
        assert r["refused"] and "LV of M1" in r["error"], r


def test_the_simulated_box_over_tcp_as_a_pod_runs_it(
    write_stand, own_mosquitto, tmp_path: Path
) -> None:
    """In a pod the simulator and the service are separate containers, which cannot share a
    pty: the simulator serves the box's lines over TCP and the service opens socket://."""
    from trackerdcs.testing.mosquitto import free_port

    # the box alone: its relay names no module (a module needs an LV supply behind the relay)
    body = BOX.format(port=f"socket://127.0.0.1:{free_port()}").replace("{module: M1}", "{}")
    path, stand = write_stand(body, broker=own_mosquitto)
    procs = StandProcesses(path, stand, tmp_path)
    procs.start(*procs.specs)
    try:
        with Probe(stand.bus) as p:
            p.wait_json("SB/status", lambda s: s["fsm_state"] == "LV_OFF", 30)
            assert p.command("SB", "switch/lv", "on")["ok"]
            assert p.command("SB", "switch/1", "on")["ok"]
            st = p.wait_json("SB/status", lambda s: s["channels"]["1"] == "LV_ON", 10)
            assert st["lv"] is True and st["relays"]["1"] is True  # read back from the box
    finally:
        procs.stop()


def test_every_supply_takes_the_same_module_addressed_switch(
    write_stand, own_mosquitto, tmp_path: Path
) -> None:
    """The module-power contract's command, `module/<module>/<side>/switch`, on the Lyon
    shape: the box closes its master and the module's relay, the HMP its output, the CAEN
    the HV; each refuses a side it does not give, and an unknown module is named."""
    with lyon_shape(write_stand, own_mosquitto, tmp_path) as (_procs, p):
        r = p.command("dcs", "module/M1/lv/switch", "on")
        assert r["refused"] and "LV is not on this mainframe" in r["error"], r
        r = p.command("hmp4040", "module/M1/hv/switch", "on")
        assert r["refused"] and "gives module M1 its LV, not its HV" in r["error"], r
        r = p.command("SB", "module/M2/lv/switch", "on")
        assert not r["ok"] and "no module M2 on the switchbox; modules: M1" in r["error"], r
        r = p.command("hmp4040", "module/M1/xv/switch", "on")
        assert not r["ok"] and "side must be lv or hv" in r["error"], r

        assert p.command("SB", "module/M1/lv/switch", "on")["ok"]
        st = p.wait_json("SB/status", lambda s: s["channels"]["1"] == "LV_ON", 10)
        assert st["lv"] is True and st["relays"]["1"] is True  # master and relay
        assert p.command("hmp4040", "module/M1/lv/switch", "on")["ok"]
        p.wait_json("dcs/channel/1", lambda s: s["fsm_state"] == "LV_ON", 20)
        assert p.command("dcs", "module/M1/hv/switch", "on")["ok"]
        p.wait_json("dcs/channel/1", lambda s: s["fsm_state"] == "HV_ON", 20)
        # the supply's LV off under HV: the module's HV down first, then the output
        m = p.mark()
        assert p.command("hmp4040", "module/M1/lv/switch", "off", timeout=60)["ok"]
        p.wait_json("hmp4040/channel/1", lambda s: s["output"] is False, 30, m)
        hv = [x.json() for x in p.messages[m:] if x.topic == "dcs/channel/1"]
        assert hv and hv[-1]["hv_vMon"] <= 5.0, hv
