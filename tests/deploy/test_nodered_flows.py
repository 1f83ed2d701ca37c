"""The generated Node-RED flows, read as Node-RED would: every wire leads to a node, every
widget is in a group of a page, every command topic is one the `nodered` account may
write, the module switches show read-back only. (Node-RED itself runs them in test_pod.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from trackerdcs.config import load_stand
from trackerdcs.deploy.nodered_flows import BROKER_ID, flows
from trackerdcs.testing.demo import demo_file

EXAMPLES = Path(__file__).parents[2] / "examples"


@pytest.mark.parametrize("stand_path", [demo_file(), EXAMPLES / "coldroom.yaml",
                                        EXAMPLES / "lyon.yaml"],
                         ids=["demo", "coldroom", "lyon"])  # fmt: skip
def test_flows_are_whole_and_command_only_what_the_panel_may(stand_path: Path) -> None:
    stand = load_stand(stand_path)
    nodes = flows(stand)
    ids = {n["id"] for n in nodes}
    assert len(ids) == len(nodes), "duplicate node ids"
    assert [n["id"] for n in flows(stand)] == [n["id"] for n in nodes], "ids must be stable"
    by_id: dict[str, dict[str, Any]] = {n["id"]: n for n in nodes}
    for n in nodes:
        for out in n.get("wires", []):
            assert set(out) <= ids, (n["name"] if "name" in n else n["id"], out)
        if n["type"].startswith("ui-") and "group" in n:
            group = by_id[n["group"]]
            assert group["type"] == "ui-group" and by_id[group["page"]]["type"] == "ui-page"
        if n["type"] in ("mqtt in", "mqtt out"):
            assert n["broker"] == BROKER_ID
    broker = by_id[BROKER_ID]
    assert broker["usetls"] and by_id[broker["tls"]]["ca"].endswith("/tls/ca.crt")
    assert "credentials" not in broker and "password" not in str(broker)
    topics = [n["topic"] for n in nodes if n["type"] in ("ui-switch", "ui-button",
                                                          "ui-number-input")]  # fmt: skip
    assert topics and all("/cmd/" in t for t in topics), topics  # `+/cmd/#` for nodered
    caen = stand.section("caen")
    switches = {n["topic"]: n for n in nodes if n["type"] == "ui-switch"}
    assert all(s["decouple"] and not s["passthru"] for s in switches.values())  # read-back
    lv_switch = {}  # module -> the topic of the one switch that gives it LV
    for cid, ch in caen.channels.items():
        assert f"dcs/cmd/switch/hv/{cid}" in switches
        if ch.lv is not None:
            lv_switch[ch.module] = f"dcs/cmd/switch/lv/{cid}"
        else:  # its LV comes from another supply: no LV control that the CAEN would refuse
            assert f"dcs/cmd/switch/lv/{cid}" not in switches
    hmp = stand.section("hmp")
    if hmp is not None:
        for cid, out in hmp.channels.items():
            lv_switch[out.module] = f"hmp4040/cmd/switch/{cid}"
            number = {n["topic"]: n for n in nodes if n["type"] == "ui-number-input"}
            assert number[f"hmp4040/cmd/setv/{cid}"]["max"] == hmp.top(cid)[0]
            assert number[f"hmp4040/cmd/seti/{cid}"]["max"] == hmp.top(cid)[1]
    modules = {ch.module for ch in caen.channels.values() if ch.module}
    assert set(lv_switch) == modules and set(lv_switch.values()) <= set(switches)
    box = stand.section("switchbox")
    if box is not None:
        assert {"SB/cmd/switch/lv"} | {f"SB/cmd/switch/{n}" for n in box.channels} <= set(switches)
    if stand.section("caen").channels and not any(c.lv for c in caen.channels.values()):
        labels = {n["label"] for n in nodes if n["type"] == "ui-button"}
        assert "All LV on" not in labels and "HMP4040: all LV on" in labels
    cooling = {n["topic"] for n in nodes if n["type"] in ("ui-button", "ui-number-input")}
    if stand.section("marta") is not None:
        assert {"MARTA/cmd/start_co2", "MARTA/cmd/set_temperature_setpoint"} <= cooling
    if stand.section("julabo") is not None:
        assert {"julabo/cmd/start", "julabo/cmd/setWT"} <= cooling


def test_without_tls_the_flows_need_no_certificate() -> None:
    nodes = flows(load_stand(demo_file()), 1883, tls=False)
    assert not [n for n in nodes if n["type"] == "tls-config"]
    broker = next(n for n in nodes if n["id"] == BROKER_ID)
    assert broker["port"] == "1883" and not broker["usetls"]
