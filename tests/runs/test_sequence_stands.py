"""Issue 27: the shipped recipes on the stands whose LV is not the mainframe's. On Lyon (HMP4040
through a switchbox, CAEN HV, Julabo) and the cold room (HMP4040, CAEN HV, MARTA CO2) the
burn-in recipe runs to its end, and a sequence with a failing step ends with HV off, read
back, before any LV supply cuts a module. The sequencer switched LV on the CAEN whatever gave
it: on both stands step 1 failed ('LV is not on this mainframe') and the modules stayed at
LV on after the failure."""

from __future__ import annotations

from pathlib import Path

import pytest

from trackerdcs.testing.demo import (
    demo_bus,
    demo_copy,
    running_demo,
    sequence_end,
    start_sequence,
    wait_online,
)
from trackerdcs.testing.probe import Probe

EXAMPLES = Path(__file__).parents[2] / "examples"
FAILING = """name: failing
description: LV and HV on, then a calibration Ph2_ACF does not know
steps:
  - lv: on
  - hv: {state: on, voltage: 300}
  - calibration: no-such-tag
"""


@pytest.mark.timeout(400)
def test_the_burn_in_recipe_runs_to_its_end_and_a_failed_step_ends_hv_first(
    tmp_path: Path,
) -> None:
    burn_in_then_a_failing_step("lyon", tmp_path)


def burn_in_then_a_failing_step(stand: str, tmp_path: Path) -> None:
    """(The cold room's test, in a file of its own so that the two run on both workers.)"""
    config = demo_copy(tmp_path / "stand", source=EXAMPLES / f"{stand}.yaml")
    (config.parent / "recipes" / "failing.yaml").write_text(FAILING)
    cfg = demo_bus(config)
    log = tmp_path / "demo.log"
    supplies = ("hmp4040", "SB") if stand == "lyon" else ("hmp4040",)
    services = ("dcs", "sensors", "safety", "runs", *supplies)
    with running_demo(config, tmp_path / "state", log, time_scale=240) as _proc:
        view = wait_online(cfg, services, timeout=90)
        assert all(view.values()), f"not online: {view}\n{log.read_text()[-3000:]}"
        with Probe(cfg) as p:
            p.wait_json("safety/status", lambda s: isinstance(
                s["interlocks"].get("dewpoint", {}).get("value"), float), 30)  # fmt: skip
            final, doc, table = sequence_end(p, start_sequence(cfg.port, "burn-in"), 300)
            assert final["state"] == "done", f"{final}\n{table}"
            assert all(s["status"] == "done" for s in doc["steps"]), table
            cal = p.command("runs", f"show/{doc['steps'][4]['runs'][0]}", timeout=10)["result"]
            assert cal["status"] == "done", cal
            # its conditions: each module's LV from the HMP, its HV from the CAEN, with units
            for m in cal["modules"]:
                sides = cal["conditions"]["modules"][m["module"]]
                assert sides["lv"]["service"] == "hmp4040" and sides["hv"]["service"] == "dcs"
                assert sides["lv"]["voltage"]["mean"] > 10.0, sides
                assert sides["hv"]["voltage"]["mean"] > 290.0, sides

            m = p.mark()
            final, doc, table = sequence_end(p, start_sequence(cfg.port, "failing"), 120)
            assert final["state"] == "failed", f"{final}\n{table}"
            assert doc["steps"][0]["status"] == doc["steps"][1]["status"] == "done", doc["steps"]
            # HV read back down on every module before its LV supply switched it off
            msgs = p.messages[m:]
            hv_down = max(k for k, x in enumerate(msgs) if x.topic.startswith("dcs/channel/")
                          and x.json().get("hv_vMon") is not None
                          and x.json()["hv_vMon"] > 5.0)  # fmt: skip
            lv_off = min(k for k, x in enumerate(msgs) if x.topic.startswith("hmp4040/channel/")
                         and k > next(i for i, y in enumerate(msgs) if y.topic.startswith(
                             "hmp4040/channel/") and y.json().get("output") is True)
                         and x.json().get("output") is False)  # fmt: skip
            assert hv_down < lv_off, (msgs[hv_down], msgs[lv_off])
            m = p.mark()
            p.command("dcs", "refresh", timeout=10)
            status = p.wait_json("dcs/status", lambda s: True, 10, m)
            assert status["fsm_state"] == "LV_OFF", status
            for n in (1, 2, 3, 4):
                assert p.latest[f"hmp4040/channel/{n}"].json()["output"] is False
