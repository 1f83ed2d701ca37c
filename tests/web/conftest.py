"""The running demo (every service, simulators, embedded broker) and Debian's Chromium driven
by Playwright. The browser is the system one (/usr/bin/chromium); nothing is downloaded."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from trackerdcs.config.bus import BusConfig
from trackerdcs.testing.demo import DEMO_SERVICES, demo_bus, demo_copy, running_demo, wait_online
from trackerdcs.testing.probe import Probe

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip


@dataclass
class Demo:
    url: str
    bus: BusConfig
    probe: Probe
    config: Path
    state: Path


@contextmanager
def demo_of(tmp: Path, services: Iterable[str], source: Path | None = None,
            tweak: Callable[[dict[str, Any]], None] | None = None,
            timeout: float = 60) -> Iterator[Demo]:  # fmt: skip
    """A demo stand (the packaged one, or `source`) on free ports, changed by `tweak`,
    running until the block ends; `services` online before it starts."""
    config = demo_copy(tmp / "stand", source=source)
    data = yaml.safe_load(config.read_text())
    if tweak is not None:
        tweak(data)
        config.write_text(yaml.safe_dump(data, sort_keys=False))
    cfg = demo_bus(config)
    with running_demo(config, tmp / "state", tmp / "demo.log"):
        view = wait_online(cfg, tuple(services), timeout=timeout)
        assert all(view.values()), view
        with Probe(cfg) as probe:
            yield Demo(f"http://127.0.0.1:{data['web']['port']}", cfg, probe, config,
                       tmp / "state")  # fmt: skip


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    """`trackerdcs ARGS` as an operator types it, bounded."""
    return subprocess.run([sys.executable, "-m", "trackerdcs", *args], capture_output=True,
                          text=True, timeout=60)  # fmt: skip


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    def fast_runs(data: dict[str, Any]) -> None:
        # runs that fit in a test: a short stability window and a quick simulated Ph2_ACF
        data["runs"]["stable"]["for_s"] = 2
        data["ph2acf"]["sim"] = {"steps": 2, "step_seconds": 0.5}

    with demo_of(tmp_path_factory.mktemp("webdemo"), DEMO_SERVICES, tweak=fast_runs) as d:
        yield d


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def login(demo: Demo, browser):
    contexts = []

    def as_user(name: str):
        ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
        contexts.append(ctx)
        page = ctx.new_page()
        page.set_default_timeout(15000)
        page.goto(demo.url)
        page.fill("input[name=username]", name)
        page.fill("input[name=password]", name)
        page.click("#login button[type=submit]")
        page.wait_for_selector("#main-view:not([hidden])")
        return page

    yield as_user
    for ctx in contexts:
        ctx.close()


def show(page, name: str) -> None:  # type: ignore[no-untyped-def]
    """Go to one of the UI's pages with its navigation link, as a person would."""
    link = page.locator(f'#nav a[data-page="{name}"]')
    link.click()
    from playwright.sync_api import expect

    expect(link).to_have_attribute("aria-current", "page")


def no_sideways_scroll(page, where: str) -> None:  # type: ignore[no-untyped-def]
    wide = page.evaluate("document.documentElement.scrollWidth")
    assert wide <= page.viewport_size["width"], f"{where}: the page is {wide} px wide"


def inside(page, locator, what: str) -> None:  # type: ignore[no-untyped-def]
    """Scrolled to if need be, then wholly inside the viewport's width and height."""
    from playwright.sync_api import expect

    locator.scroll_into_view_if_needed()
    expect(locator).to_be_visible()
    box = locator.bounding_box()
    w, h = page.viewport_size["width"], page.viewport_size["height"]
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= w + 0.5, (what, box)
    assert box["y"] >= 0 and box["y"] + box["height"] <= h + 0.5, (what, box)
