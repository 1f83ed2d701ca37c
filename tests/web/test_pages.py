"""Issue 16: the pages as a person sees them, on a desk (1400×900) and on a phone (390×844):
visible and inside the viewport, not just in the DOM. Every page is saved as a screenshot
under `artifacts/screens/` (git-ignored; `TRACKERDCS_ARTIFACTS` moves it) to be looked at."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.web.conftest import Demo, inside, no_sideways_scroll

SIZES = {"desk": (1400, 900), "phone": (390, 844)}
PAGES = ("overview", "modules", "environment", "alarms", "runs", "settings")
SHOTS = Path(os.environ.get("TRACKERDCS_ARTIFACTS", Path(__file__).parents[2] / "artifacts"))


def shot(page: Page, name: str) -> None:
    (SHOTS / "screens").mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "screens" / f"{name}.png"))


@pytest.fixture(scope="module")
def latched_alarm(demo: Demo) -> str:
    """Humid air in the cold box, then dry again: the dew-point alarm stays latched (with its
    Ack button) until someone acknowledges it."""
    mark = demo.probe.mark()
    demo.probe.publish("sim/sensors/coldbox", {"humidity": 99.0})
    demo.probe.wait_json("alarms/safety.dewpoint", lambda a: a["severity"] == "MAJOR",
                         timeout=20, since=mark)  # fmt: skip
    demo.probe.publish("sim/sensors/coldbox", {"humidity": None})
    demo.probe.wait_json("safety/status", lambda s: s["state"] != "ACTION", timeout=20,
                         since=mark)  # fmt: skip
    return "safety.dewpoint"


@pytest.mark.parametrize("size", SIZES)
def test_every_page_fits_and_shows_what_matters(demo: Demo, browser, latched_alarm: str,
                                                size: str) -> None:  # fmt: skip
    width, height = SIZES[size]
    ctx = browser.new_context(viewport={"width": width, "height": height})
    try:
        page = ctx.new_page()
        page.set_default_timeout(15000)
        page.goto(demo.url)
        page.fill("input[name=username]", "operator")
        page.fill("input[name=password]", "operator")
        page.click("#login button[type=submit]")
        # the login form is gone, after logging in and after a reload
        for when in ("after login", "after reload"):
            expect(page.locator("#main-view")).to_be_visible()
            expect(page.locator("#login-view")).to_be_hidden()
            assert not page.locator("input[name=password]").is_visible(), when
            page.reload()

        # the first screen: is the stand safe, what is on — without scrolling
        for tile in ("#tile-safety", "#tile-margin", "#tile-power", "#tile-alarms"):
            expect(page.locator(tile)).to_be_in_viewport(ratio=1)
        expect(page.locator("#sum-alarms")).to_have_text(re.compile(r"[1-9]"))
        expect(page.locator("#sum-margin")).to_have_text(re.compile(r"\d+\.\d K"))
        row = page.locator(f'#alarms tr[data-alarm="{latched_alarm}"]')
        expect(row).to_contain_text("MAJOR")
        for ack in page.locator("#alarms button.ack").all():
            inside(page, ack, "an alarm's Ack button")
        inside(page, row.locator("td").nth(3), "the alarm's message")

        for name in PAGES:
            link = page.locator(f'#nav a[data-page="{name}"]')
            inside(page, link, f"the {name} link")
            link.click()
            expect(link).to_have_attribute("aria-current", "page")
            page.wait_for_timeout(300)  # the page's cards laid out (and the trends drawn)
            no_sideways_scroll(page, name)
            shot(page, f"{size}-{name}")
            if name == "modules":
                rows = page.locator("#modules tbody tr")
                expect(rows).to_have_count(4)
                for r in rows.all():
                    for control in r.locator("button, input").all():
                        inside(page, control, f"module {r.get_attribute('data-channel')} control")
                shot(page, f"{size}-modules-last")
            if name == "alarms":
                expect(page.locator("#events .ev").first).to_be_visible()
                inside(page, row.locator("button.ack"), "Ack on the alarms page")
    finally:
        ctx.close()


def test_the_event_log_and_a_modules_own_history(demo: Demo, login, latched_alarm: str) -> None:
    page = login("operator")
    first = page.locator('#modules tr[data-channel="1"]')
    module = first.locator(".module a").inner_text()
    first.locator(".lv-on").click()
    expect(first.locator(".state")).to_have_text("LV_ON", timeout=20000)
    first.locator(".lv-off").click()
    expect(first.locator(".state")).to_have_text("LV_OFF", timeout=20000)
    expect(first.locator(".reason")).to_have_text("LV off by operator (web)")

    page.click('#nav a[data-page="alarms"]')
    events = page.locator("#events .ev")
    action = events.filter(has_text="interlock dewpoint: OK → ACTION")
    expect(action.first).to_be_visible(timeout=20000)
    expect(action.first.locator("time")).not_to_be_empty()
    page.select_option("#ev-kind", "interlock")
    expect(events.filter(has_text="switch/lv")).to_have_count(0)
    expect(action.first).to_be_visible()
    page.select_option("#ev-kind", "")

    # the module's own page: its values, and its history only
    page.click('#nav a[data-page="modules"]')
    first.locator(".module a").click()
    expect(page.locator("#module-name")).to_have_text(module)
    expect(page).to_have_url(re.compile(r"#module/"))
    mine = page.locator("#events .ev")
    switched = mine.filter(has_text="switch/lv/1 on by operator (web): done")
    expect(switched).to_have_count(1, timeout=20000)
    expect(mine.filter(has_text=f"{module} (dcs channel 1): LV_ON → LV_OFF: LV off by "
                                "operator (web)")).to_have_count(1)  # fmt: skip
    assert all(t == module for t in mine.locator(".mod").all_inner_texts())
    expect(page.locator("#chosen li")).to_have_count(4)  # its LV and HV, V and I
    expect(page.locator("#plot canvas").first).to_be_visible()
    # set-points and limits from the module's page: within the stand's limits, or refused
    form = page.locator("#module-set")
    inside(page, form.locator("button[type=submit]"), "Apply")
    form.locator("input[name=hv-v]").fill("5000")
    form.locator("button[type=submit]").click()
    expect(page.locator(".notice.error").first).to_contain_text("refused")
    form.locator("input[name=hv-v]").fill("250")
    form.locator("input[name=lv-i]").fill("2.5")
    form.locator("button[type=submit]").click()
    expect(form.locator("input[name=hv-v]")).to_have_attribute("placeholder", "250", timeout=10000)
    expect(form.locator("input[name=lv-i]")).to_have_attribute("placeholder", "2.5")
    expect(page.locator("#module-values")).to_contain_text("250.0 V")
    expect(mine.filter(has_text="setv/hv/1 250 by operator (web): done")).to_have_count(
        1, timeout=10000
    )
    shot(page, "desk-module")
    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_timeout(300)
    no_sideways_scroll(page, "a module's page")
    inside(page, form.locator("button[type=submit]"), "Apply at phone width")
    page.evaluate("window.scrollTo(0, 0)")
    shot(page, "phone-module")
