"""Historian growth of the demo stand with N modules powered, per hour, and per year.

`trackerdcs demo` (embedded broker, SQLite historian, every service) on a copy of the demo
stand file with N modules; the chiller started (safety switches powered modules off when it
is not running), LV on, HV on (300 V), then after a warm-up the historian is
measured (bytes in use after a WAL checkpoint, raw rows, series), the stand runs M minutes,
and it is measured again. The difference, scaled to an hour, is the growth; the projection
per year uses the stand's retention (raw rows kept `raw_days`, rollups kept longer) when the
recorder has one, else the raw growth times a year.

Run: python benchmarks/storage_growth.py [--modules 40] [--minutes 30]
Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import tempfile
import time
from pathlib import Path

from trackerdcs.testing.demo import DEMO_SERVICES, demo_bus, demo_copy, running_demo, wait_online
from trackerdcs.testing.probe import Probe


def measure(db: Path) -> dict[str, int]:
    con = sqlite3.connect(f"file:{db}?mode=rw", uri=True, timeout=30)
    try:
        con.execute("PRAGMA wal_checkpoint(PASSIVE)")
        page = con.execute("PRAGMA page_size").fetchone()[0]
        pages = con.execute("PRAGMA page_count").fetchone()[0]
        free = con.execute("PRAGMA freelist_count").fetchone()[0]
        rows = con.execute("SELECT count(*) FROM points").fetchone()[0]
        series = con.execute("SELECT count(*) FROM series").fetchone()[0]
        per_table = {}
        try:  # the dbstat table is not compiled into every SQLite
            for name, size in con.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name"):
                per_table[name] = size
        except sqlite3.Error:
            pass
    finally:
        con.close()
    return {"bytes": (pages - free) * page, "rows": rows, "series": series, **{
        f"table_{k}": v for k, v in per_table.items() if v > 64 * 1024}}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--modules", type=int, default=40)
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--warmup", type=float, default=60.0, help="s after HV on before measuring")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        cfg = demo_copy(tmp / "cfg", modules=args.modules)
        state = tmp / "state"
        with running_demo(cfg, state, tmp / "demo.log"):
            bus = demo_bus(cfg)
            view = wait_online(bus, DEMO_SERVICES, 180)
            assert all(view.values()), view
            with Probe(bus, subscribe=("dcs/status", "recorder/#", "julabo/status",
                                       "safety/status")) as p:  # fmt: skip
                p.wait_json("dcs/status", lambda s: s["fsm_state"] == "LV_OFF", 120)
                p.wait_json("julabo/status", lambda s: s["fsm_state"] != "DISCONNECTED", 60)
                assert p.command("julabo", "start", timeout=30)["ok"]
                p.wait_json("julabo/status", lambda s: s["fsm_state"] == "ON", 60)
                assert p.command("dcs", "switch/lv", "on", timeout=30)["ok"]
                p.wait_json("dcs/status", lambda s: s["fsm_state"] == "LV_ON", 120)
                reply = p.command("dcs", "switch/hv", "on", timeout=30)
                assert reply["ok"], reply
                p.wait_json("dcs/status", lambda s: s["fsm_state"] == "HV_ON", 300)
                time.sleep(args.warmup)
                p.command("recorder", "flush", timeout=60)
                before = measure(state / "history.sqlite")
                mark = p.mark()
                t0 = time.monotonic()
                time.sleep(args.minutes * 60)
                p.command("recorder", "flush", timeout=60)
                elapsed = time.monotonic() - t0
                after = measure(state / "history.sqlite")
                powered = p.latest["dcs/status"].json()["fsm_state"]
                # the stand must have stayed powered: otherwise say when and why it was not
                left = [m for m in p.messages[mark:] if m.topic == "dcs/status"
                        and m.json()["fsm_state"] != "HV_ON"][:1]  # fmt: skip
                why = p.latest["safety/status"].json() if left else None
    per_hour = 3600.0 / elapsed
    growth = (after["bytes"] - before["bytes"]) * per_hour
    rows = (after["rows"] - before["rows"]) * per_hour
    out = {
        "modules": args.modules,
        "minutes": round(elapsed / 60, 2),
        "state_at_end": powered,
        "left_hv_on": {"at": left[0].json().get("ts"), "safety": why} if left else None,
        "series": after["series"],
        "bytes_per_hour": round(growth),
        "mb_per_hour": round(growth / 1e6, 2),
        "raw_rows_per_hour": round(rows),
        "bytes_per_row": round(growth / rows, 1) if rows else None,
        "gb_per_year_without_retention": round(growth * 24 * 365 / 1e9, 1),
        "before": before,
        "after": after,
    }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
