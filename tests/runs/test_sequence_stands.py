"""Issue 27: the shipped recipes on the stands whose LV is not the mainframe's. On Lyon (HMP4040
through a switchbox, CAEN HV, Julabo) and the cold room (HMP4040, CAEN HV, MARTA CO2) the
burn-in recipe runs to its end, and a sequence with a failing step ends with HV off, read
back, before any LV supply cuts a module. The sequencer switched LV on the CAEN whatever gave
it: on both stands step 1 failed ('LV is not on this mainframe') and the modules stayed at
LV on after the failure.

Lyon runs the recipe as shipped (two thermal cycles, every step and sub-run checked: this was
the demo stand's burn-in test, the same recipe on the mainframe's LV, which tests/web/test_ui.py
and tests/runs/test_sequence.py run); the cold room runs it with one cycle."""

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
TIME_SCALE = 240


@pytest.mark.timeout(400)
def test_the_burn_in_recipe_runs_to_its_end_and_a_failed_step_ends_hv_first(
    tmp_path: Path,
) -> None:
    burn_in_then_a_failing_step("lyon", tmp_path, cycles=2)


def burn_in_then_a_failing_step(stand: str, tmp_path: Path, cycles: int) -> None:
    """(The cold room's test, in a file of its own so that the two run on both workers.)"""
    config = demo_copy(tmp_path / "stand", source=EXAMPLES / f"{stand}.yaml")
    recipes = config.parent / "recipes"
    (recipes / "failing.yaml").write_text(FAILING)
    shipped = (recipes / "burn-in.yaml").read_text()
    assert "count: 2\n" in shipped  # the recipe changed: look at this test
    (recipes / "burn-in.yaml").write_text(shipped.replace("count: 2\n", f"count: {cycles}\n"))
    cfg = demo_bus(config)
    log = tmp_path / "demo.log"
    supplies = ("hmp4040", "SB") if stand == "lyon" else ("hmp4040",)
    services = ("dcs", "sensors", "safety", "runs", *supplies)
    with running_demo(config, tmp_path / "state", log, time_scale=TIME_SCALE) as _proc:
        view = wait_online(cfg, services, timeout=90)
        assert all(view.values()), f"not online: {view}\n{log.read_text()[-3000:]}"
        with Probe(cfg) as p:
            recipes_ = p.command("runs", "sequence/recipes", timeout=10)["result"]["recipes"]
            assert {r["file"] for r in recipes_} >= {"burn-in.yaml", "quick-test.yaml"}
            p.wait_json("safety/status", lambda s: isinstance(
                s["interlocks"].get("dewpoint", {}).get("value"), float), 30)  # fmt: skip
            # the operator's command line, as the README shows it
            seq = start_sequence(cfg.port, "burn-in")
            final, doc, table = sequence_end(p, seq, 150 * cycles)
            assert final["state"] == "done", f"{final}\n{table}"
            steps = doc["steps"]
            assert len(steps) == 1 + cycles * 7 + 1, table
            assert all(s["status"] == "done" and s["start"] and s["end"] for s in steps), table
            assert [s["cycle"] for s in steps[1::7][:cycles]] == [
                f"{c}/{cycles}" for c in range(1, cycles + 1)]  # fmt: skip
            assert doc["operator"] == "operator" and doc["time_scale"] == TIME_SCALE
            # each cycle's IV scan and calibration are runs of their own, linked to the
            # sequence; the calibration's conditions: each module's LV from the HMP, its HV
            # from the CAEN, with units
            for c in range(cycles):
                iv = p.command("runs", f"show/{steps[2 + 7 * c]['runs'][0]}", timeout=10)
                iv = iv["result"]
                assert iv["kind"] == "iv" and iv["status"] == "done" and iv["sequence"] == seq
                for curve in iv["curves"].values():
                    assert len(curve["points"]) == 31, curve
                    assert curve["points"][-1]["temperature"] < -10, curve["points"][-1]
                cal = p.command("runs", f"show/{steps[4 + 7 * c]['runs'][0]}", timeout=10)
                cal = cal["result"]
                assert cal["calibration"] == "pedenoise" and cal["status"] == "done", cal
                assert cal["sequence"] == seq, cal
                for m in cal["modules"]:
                    sides = cal["conditions"]["modules"][m["module"]]
                    assert sides["lv"]["service"] == "hmp4040", sides
                    assert sides["hv"]["service"] == "dcs", sides
                    assert sides["lv"]["voltage"]["mean"] > 10.0, sides
                    assert sides["hv"]["voltage"]["mean"] > 290.0, sides
                    assert sides["lv"]["units"]["voltage"] == "V", sides

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
