"""Time from `trackerdcs demo` to every demo service announcing itself online.

Run: python benchmarks/demo_startup.py [--runs 3]
Prints JSON: per-run seconds, median and max. The demo runs on free ports in a temp dir.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from trackerdcs.testing.demo import DEMO_SERVICES, demo_bus, demo_copy, running_demo, wait_online


def once(tmp: Path) -> float:
    config = demo_copy(tmp / "stand")
    cfg = demo_bus(config)
    t0 = time.monotonic()
    with running_demo(config, tmp / "state", tmp / "demo.log"):
        view = wait_online(cfg, DEMO_SERVICES, timeout=60)
        elapsed = time.monotonic() - t0
        if not all(view.values()):
            raise SystemExit(f"not online after 60 s: {view}")
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    times = []
    for i in range(args.runs):
        with tempfile.TemporaryDirectory() as d:
            times.append(round(once(Path(d) / str(i)), 2))
    print(
        json.dumps(
            {
                "benchmark": "demo_startup",
                "services": list(DEMO_SERVICES),
                "runs_s": times,
                "median_s": statistics.median(times),
                "max_s": max(times),
            }
        )
    )


if __name__ == "__main__":
    main()
