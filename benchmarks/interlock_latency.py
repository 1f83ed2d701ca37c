"""Interlock latency: from the offending sensor message on the bus to the HV-off write.

The chain is the real one: an ESP32-style humidity float on Mosquitto -> sensors service
(dew point) -> safety service (margin rule, ACTION) -> `dcs/cmd/safe_off` -> CAEN service
-> Channel Access put of `Pw = 0` on the caproto mainframe, whose put log time-stamps it.
Both clocks are this machine's `time.time()`.

Run: python benchmarks/interlock_latency.py [--trials 200]
Prints JSON: trials, median/p99/max latency in ms.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from trackerdcs.config import load_stand
from trackerdcs.sensors.dewpoint import humidity_for
from trackerdcs.testing.mosquitto import Mosquitto, free_port
from trackerdcs.testing.probe import Probe
from trackerdcs.testing.processes import StandProcesses

STAND = """
caen:
  simulate: true
  prefix: {prefix}
  ca_server_port: {ca_port}
  poll: 0.05
  watchdog: {{timeout: 30}}
  global:
    lv: {{V0Set: 10.5, I0Set: 3.0}}
    hv: {{V0Set: 5.0, I0Set: 10.0, RUp: 500.0, RDWn: 500.0, PDwn: Ramp}}
  channels:
    1: {{module: M1, lv: {{board: 0, chan: 0}}, hv: {{board: 12, chan: 0}}}}
  sim: {{put_log: {put_log}}}
sensors:
  sensors:
    - {{name: box, kind: coldbox, temp_topic: B/temp, humi_topic: B/humi}}
safety:
  dewpoint: {{warning: 5, action: 3, hysteresis: 1}}
  stale: {{warning: 600, action: 1200}}
  chiller: {{enabled: false}}
  services: {{required: []}}
"""


def hv_off_puts(put_log: Path, after: float) -> list[float]:
    out = []
    for line in put_log.read_text().splitlines():
        x = json.loads(line)
        hv_off = ":12:" in x["pv"] and x["pv"].endswith(":Pw") and x["value"] in (0, "Off")
        if hv_off and x["t"] >= after:
            out.append(x["t"])
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=200)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        broker = Mosquitto(tmp / "mosquitto").start()
        put_log = tmp / "puts.jsonl"
        path = tmp / "stand.yaml"
        body = STAND.format(prefix=f"b{uuid.uuid4().hex[:6]}", ca_port=free_port(), put_log=put_log)
        path.write_text(f"state_dir: {tmp / 'var'}\n" + broker.bus_yaml() + body)
        stand = load_stand(path)
        procs = StandProcesses(path, stand, tmp).start("sim-caen", "safety", "sensors", "caen")
        latencies: list[float] = []
        try:
            with Probe(stand.bus) as p:
                p.wait_json("dcs/status", lambda s: s["fsm_state"] == "LV_OFF", timeout=30)
                bad = f"{humidity_for(22.0, 20.0):.2f}".encode()  # margin 2 K: ACTION
                for _ in range(args.trials):
                    mark = p.mark()
                    p.publish("B/temp", b"22.0")
                    p.publish("B/humi", b"10.0")
                    p.wait_json("safety/status", lambda s: s["state"] == "OK", 15, mark)
                    p.wait_json("dcs/status", lambda s: s["fsm_state"] == "LV_OFF", 15)
                    assert p.command("dcs", "switch/lv", "on", timeout=15)["ok"]
                    p.wait_json("dcs/status", lambda s: s["fsm_state"] == "LV_ON", 15, mark)
                    reply = p.command("dcs", "switch/hv", "on", timeout=15)
                    assert reply["ok"], reply
                    p.wait_json("dcs/status", lambda s: s["fsm_state"] == "HV_ON", 15, mark)
                    time.sleep(0.05)
                    t0 = time.time()
                    p.publish("B/humi", bad)
                    deadline = time.monotonic() + 10
                    while not (puts := hv_off_puts(put_log, t0)):
                        if time.monotonic() > deadline:
                            raise SystemExit("no HV-off write within 10 s")
                        time.sleep(0.005)
                    latencies.append((puts[0] - t0) * 1000)
                    p.wait_json("dcs/status", lambda s: s["fsm_state"] == "LV_OFF", 15, mark)
        finally:
            procs.stop()
            broker.stop()
    latencies.sort()
    print(json.dumps({
        "benchmark": "interlock_latency",
        "trials": len(latencies),
        "median_ms": round(statistics.median(latencies), 1),
        "p99_ms": round(latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))], 1),
        "max_ms": round(latencies[-1], 1),
        "chain": "ESP float -> sensors -> safety -> dcs/cmd/safe_off -> CA put HV Pw=0",
    }))  # fmt: skip


if __name__ == "__main__":
    main()
