"""Recipes: shorthands, cycles flattened in order, the power state the recipe leaves, and
errors that name file, line and key."""

from __future__ import annotations

import pytest

from trackerdcs.config.loader import ConfigError
from trackerdcs.runs import recipe

BURN_IN = """
name: burn-in
steps:
  - lv: on
  - cycle:
      count: 2
      steps:
        - chiller: {setpoint: -20}
        - hv: {state: on, voltage: 300}
        - iv: {stop: 300, step: 10, compliance: 10}
        - calibration: pedenoise
        - chiller: {setpoint: 20, on_failure: continue}
        - wait: 600
  - lv: off
"""


def test_cycles_are_flattened_in_order_with_their_pass() -> None:
    steps = recipe.plan(recipe.parse(BURN_IN, "b.yaml"))
    assert len(steps) == 1 + 2 * 6 + 1
    assert [s.kind for s in steps[1:7]] == ["chiller", "hv", "iv", "calibration", "chiller",
                                            "wait"]  # fmt: skip
    assert steps[7].path == "2.1" and recipe.cycle_text(steps[7].cycle) == "2/2"
    assert steps[4].label == "calibration pedenoise" and steps[6].label == "wait 600 s"
    assert steps[2].label == "HV on at 300 V"


def test_the_power_state_before_each_step_follows_the_recipe() -> None:
    steps = recipe.plan(recipe.parse(BURN_IN, "b.yaml"))
    assert recipe.power_before(steps, 0) == {"lv": None, "hv": None}
    assert recipe.power_before(steps, 3) == {"lv": True, "hv": True}  # before the IV
    # an IV scan ends at its end voltage (0 V: HV off)
    assert recipe.power_before(steps, 4) == {"lv": True, "hv": False}
    assert recipe.power_before(steps, 13) == {"lv": True, "hv": False}


def test_on_failure_defaults_to_the_recipe_and_a_step_can_continue() -> None:
    r = recipe.parse(BURN_IN, "b.yaml")
    steps = recipe.plan(r)
    assert recipe.on_failure(r, steps[1]) == "stop"
    assert recipe.on_failure(r, steps[5]) == "continue"


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("name: x\nsteps:\n  - lv: maybe\n", "x.yaml:3: steps.0.lv.state"),
        ("name: x\nsteps:\n  - {lv: on, hv: off}\n", "x.yaml:3: steps.0: Value error, a step is "
         "exactly one of"),
        ("name: x\nsteps:\n  - cycle:\n      count: 2\n      steps:\n        - wait: {secs: 3}\n",
         "x.yaml:6: steps.0.cycle.steps.0.wait.secs: unknown key"),
        ("name: x\nsteps:\n  - iv: {stop: 30, step: 0, compliance: 5}\n",
         "x.yaml:3: steps.0.iv.step: Input should be greater than 0"),
        ("name: x\nsteps:\n  - hv: {state: off, voltage: 3}\n", "voltage is for `state: on`"),
        ("name: x\nsteps: []\n", "x.yaml:2: steps: List should have at least 1 item"),
        ("name: x\nsteps:\n  - wait: 3\n  - wait: 4\nsteps: []\n", "x.yaml:5: steps: duplicate"),
        ("- just a list\n", "x.yaml:1: <top>: a recipe is a mapping"),
        ("name: [unclosed\n", "x.yaml:2: <top>: YAML syntax"),
    ],
)  # fmt: skip
def test_a_bad_recipe_names_file_line_and_key(text: str, where: str) -> None:
    with pytest.raises(ConfigError) as err:
        recipe.parse(text, "x.yaml")
    assert where in str(err.value)


def test_an_estimate_is_given_where_one_can_be_known() -> None:
    steps = recipe.plan(recipe.parse(BURN_IN, "b.yaml"))
    assert recipe.estimate(steps[6]) == 600
    assert recipe.estimate(steps[3]) == pytest.approx(31 * (1.0 + 3 * 0.2))
    assert recipe.estimate(steps[1]) is None  # a chiller reaching its set-point: not known
