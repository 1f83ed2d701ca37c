"""Issue 27: the shipped burn-in recipe, and a failing step, on the cold-room stand (HMP4040
LV, CAEN HV, MARTA CO2): as tests/runs/test_sequence_stands.py does on Lyon, one thermal
cycle."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.runs.test_sequence_stands import burn_in_then_a_failing_step


@pytest.mark.timeout(400)
def test_the_burn_in_recipe_runs_to_its_end_and_a_failed_step_ends_hv_first(
    tmp_path: Path,
) -> None:
    burn_in_then_a_failing_step("coldroom", tmp_path, cycles=1)
