"""The demo's burn-in recipe (two thermal cycles) to its end in accelerated time: the demo
stand as `trackerdcs demo --time-scale 120` runs it (simulated chiller, mainframe, sensors and
Ph2_ACF; the sequencer's waits scaled alike)."""

from __future__ import annotations

from pathlib import Path

import pytest

from trackerdcs.testing.demo import (
    DEMO_SERVICES,
    demo_bus,
    demo_copy,
    running_demo,
    sequence_end,
    start_sequence,
    wait_online,
)
from trackerdcs.testing.probe import Probe


@pytest.mark.timeout(300)
def test_the_burn_in_recipe_runs_two_cycles_to_the_end_with_every_step_recorded(
    tmp_path: Path,
) -> None:
    config = demo_copy(tmp_path / "stand")
    cfg = demo_bus(config)
    log = tmp_path / "demo.log"
    with running_demo(config, tmp_path / "state", log, time_scale=120) as _proc:
        view = wait_online(cfg, DEMO_SERVICES, timeout=60)
        assert all(view.values()), f"not online: {view}\n{log.read_text()[-3000:]}"
        with Probe(cfg) as p:
            recipes = p.command("runs", "sequence/recipes", timeout=10)["result"]["recipes"]
            assert {r["file"] for r in recipes} >= {"burn-in.yaml", "quick-test.yaml"}
            p.wait_json("safety/status", lambda s: isinstance(
                s["interlocks"].get("dewpoint", {}).get("value"), float), 30)  # fmt: skip
            # the operator's command line, as the README shows it
            seq = start_sequence(cfg.port, "burn-in")
            final, doc, table = sequence_end(p, seq, 200)
            assert final["state"] == "done", f"{final}\n{table}"
            steps = doc["steps"]
            assert len(steps) == 1 + 2 * 7 + 1
            assert all(s["status"] == "done" and s["start"] and s["end"] for s in steps), table
            assert [s["cycle"] for s in steps[1:15:7]] == ["1/2", "2/2"]
            assert doc["operator"] == "operator" and doc["time_scale"] == 120
            # each cycle's IV scan and calibration are runs of their own, linked to the sequence
            for k in (2, 9):
                iv = p.command("runs", f"show/{steps[k]['runs'][0]}", timeout=10)["result"]
                assert iv["kind"] == "iv" and iv["status"] == "done" and iv["sequence"] == seq
                curve = next(iter(iv["curves"].values()))
                assert len(curve["points"]) == 31 and curve["points"][-1]["temperature"] < -10
            for k in (4, 11):
                cal = p.command("runs", f"show/{steps[k]['runs'][0]}", timeout=10)["result"]
                assert cal["calibration"] == "pedenoise" and cal["status"] == "done"
            m = p.mark()
            p.command("dcs", "refresh", timeout=10)
            assert p.wait_json("dcs/status", lambda s: True, 5, m)["fsm_state"] == "LV_OFF"
