"""CAEN at scale: a 40-module stand (80 channels, about 1,000 PVs) on the caproto mainframe.

Reports (1) connect time: from starting `trackerdcs run caen` until every channel is
published with a read-back state, and (2) command latency: from publishing
`dcs/cmd/switch/lv/<id>` on Mosquitto to the Channel Access put on the simulated mainframe
(its put log time-stamps it; same machine clock), median and p99.

Run: python benchmarks/caen_scale.py [--modules 40] [--commands 200]
Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from trackerdcs.caen.testing import SimIOC, ca_env, channel_map_yaml
from trackerdcs.config import load_stand
from trackerdcs.testing.mosquitto import Mosquitto, free_port
from trackerdcs.testing.probe import Probe


def stand_body(modules: int, prefix: str, ca_port: int, put_log: Path) -> str:
    lines = [
        "caen:",
        f"  prefix: {prefix}",
        f"  ca_server_port: {ca_port}",
        "  watchdog: {timeout: null}",
        "  global:",
        "    lv: {V0Set: 10.5, I0Set: 3.0}",
        "    hv: {V0Set: 50.0, I0Set: 10.0, RUp: 100.0, RDWn: 100.0}",
        f"  sim: {{put_log: {put_log}}}",
        "  channels:",
        channel_map_yaml(modules),
    ]
    return "\n".join(lines) + "\n"


def lv_puts(put_log: Path) -> list[dict]:
    out = []
    for line in put_log.read_text().splitlines():
        x = json.loads(line)
        board = int(x["pv"].split(":")[1])
        if x["pv"].endswith(":Pw") and board < 10:
            out.append(x)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--modules", type=int, default=40)
    ap.add_argument("--commands", type=int, default=200)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        broker = Mosquitto(tmp / "mosquitto").start()
        put_log = tmp / "puts.jsonl"
        path = tmp / "stand.yaml"
        body = stand_body(args.modules, f"c{uuid.uuid4().hex[:6]}", free_port(), put_log)
        path.write_text(f"state_dir: {tmp / 'var'}\n" + broker.bus_yaml() + body)
        stand = load_stand(path)
        assert stand.caen is not None
        ioc = SimIOC(path, stand.caen, tmp / "ioc.log").start(wait=False)
        time.sleep(3)  # the IOC serves before the service starts: we time the client side
        out: dict = {"benchmark": "caen_scale", "modules": args.modules,
                     "channels": 2 * args.modules}  # fmt: skip
        with Probe(stand.bus) as p:
            t0 = time.monotonic()
            service = subprocess.Popen(
                [sys.executable, "-m", "trackerdcs", "run", "caen", "-c", str(path)],
                stdout=open(tmp / "caen.log", "wb"),  # noqa: SIM115
                stderr=subprocess.STDOUT,
                env={**os.environ, **ca_env(stand.caen)},
            )
            try:
                p.wait_json("dcs/status", lambda s: s["fsm_state"] == "LV_OFF"
                            and len(s["channels"]) == args.modules, timeout=120)  # fmt: skip
                out["connect_seconds"] = round(time.monotonic() - t0, 2)
                lat: list[float] = []
                for k in range(args.commands):
                    cid = 1 + k % args.modules
                    value = "on" if (k // args.modules) % 2 == 0 else "off"
                    before = len(lv_puts(put_log)) if put_log.exists() else 0
                    t = time.time()
                    p.publish(f"dcs/cmd/switch/lv/{cid}", value)
                    deadline = time.monotonic() + 10
                    while True:
                        puts = lv_puts(put_log) if put_log.exists() else []
                        if len(puts) > before:
                            lat.append((puts[before]["t"] - t) * 1000)
                            break
                        if time.monotonic() > deadline:
                            raise SystemExit(f"no put for command {k}")
                        time.sleep(0.002)
                    time.sleep(0.02)
                lat.sort()
                out["command_to_put_ms"] = {
                    "n": len(lat), "median": round(statistics.median(lat), 1),
                    "p99": round(lat[min(len(lat) - 1, int(0.99 * len(lat)))], 1),
                    "max": round(lat[-1], 1)}  # fmt: skip
            finally:
                service.terminate()
                service.wait(20)
                ioc.stop()
                broker.stop()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
