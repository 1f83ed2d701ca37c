"""The panel's card functions run in Node.js as Node-RED runs a function node (the body with
`msg` and a `context`; an array returned is one message per output, null sends nothing), fed
what the services publish: values are shown while the device answers and the service is
online; otherwise never a number, and the switches greyed out where they stand. (The whole
panel runs in a real Node-RED in test_pod.)"""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

import pytest

from trackerdcs.caen.nodered import CHANNEL_JS
from trackerdcs.hmp.nodered import OUTPUT_JS
from trackerdcs.switchbox.nodered import RELAYS_JS

HARNESS = """
const [body, msgs] = [process.argv[1], JSON.parse(process.argv[2])];
const store = {}, shared = {};
const context = {get: (k) => store[k], set: (k, v) => { store[k] = v; }};
const flow = {get: (k) => shared[k], set: (k, v) => { shared[k] = v; }};
const fn = new Function("msg", "context", "flow", body);
console.log(JSON.stringify(msgs.map((m) => fn(m, context, flow))));
"""


def run(js: str, *msgs: tuple[str, Any]) -> list[Any]:
    """What the function sent for each message in turn."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("node missing: ./scripts/test installs nodejs")
    feed = json.dumps([{"topic": t, "payload": p} for t, p in msgs])
    out = subprocess.run([node, "-e", HARNESS, js, feed], capture_output=True, text=True,
                         timeout=30, check=True)  # fmt: skip
    return list(json.loads(out.stdout))


def payloads(sent: list[Any] | None) -> list[Any]:
    """Per output: the payload; "GREYED" for a switch greyed out where it stands (no payload,
    Dashboard 2's `enabled: false`); None for nothing sent."""
    out = []
    for m in sent or []:
        if m is None:
            out.append(None)
        elif m.get("enabled") is False:
            assert "payload" not in m, m  # greyed where it stands, not moved
            out.append("GREYED")
        else:
            assert m.get("enabled", True) is True, m
            out.append(m["payload"])
    return out


OUT_ON = {"id": 1, "module": "M1", "active": True, "vset": 10.5, "iset": 2.5, "vmon": 10.498,
          "imon": 1.5, "output": True, "ovp": 11.5, "ovp_tripped": False, "mode": "CV",
          "fsm_state": "LV_ON", "reason": ""}  # fmt: skip


def test_an_hmp_output_shows_its_read_back_and_no_number_once_it_is_gone() -> None:
    gone = {"id": 1, "module": "M1", "active": True, "fsm_state": "DISCONNECTED",
            "reason": "127.0.0.1:5025: connection refused"}  # fmt: skip
    tripped = {**OUT_ON, "output": False, "ovp_tripped": True, "fsm_state": "ERROR",
               "reason": "OVP tripped"}  # fmt: skip
    on, lost, back, trip, offline = (
        payloads(s)
        for s in run(
            OUTPUT_JS,
            ("hmp4040/channel/1", OUT_ON),
            ("hmp4040/channel/1", gone),
            ("hmp4040/channel/1", OUT_ON),
            ("hmp4040/channel/1", tripped),
            ("hmp4040/online", "false"),
        )
    )
    assert on[0] == "on" and "10.498 V · 1.500 A (set 10.50 V, limit 2.50 A" in on[1]
    assert on[2] == "LV_ON · CV"
    assert lost[0] == "GREYED"  # a supply that does not answer: its switch cannot be used
    assert "DISCONNECTED" in lost[1] and "connection refused" in lost[1]
    assert not any(ch.isdigit() for ch in lost[1].split("·")[0]), lost  # no number shown
    assert back[0] == "on" and "10.498 V" in back[1]
    assert trip[0] == "off" and "OVP tripped: clear it" in trip[2]
    assert offline[1] == offline[2] == "service offline: values not current"
    assert offline[0] == "GREYED"


def test_the_relay_box_shows_the_positions_it_read_back_only() -> None:
    js = RELAYS_JS.replace("__RELAYS__", '["1", "2"]')
    read = {"fsm_state": "LV_ON", "lv": True, "relays": {"1": True, "2": False, "3": False}}
    gone = {"fsm_state": "DISCONNECTED", "message": "/dev/ttyUSB1: no answer to STATUS?"}
    now, lost, offline = (
        payloads(s)
        for s in run(js, ("SB/status", read), ("SB/status", gone), ("SB/online", "false"))
    )
    assert now == ["LV_ON", "on", "on", "off"]
    assert lost == ["DISCONNECTED · /dev/ttyUSB1: no answer to STATUS?"] + ["GREYED"] * 3
    assert offline == ["service offline: relay positions not current"] + ["GREYED"] * 3


def test_a_caen_channel_not_connected_shows_no_number() -> None:
    ch = {"connected": True, "fsm_state": "HV_ON", "lv_pw": True, "hv_pw": True,
          "lv_vMon": 10.5, "lv_iMon": 1.2, "lv_setV": 10.5, "hv_vMon": 299.8, "hv_iMon": 0.123,
          "hv_setV": 300, "reason": ""}  # fmt: skip
    now, lost = (
        payloads(s)
        for s in run(
            CHANNEL_JS, ("dcs/channel/1", ch), ("dcs/channel/1", {**ch, "connected": False})
        )
    )
    assert now[:2] == ["on", "on"] and "299.8 V" in now[3]
    assert lost[:2] == ["GREYED", "GREYED"] and lost[2] == lost[3] == "channel not connected"


def test_the_chiller_card_shows_no_number_from_a_chiller_that_does_not_answer() -> None:
    from trackerdcs.config import load_stand
    from trackerdcs.deploy.nodered_flows import flows
    from trackerdcs.testing.demo import demo_file

    js = next(n["func"] for n in flows(load_stand(demo_file())) if n.get("name") == "Chiller text")
    on = {"fsm_state": "ON", "internal_temp": 19.96, "setpoint_1": 18.5, "used_setpoint": 1,
          "power": -35.2, "message": "running"}  # fmt: skip
    gone = {"fsm_state": "DISCONNECTED", "message": "cannot open /dev/ttyUSB0: no such file",
            "port": "/dev/ttyUSB0"}  # fmt: skip
    now, lost, offline = (
        payloads([s])[0]
        for s in run(js, ("julabo/status", on), ("julabo/status", gone), ("julabo/online", "false"))
    )
    assert now == "ON · bath 19.96 °C · set 18.50 °C · power -35 % (negative: cooling)"
    assert lost == "DISCONNECTED · cannot open /dev/ttyUSB0: no such file"
    assert offline == "offline: state not current"


def test_the_environment_table_shows_each_sensor_and_nothing_stale_as_current() -> None:
    from trackerdcs.deploy.nodered_flows import ENVIRONMENT_JS

    box = {"name": "coldbox", "location": "cold box", "kind": "coldbox", "temperature": -19.84,
           "humidity": 3.2, "dewpoint": -42.1, "ts": 1764150000.0}  # fmt: skip
    room = {
        "name": "room",
        "location": "lab",
        "kind": "ambient",
        "temperature": None,
        "humidity": None,
        "dewpoint": None,
        "ts": 1764150000.0,
    }  # sensor gone: no number
    sent = run(
        ENVIRONMENT_JS,
        ("sensors/status", {"fsm_state": "OK", "counts": {}}),
        ("sensors/coldbox", box),
        ("sensors/room", room),
        ("sensors/online", "false"),
    )
    assert sent[0] is None  # not a reading: the table is left as it is
    rows = {r["sensor"]: r for r in sent[2]["payload"]}
    assert rows["coldbox"]["temperature"] == "-19.8 °C" and rows["coldbox"]["dew point"] == (
        "-42.1 °C"
    )
    assert rows["coldbox"]["read"] == "09:40:00 UTC"
    assert rows["room"]["temperature"] == "no reading" and rows["room"]["humidity"] == (
        "no reading"
    )
    assert {r["temperature"] for r in sent[3]["payload"]} == {"service offline"}
    assert {r["read"] for r in sent[3]["payload"]} == {"not current"}
