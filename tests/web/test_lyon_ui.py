"""The Lyon stand in the browser (examples/lyon.yaml: module LV from an HMP4040 through a
serial switchbox, HV from the CAEN): a module is powered only once its HMP output and its
relay are both on, and the page shows which. Chromium at desk size; what is visible."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.web.conftest import Demo, cli, demo_of, show

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    with demo_of(tmp_path_factory.mktemp("lyon"), ("dcs", "hmp4040", "SB", "safety", "runs", "web"),
                 ROOT / "examples" / "lyon.yaml", timeout=90) as d:  # fmt: skip
        yield d


def test_a_module_gets_lv_only_with_its_output_and_its_relay_on(demo: Demo, login) -> None:
    page = login("operator")
    show(page, "modules")
    sb = page.locator("#sb-card")
    expect(sb).to_be_visible()
    expect(page.locator("#sb-state")).to_have_text("LV_OFF", timeout=15000)
    row = page.locator('#modules tr[data-channel="1"]')
    expect(row.locator(".state")).to_have_text("LV_OFF", timeout=15000)
    row.locator(".lv-on").click()  # the HMP4040 output: on, but the relay is open
    output = page.locator('#lvps tr[data-output="1"]')
    expect(output).to_contain_text("LV_ON", timeout=10000)
    expect(row.locator(".state")).to_have_text("LV_OFF")
    row.locator(".hv-on").click()
    expect(page.locator("#notices")).to_contain_text(
        "LV of PS_26_05-IPG_00101 is off (SB channel 1)"
    )
    page.click("#sb-master-on")
    expect(page.locator("#sb-master")).to_have_text("on", timeout=10000)
    relay = page.locator('#sb tr[data-relay="1"]')
    relay.locator(".sb-on").click()
    expect(relay.locator(".state")).to_have_text("LV_ON", timeout=10000)
    expect(row.locator(".state")).to_have_text("LV_ON", timeout=10000)
    expect(row.locator(".lv-v")).to_have_text(re.compile(r"^10\.[45]"), timeout=10000)
    for el in (row, sb, output):
        expect(el).to_be_in_viewport()
    page.screenshot(path=str(demo.state / "lyon.png"), full_page=True)


def test_the_stand_runs_calibrations_iv_scans_and_sequences(demo: Demo) -> None:
    """Issue 26: the example is complete — its runs service (simulated Ph2_ACF) answers and
    offers the shipped recipes (before, `sequence recipes` waited 30 s for no reply)."""
    recipes = cli("sequence", "-c", str(demo.config), "recipes")
    assert recipes.returncode == 0, recipes.stderr
    assert "burn-in.yaml" in recipes.stdout and "quick-test.yaml" in recipes.stdout
    runs = cli("runs", "-c", str(demo.config), "list")
    assert runs.returncode == 0 and runs.stdout.strip() == "no runs yet", runs
