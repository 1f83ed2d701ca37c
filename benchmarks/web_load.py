"""Web UI under load: a 40-module demo stand whose CAEN service republishes every channel
each second, one logged-in Chromium page, for N minutes.

Reports WebSocket messages/s delivered by the web service, the page's JS heap (Chrome
DevTools `Performance.getMetrics`) at the start and the end, and how long a round trip into
the page takes at the end, median and max of 20 (a responsiveness check: a page busy
rendering answers late).

Run: python benchmarks/web_load.py [--minutes 10] [--modules 40]
Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import yaml

from trackerdcs.testing.demo import DEMO_SERVICES, demo_bus, demo_copy, running_demo, wait_online
from trackerdcs.testing.probe import Probe

FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip


def heap(cdp) -> float:
    m = {x["name"]: x["value"] for x in cdp.send("Performance.getMetrics")["metrics"]}
    return round(m["JSHeapUsedSize"] / 1e6, 1)


def main() -> None:
    from playwright.sync_api import sync_playwright

    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--modules", type=int, default=40)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        config = demo_copy(tmp / "stand", modules=args.modules)
        data = yaml.safe_load(config.read_text())
        data["caen"]["heartbeat"] = 1  # every channel republished every second
        config.write_text(yaml.safe_dump(data, sort_keys=False))
        url = f"http://127.0.0.1:{data['web']['port']}"
        cfg = demo_bus(config)
        with running_demo(config, tmp / "state", tmp / "demo.log"), sync_playwright() as pw:
            assert all(wait_online(cfg, DEMO_SERVICES, timeout=90).values())
            browser = pw.chromium.launch(executable_path=shutil.which("chromium"), args=FLAGS)
            page = browser.new_page(viewport={"width": 1920, "height": 1080})
            page.goto(url)
            page.fill("input[name=username]", "viewer")
            page.fill("input[name=password]", "viewer")
            page.click("#login button[type=submit]")
            page.wait_for_function(
                f"document.querySelectorAll('#modules tbody tr').length === {args.modules}",
                timeout=60000)  # fmt: skip
            cdp = page.context.new_cdp_session(page)
            cdp.send("Performance.enable")
            with Probe(cfg, subscribe=("web/status",)) as p:
                first = p.wait_json("web/status", lambda s: True, timeout=10)
                t0, heap0 = time.monotonic(), heap(cdp)
                time.sleep(args.minutes * 60)
                mark = p.mark()
                last = p.wait_json("web/status", lambda s: True, timeout=10, since=mark)
                elapsed = time.monotonic() - t0
            heap1 = heap(cdp)
            rtts = []
            for _ in range(20):
                t = time.monotonic()
                page.evaluate("document.querySelectorAll('#modules tbody tr').length")
                rtts.append((time.monotonic() - t) * 1000)
                time.sleep(0.1)
            rtts.sort()
            rows = page.evaluate("document.querySelectorAll('#modules tbody tr').length")
            browser.close()
    msgs = last["websocket_messages"] - first["websocket_messages"]
    print(json.dumps({
        "benchmark": "web_load", "modules": args.modules, "minutes": args.minutes,
        "websocket_messages_per_s": round(msgs / elapsed, 1),
        "js_heap_mb_start": heap0, "js_heap_mb_end": heap1,
        "page_round_trip_ms_end": {"median": round(rtts[10], 1), "max": round(rtts[-1], 1)},
        "rows_rendered": rows,
    }))  # fmt: skip


if __name__ == "__main__":
    main()
