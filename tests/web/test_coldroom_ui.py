"""The cold-room stand in the browser (examples/coldroom.yaml: MARTA cooling, the door
interlock, module LV from an HMP4040 and HV from the CAEN): what an operator sees of the CO2
plant, the door and the LV supply, the plant started and a module powered from the page.
Chromium at desk size; every assertion on what is visible in the viewport."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.web.conftest import Demo, cli, demo_of, show

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    def fast_plant(data: dict[str, Any]) -> None:
        data["marta"]["sim"] = {"time_scale": 30}

    services = ("dcs", "hmp4040", "MARTA", "sensors", "safety", "recorder", "runs", "web")
    with demo_of(tmp_path_factory.mktemp("coldroom"), services,
                 ROOT / "examples" / "coldroom.yaml", fast_plant, timeout=90) as d:  # fmt: skip
        yield d


def test_the_operator_starts_the_co2_plant_and_sees_the_door_close(demo: Demo, login) -> None:
    page = login("operator")
    show(page, "environment")
    card = page.locator("#marta-card")
    expect(card).to_be_visible()
    expect(page.locator("#chiller-card")).to_be_hidden()  # no Julabo on this stand
    expect(page.locator("#marta-state")).to_have_text("CONNECTED", timeout=15000)
    door = page.locator("#door-state")
    expect(door).to_have_text("safe to open", timeout=30000)  # warm CO2, HV off, fresh room
    # the guard: no CO2 set-point below the module carrier's dew point (about -15 °C) + 3 K
    page.fill("#marta-sp", "-25")
    page.click("#marta-set")
    expect(page.locator("#notices")).to_contain_text("is below dew point")
    page.fill("#marta-sp", "-8")
    page.click("#marta-set")
    expect(page.locator("#marta-setpoint")).to_have_text("-8.0 °C")
    page.click("#marta-chiller")
    expect(page.locator("#marta-state")).to_have_text("CHILLER_RUNNING", timeout=15000)
    page.click("#marta-co2")
    expect(page.locator("#marta-state")).to_have_text("CO2_RUNNING", timeout=20000)
    # the CO2 cools below the room's dew point + margin: the door says keep closed, and why
    expect(door).to_have_text("keep closed", timeout=60000)
    expect(page.locator("#door-why")).to_contain_text("MARTA CO2 supply")
    for el in (card, page.locator("#door")):
        expect(el).to_be_in_viewport()
    supply = float(re.sub(r" °C$", "", page.locator("#marta-supply").inner_text()))
    assert supply < 15  # cooling: it was at the room temperature (20 °C)
    page.screenshot(path=str(demo.state / "coldroom.png"))


def test_a_module_powered_from_its_row_takes_lv_from_the_hmp_and_hv_from_the_caen(
    demo: Demo, login
) -> None:
    # the CO2 well above the modules' dew point (the other test may have left it cold)
    p = demo.probe
    assert p.command("MARTA", "set_temperature_setpoint", "15")["ok"]
    p.wait_json("safety/status", lambda s: s["state"] == "OK"
                and s["interlocks"]["dewpoint"]["value"] > 8, 60, p.mark())  # fmt: skip
    page = login("operator")
    show(page, "modules")
    lvps = page.locator("#lvps-card")
    expect(lvps).to_be_visible()
    expect(page.locator("#lvps-model")).to_have_text("HMP4040")
    expect(page.locator("#lvps-state")).to_have_text("LV_OFF", timeout=15000)
    row = page.locator('#modules tr[data-channel="1"]')
    expect(row.locator(".state")).to_have_text("LV_OFF", timeout=15000)
    # HV first is refused, with the other supply named
    row.locator(".hv-on").click()
    expect(page.locator("#notices")).to_contain_text("LV of PS_26_05-UCL_00001 is off (hmp4040")
    row.locator(".lv-on").click()  # the row's LV is the HMP4040 output 1
    expect(row.locator(".state")).to_have_text("LV_ON", timeout=15000)
    output = page.locator('#lvps tr[data-output="1"]')
    expect(output).to_contain_text("LV_ON")
    expect(row.locator(".lv-v")).to_have_text(re.compile(r"^10\.[45]"), timeout=10000)
    row.locator(".hv-on").click()
    expect(row.locator(".state")).to_have_text("HV_ON", timeout=30000)
    for el in (row, lvps):
        expect(el).to_be_in_viewport()
    page.screenshot(path=str(demo.state / "coldroom-hmp.png"), full_page=True)
    # LV off from the row: the HV comes down first, then the output goes off
    row.locator(".lv-off").click()
    expect(row.locator(".state")).to_have_text("LV_OFF", timeout=30000)
    expect(output).to_contain_text("LV_OFF")
    assert float(row.locator(".hv-v").inner_text()) < 5


def test_the_stand_runs_calibrations_iv_scans_and_sequences(demo: Demo) -> None:
    """Issue 26: the example is complete — its runs service (simulated Ph2_ACF) answers and
    offers the shipped recipes (before, `sequence recipes` waited 30 s for no reply)."""
    recipes = cli("sequence", "-c", str(demo.config), "recipes")
    assert recipes.returncode == 0, recipes.stderr
    assert "burn-in.yaml" in recipes.stdout and "quick-test.yaml" in recipes.stdout
    runs = cli("runs", "-c", str(demo.config), "list")
    assert runs.returncode == 0 and runs.stdout.strip() == "no runs yet", runs
