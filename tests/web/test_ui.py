"""Browser tests against the running demo: what an operator does on a shift."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import expect

from tests.web.conftest import Demo, inside, no_sideways_scroll, show


def test_wrong_password_is_refused(demo: Demo, browser) -> None:
    page = browser.new_page()
    try:
        page.goto(demo.url)
        page.fill("input[name=username]", "operator")
        page.fill("input[name=password]", "nope")
        page.click("#login button[type=submit]")
        expect(page.locator("#login-error")).to_contain_text("wrong user name or password")
        assert page.request.get(f"{demo.url}/api/state").status == 401
    finally:
        page.close()


def test_operator_powers_a_module_and_sees_refusals(demo: Demo, login) -> None:
    page = login("operator")
    rows = page.locator("#modules tbody tr")
    expect(rows).to_have_count(4)
    row = page.locator('#modules tr[data-channel="1"]')
    expect(row.locator(".state")).to_have_text("LV_OFF")
    # HV with LV off: refused, and the reason reaches the operator
    row.locator(".hv-on").click()
    expect(page.locator(".notice.error").first).to_contain_text(re.compile("refused.*LV", re.I))
    row.locator(".lv-on").click()
    expect(row.locator(".state")).to_have_text("LV_ON", timeout=20000)
    row.locator(".hv-on").click()
    expect(row.locator(".state")).to_have_text(re.compile("HV_RAMP|HV_ON"), timeout=20000)
    expect(page.locator('#modules tr[data-channel="2"] .state')).to_have_text("LV_OFF")
    # every command is in the audit log with the user
    show(page, "alarms")
    expect(page.locator("#audit tbody")).to_contain_text("switch/hv/1")
    expect(page.locator("#audit tbody tr").first).to_contain_text("operator")
    show(page, "modules")
    page.locator('#modules tr[data-channel="1"] .lv-off').click()  # LV off ramps HV first
    expect(row.locator(".state")).to_have_text("LV_OFF", timeout=60000)


def test_powering_every_module_at_once_is_asked_first(demo: Demo, login) -> None:
    page = login("operator")
    asked: list[str] = []

    def answer(dialog) -> None:  # type: ignore[no-untyped-def]
        asked.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", answer)
    m = demo.probe.mark()
    page.click("#all-hv-on")
    expect(page.locator(".notice.error").first).to_contain_text("HV on for all modules: not sent")
    assert asked == ["Switch HV on for all 4 modules?"], asked
    assert not [x for x in demo.probe.messages[m:] if x.topic.startswith("dcs/cmd/")]
    # the chiller's signed power says what the sign means
    show(page, "environment")
    expect(page.locator("#chiller-power")).to_have_text(
        re.compile(r"% \((cooling|heating|idle)\)$")
    )


def test_operator_acknowledges_a_latched_alarm(demo: Demo, login) -> None:
    page = login("operator")
    # humid air in the cold box: the dew-point interlock acts and raises a MAJOR alarm
    demo.probe.publish("sim/sensors/coldbox", {"humidity": 99.0})
    alarm = page.locator('#alarms tr[data-alarm="safety.dewpoint"]')
    expect(alarm).to_contain_text("MAJOR", timeout=20000)
    expect(page.locator("#safety-state")).to_have_text("ACTION")
    demo.probe.publish("sim/sensors/coldbox", {"humidity": None})
    expect(page.locator("#safety-state")).not_to_have_text("ACTION", timeout=20000)
    # the condition is gone but the alarm stays until someone acknowledges it
    expect(alarm).to_be_visible()
    alarm.locator("button.ack").click()
    expect(alarm).to_have_count(0, timeout=10000)


def test_trend_chart_shows_recorded_data(demo: Demo, login) -> None:
    page = login("viewer")
    show(page, "environment")
    preset = "Environment: temperatures and dew points"
    page.locator("#preset").focus()
    page.wait_for_function(
        f"Array.from(document.querySelectorAll('#preset option')).some(o => o.value === '{preset}')"
        " || (loadSeries(), false)", timeout=30000, polling=1000,
    )  # fmt: skip
    page.select_option("#preset", preset)
    page.select_option("#range", "600")
    # several series in one plot, named by sensor and quantity, with units
    chips = page.locator("#chosen li")
    expect(chips.filter(has_text="room T (°C)")).to_have_count(1)
    expect(chips.filter(has_text="coldbox dew point (°C)")).to_have_count(1)
    expect(page.locator("#plot .u-legend")).to_contain_text("bath T (°C)")
    expect(page.locator("#plot canvas")).to_be_in_viewport()
    page.wait_for_function("state.plot && state.plot.data[0].length > 0", timeout=15000)
    key = "sensors,kind=ambient,location=lab,sensor=room:temperature"
    values = page.evaluate(f"state.plot.data[state.trend.keys.indexOf('{key}') + 1]"
                           ".filter(v => v != null)")  # a gap is null or undefined  # fmt: skip
    assert values and all(15 < v < 30 for v in values)  # the simulated room
    # the live tail: new points arrive over the WebSocket without another fetch
    n = page.evaluate("state.plot.data[0].length")
    page.wait_for_function(f"state.plot.data[0].length > {n}", timeout=15000)
    with page.expect_download() as got:
        page.click("#csv")
    head = Path(got.value.path()).read_text().splitlines()[0]
    assert head.startswith("time_utc,") and "room T (°C)" in head
    with page.expect_download() as got:
        page.click("#png")
    assert Path(got.value.path()).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # a drag over the chart zooms: that range is fetched again (not merely stretched)
    asked: list[str] = []
    box = page.locator("#plot .u-over").bounding_box()
    assert box is not None
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.5, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.9, y, steps=8)
    page.on("request", lambda r: asked.append(r.url) if "/api/history" in r.url else None)
    page.mouse.up()
    page.wait_for_function("state.zoom !== null", timeout=5000)
    zoom = page.evaluate("state.zoom")
    assert 0.2 * 600 < zoom[1] - zoom[0] < 0.6 * 600  # about 40 % of the 10 minutes
    for _ in range(50):  # bounded: 5 s
        if asked:
            break
        page.wait_for_timeout(100)
    assert asked, "the zoomed range was not fetched again"


def test_viewer_sees_no_controls_and_cannot_command(demo: Demo, login) -> None:
    page = login("viewer")
    expect(page.locator("#modules tbody tr")).to_have_count(4)
    expect(page.locator('#modules tr[data-channel="1"] .lv-on')).to_be_hidden()
    expect(page.locator("#all-lv-on")).to_be_hidden()
    r = page.request.post(f"{demo.url}/api/cmd/dcs/switch/lv/1", data='"on"',
                          headers={"Content-Type": "application/json"})  # fmt: skip
    assert r.status == 403 and "operator" in r.json()["detail"]
    show(page, "alarms")
    expect(page.locator("#events-card")).to_be_visible()
    expect(page.locator("#audit-card")).to_be_hidden()  # the audit log is for operators
    audit = login("operator").request.get(f"{demo.url}/api/audit").json()
    # newest first; the operator's page has read the recipes since
    mine = [a for a in audit if a["user"] == "viewer"]
    assert mine[0]["command"] == "switch/lv/1" and "forbidden" in mine[0]["error"], audit[:3]


def test_the_api_docs_render_on_a_stand_without_internet(demo: Demo, login) -> None:
    """Swagger UI's and ReDoc's assets come from a package: with every request that leaves
    the machine refused, both docs pages still show the API."""
    page = login("viewer")
    outside: list[str] = []

    def only_local(route) -> None:  # type: ignore[no-untyped-def]
        if route.request.url.startswith(demo.url):
            route.continue_()
        else:
            outside.append(f"{route.request.resource_type} {route.request.url}")
            route.abort()

    page.route("**/*", only_local)
    page.goto(f"{demo.url}/api/docs")
    title = page.locator(".swagger-ui .info .title")
    expect(title).to_contain_text("trackerdcs", timeout=15000)
    expect(title).to_be_in_viewport()
    expect(page.locator(".opblock-summary-path", has_text="/api/cmd/")).to_be_visible()
    page.goto(f"{demo.url}/api/redoc")
    heading = page.locator("h1", has_text="trackerdcs")
    expect(heading).to_be_visible(timeout=15000)
    expect(heading).to_be_in_viewport()
    # nothing the pages need comes from outside (ReDoc asks its CDN for its own logo only)
    assert all(o.startswith("image ") for o in outside), outside


def test_operator_runs_a_calibration_and_reads_its_conditions(demo: Demo, login,
                                                              tmp_path) -> None:  # fmt: skip
    page = login("operator")
    show(page, "runs")
    card = page.locator("#runs-card")
    card.scroll_into_view_if_needed()
    page.click("#run-check")
    problems = page.locator("#run-problems")
    expect(problems).to_contain_text("LV must be on")
    # a card only partly on screen is not scrolled by the line above: the operator scrolls
    # to the answer (with fewer start-up alarms the page got shorter and the list below the
    # fold: a fresh-clone run failed on that, not on the answer)
    problems.scroll_into_view_if_needed()
    expect(problems).to_be_in_viewport()
    show(page, "modules")
    page.once("dialog", lambda d: d.accept())  # "Switch LV on for all 4 modules?"
    page.click("#all-lv-on")
    expect(page.locator("#caen-state")).to_have_text("LV_ON", timeout=20000)
    show(page, "runs")
    card.scroll_into_view_if_needed()
    for _ in range(30):  # the temperature must have been stable for 2 s
        page.click("#run-check")
        try:
            expect(problems).to_contain_text("Ready for calibration", timeout=1000)
            break
        except AssertionError:
            continue
    expect(problems).to_contain_text("Ready for calibration")
    page.fill("#run-note", "shift test")
    page.click("#run-start")
    expect(page.locator("#run-progress")).to_contain_text("(calibration)", timeout=10000)
    row = page.locator("#runs tbody tr").first
    expect(row).to_contain_text("done", timeout=40000)
    expect(row).to_contain_text("PS_26_05-IBA_00001")
    row.click()
    detail = page.locator("#run-detail")
    expect(detail).to_be_visible()
    expect(page.locator("#run-conditions")).to_contain_text("coldbox temperature")
    # each module's LV with its unit, from the supply that gives it
    expect(page.locator("#run-conditions")).to_contain_text(
        "PS_26_05-IBA_00001 LV (dcs 1) voltage (V)"
    )
    expect(page.locator("#run-log")).to_contain_text("Closing result file")
    expect(page.locator("#run-detail-title")).to_be_in_viewport()
    page.screenshot(path=str(tmp_path / "runs.png"), full_page=False)
    page.set_viewport_size({"width": 390, "height": 844})  # a phone
    row.click()
    expect(page.locator("#run-detail-title")).to_be_in_viewport()
    # the operator scrolls to the button (the form wraps; a half-visible "Check" above it is
    # not scrolled to, and "Start run" stayed below the fold in a fresh-clone run)
    no_sideways_scroll(page, "runs at phone width")
    # a run reads as a card: what it was on one line, not one letter a line (eight columns
    # squeezed into 390 px did that), the whole row within the screen's width
    # (measured in one step: the table is redrawn on every runs message, innerHTML)
    seen = page.evaluate("""() => { const r = document.querySelector('#runs tbody tr');
        const w = r.children[1].getBoundingClientRect(), b = r.getBoundingClientRect();
        return {what: w.height, line: parseFloat(getComputedStyle(r.children[1]).fontSize),
                left: b.left, right: b.right, text: r.children[1].textContent}; }""")
    assert seen["what"] < 2.2 * seen["line"] and seen["text"].strip(), seen
    assert seen["left"] >= 0 and seen["right"] <= 390, seen
    inside(page, page.locator("#run-start"), "Start run at phone width")
    page.screenshot(path=str(tmp_path / "runs-phone.png"), full_page=False)
    page.set_viewport_size({"width": 1400, "height": 1000})
    show(page, "modules")
    page.click("#all-lv-off")
    expect(page.locator("#caen-state")).to_have_text("LV_OFF", timeout=30000)


UI_RECIPE = """
name: ui quick
steps:
  - lv: on
  - iv: {stop: 20, step: 5, settle: 0.2, readings: 2, interval: 0.1, compliance: 5}
  - iv: {stop: 20, step: 5, settle: 0.2, readings: 2, interval: 0.1, compliance: 5, label: IV again}
  - lv: off
