"""An IV scan of 40 modules in parallel, against the physical limit.

A 40-module stand (simulated SY4527 behind its caproto IOC, read over Channel Access by the
CAEN service; sensors, safety, recorder, runs service; Mosquitto): LV on, then one
`runs/cmd/iv/start` over every module. Per step the scan cannot be faster than the HV ramp
(step / RUp) plus the settle time plus its readings (readings × interval): that sum over the
steps is the physical limit; the sum of the settle times alone is quoted too. Wall time is
the run document's start → end (the end is when the ramp-down to 0 V has been ordered and
confirmed by the power service; the channels then ramp down by themselves).

Run: python benchmarks/iv_parallel.py [--modules 40] [--stop 100] [--step 10] [--settle 1]
Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import uuid
from pathlib import Path

from trackerdcs.caen.testing import channel_map_yaml
from trackerdcs.config import load_stand
from trackerdcs.testing.mosquitto import Mosquitto, free_port
from trackerdcs.testing.probe import Probe
from trackerdcs.testing.processes import StandProcesses

RUP = 100.0  # V/s


def stand_body(prefix: str, modules: int) -> str:
    lines = ["caen:", "  simulate: true", f"  prefix: {prefix}", f"  ca_server_port: {free_port()}",
             "  global: {lv: {V0Set: 10.5, I0Set: 3.0}, hv: {V0Set: 0.0, I0Set: 50.0, "
             f"RUp: {RUP}, RDWn: {RUP}, PDwn: Ramp}}}}",
             "  channels:", channel_map_yaml(modules)]  # fmt: skip
    lines += [
        "sensors:", "  simulate: true", "  sim: {period: 1.0, noise: 0.0}", "  sensors:",
        f"    - {{name: box, kind: coldbox, temp_topic: {prefix}/b/t, humi_topic: {prefix}/b/h}}",
        "safety: {chiller: {enabled: false}, services: {required: []}}",
        "recorder: {flush_interval: 0.2}",
        "runs: {settle: 0, stable: {for_s: 0}}",
    ]  # fmt: skip
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--modules", type=int, default=40)
    ap.add_argument("--stop", type=float, default=100.0)
    ap.add_argument("--step", type=float, default=10.0)
    ap.add_argument("--settle", type=float, default=1.0)
    ap.add_argument("--readings", type=int, default=3)
    ap.add_argument("--interval", type=float, default=0.2)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        broker = Mosquitto(tmp / "mosquitto").start()
        path = tmp / "stand.yaml"
        storage = f"storage: {{historian: 'sqlite:///{tmp / 'h.sqlite'}'}}\n"
        path.write_text(f"state_dir: {tmp / 'var'}\n" + broker.bus_yaml() + storage
                        + stand_body(f"iv{uuid.uuid4().hex[:4]}", args.modules))  # fmt: skip
        stand = load_stand(path)
        procs = StandProcesses(path, stand, tmp)
        try:
            procs.start(*procs.specs)
            with Probe(stand.bus) as p:
                p.wait_json("dcs/status", lambda s: s["fsm_state"] == "LV_OFF", 60)
                p.wait_json("safety/status", lambda s: s["state"] == "OK", 30)
                p.wait_for("runs/online", lambda m: m.text == "true", 30)
                assert p.command("dcs", "switch/lv", "on", timeout=20)["ok"]
                p.wait_json("dcs/status", lambda s: s["fsm_state"] == "LV_ON", 60)
                time.sleep(3)
                scan = {"start": 0, "stop": args.stop, "step": args.step,
                        "settle": args.settle, "readings": args.readings,
                        "interval": args.interval, "compliance": 40.0}  # fmt: skip
                reply = p.command("runs", "iv/start", scan, timeout=30)
                assert reply["ok"], reply
                rid = reply["result"]["id"]
                p.wait_json(f"runs/run/{rid}", lambda s: s["status"] != "running", 3600)
                doc = p.command("runs", f"show/{rid}", timeout=30)["result"]
        finally:
            procs.stop()
            broker.stop()
    steps = round(args.stop / args.step) + 1
    curves = doc["curves"].values()
    points = [len(c["points"]) for c in curves]
    wall = doc["end"] - doc["start"]
    settle_sum = steps * args.settle
    limit = steps * (args.step / RUP + args.settle + args.readings * args.interval)
    print(json.dumps({
        "modules": args.modules, "steps": steps, "status": doc["status"],
        "curves_complete": sum(1 for n in points if n == steps),
        "wall_s": round(wall, 1), "settle_sum_s": round(settle_sum, 1),
        "physical_limit_s": round(limit, 1), "wall_over_limit": round(wall / limit, 2),
        "overhead_per_step_ms": round((wall - limit) / steps * 1000),
        "one_module_at_a_time_s": round(limit * args.modules, 1),
    }, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