"""


def test_operator_runs_a_recipe_watches_its_steps_and_overlays_its_iv_curves(
    demo: Demo, login, tmp_path
) -> None:
    (demo.config.parent / "recipes" / "ui-quick.yaml").write_text(UI_RECIPE)
    page = login("operator")
    show(page, "runs")
    card = page.locator("#sequence-card")
    card.scroll_into_view_if_needed()
    page.locator("#seq-recipe").focus()  # the list is read again from the runs service
    expect(page.locator("#seq-recipe option[value='ui-quick.yaml']")).to_have_count(1)
    page.select_option("#seq-recipe", "ui-quick.yaml")
    page.click("#seq-start")
    expect(page.locator("#seq-progress")).to_contain_text("(ui quick)", timeout=10000)
    expect(page.locator("#seq-state")).to_have_text("done", timeout=90000)
    rows = page.locator("#seq-steps tbody tr")
    expect(rows).to_have_count(4)
    for k in range(4):
        expect(rows.nth(k).locator(".state")).to_have_text("done")
    expect(rows.nth(1)).to_contain_text("IV 0–20 V step 5 V")
    expect(page.locator("#seq-title")).to_contain_text("ui quick, done")
    expect(page.locator("#seq-title")).to_be_in_viewport()
    # the sequence's IV scans, one click each: both overlaid, every module a curve
    rows.nth(1).locator("a[data-run]").click()
    plot = page.locator("#iv-plot")
    expect(plot).to_be_in_viewport()
    legend = page.locator("#iv-plot .u-legend .u-series")
    expect(legend).to_have_count(1 + 4)
    card.scroll_into_view_if_needed()
    rows.nth(2).locator("a[data-run]").click()
    expect(legend).to_have_count(1 + 8)
    expect(legend.nth(1)).to_contain_text("PS_26_05-IBA_00001")
    page.check("#iv-log")
    expect(legend).to_have_count(1 + 8)
    expect(plot.locator("canvas")).to_be_visible()
    expect(plot).to_be_in_viewport()
    page.screenshot(path=str(tmp_path / "iv-overlay.png"), full_page=False)
    card.scroll_into_view_if_needed()
    page.screenshot(path=str(tmp_path / "sequence.png"), full_page=False)
    page.set_viewport_size({"width": 390, "height": 844})  # a phone
    rows.nth(2).locator("a[data-run]").click()  # drawn again at this width
    expect(plot.locator("canvas")).to_be_in_viewport()
    page.screenshot(path=str(tmp_path / "iv-phone.png"), full_page=False)
    page.locator("#seq-start").scroll_into_view_if_needed()
    expect(page.locator("#seq-start")).to_be_in_viewport()
    expect(page.locator("#seq-progress")).to_be_in_viewport()
    page.screenshot(path=str(tmp_path / "sequence-phone.png"), full_page=False)
    page.set_viewport_size({"width": 1400, "height": 1000})
    # a shipped recipe, aborted from the page during its IV scan: the modules end off
    page.select_option("#seq-recipe", "quick-test.yaml")
    page.click("#seq-start")
    expect(page.locator("#seq-progress")).to_contain_text("step 2 of 4", timeout=30000)
    page.once("dialog", lambda d: d.accept())
    page.click("#seq-abort")
    expect(page.locator("#seq-state")).to_have_text("aborted", timeout=60000)
    expect(page.locator("#seq-title")).to_contain_text("aborted by operator from the UI")
    expect(rows.nth(1).locator(".state")).to_have_text("aborted")
    expect(page.locator("#seq-title")).to_be_in_viewport()
    expect(page.locator("#caen-state")).to_have_text("LV_OFF", timeout=30000)


def test_a_chiller_that_stops_answering_is_greyed_with_no_number(demo: Demo, login) -> None:
    import socket

    import yaml

    page = login("viewer")
    show(page, "environment")
    card, temp = page.locator("#chiller-card"), page.locator("#chiller-temp")
    expect(temp).to_have_text(re.compile(r"^-?\d+\.\d\d °C$"), timeout=15000)
    host, port = yaml.safe_load(demo.config.read_text())["julabo"]["sim_tcp"].split(":")
    # the simulated unit's back door (the same serial line): it stops answering
    with socket.create_connection((host, int(port)), timeout=5) as line:
        line.sendall(b"SIM_MUTE 1\r")
        try:
            expect(page.locator("#chiller-state")).to_have_text("DISCONNECTED", timeout=30000)
            expect(card).to_have_class(re.compile(r"\bstale\b"))
            expect(card).to_be_in_viewport()
            assert float(card.evaluate("e => getComputedStyle(e).opacity")) < 0.6
            expect(temp).to_have_text("– °C")  # no number shown as current
            page.screenshot(path=str(demo.state / "chiller-disconnected.png"))
        finally:
            line.sendall(b"SIM_MUTE 0\r")
    expect(temp).to_have_text(re.compile(r"^-?\d+\.\d\d °C$"), timeout=30000)
    expect(card).not_to_have_class(re.compile(r"\bstale\b"))
