"""Interlock latency: from the offending sensor message on the bus to the HV-off write.

The chain is the real one: an ESP32-style humidity float on Mosquitto -> sensors service
(dew point) -> safety service (margin rule, ACTION) -> `dcs/cmd/safe_off` -> CAEN service
-> Channel Access put of `Pw = 0` on the caproto mainframe, whose put log time-stamps it.
Both clocks are this machine's `time.time()`.

In the same run, the peer it competes with: three bare paho-mqtt relay processes on the
same broker (benchmarks/paho_relay.py: float -> relay -> relay -> relay, the same number of
bus hops), timed from the publish to the last relay's arrival.

Run: python benchmarks/interlock_latency.py [--trials 200]
Prints JSON: trials, median/p99/max latency in ms for trackerdcs and the peer, and the ratios.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from trackerdcs.config import load_stand
from trackerdcs.sensors.dewpoint import humidity_for
from trackerdcs.testing.mosquitto import Mosquitto, free_port
from trackerdcs.testing.probe import Probe
from trackerdcs.testing.processes import StandProcesses, stop_process

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


def stats(latencies: list[float]) -> dict[str, float]:
    xs = sorted(latencies)
    return {
        "median_ms": round(statistics.median(xs), 2),
        "p99_ms": round(xs[min(len(xs) - 1, int(0.99 * len(xs)))], 2),
        "max_ms": round(xs[-1], 2),
    }


def relay_chain(broker: Mosquitto, tmp: Path, trials: int) -> list[float]:
    """The peer: three paho relays, timed from the publish to the third one's arrival."""
    log = tmp / "relay.log"
    log.write_text("")
    base = [sys.executable, str(Path(__file__).with_name("paho_relay.py")), broker.host,
            str(broker.port), broker.username, str(broker.password_file)]  # fmt: skip
    hops = [["R/0", "--to", "R/1"], ["R/1", "--to", "R/2"], ["R/2", "--log", str(log)]]
    relays = [subprocess.Popen(base + hop) for hop in hops]
    out: list[float] = []
    try:
        with Probe(broker.bus_config()) as p:
            for topic in ("R/0", "R/1", "R/2"):
                p.wait_for(f"{topic}/ready", timeout=15)
            for _ in range(trials):
                seen = len(log.read_text().splitlines())
                time.sleep(0.05)
                t0 = time.time()
                p.publish("R/0", b"55.0")
                deadline = time.monotonic() + 10
                while len(lines := log.read_text().splitlines()) <= seen:
                    if time.monotonic() > deadline:
                        raise SystemExit("the relay chain did not deliver within 10 s")
                    time.sleep(0.002)
                out.append((float(lines[seen]) - t0) * 1000)
    finally:
        for r in relays:
            stop_process(r)
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
                    reply = p.command("dcs", "switch/lv", "on", timeout=15)
                    assert reply["ok"], reply
                    p.wait_json("dcs/status", lambda s: s["fsm_state"] == "LV_ON", 15, mark)
                    reply = p.command("dcs", "switch/hv", "on", timeout=15)
                    assert reply["ok"], reply
                    p.wait_json("dcs/status", lambda s: s["fsm_state"] == "HV_ON", 15, mark)
                    time.sleep(0.05)
                    fired = p.mark()
                    t0 = time.time()
                    p.publish("B/humi", bad)
                    deadline = time.monotonic() + 10
                    while not (puts := hv_off_puts(put_log, t0)):
                        if time.monotonic() > deadline:
                            raise SystemExit("no HV-off write within 10 s")
                        time.sleep(0.005)
                    latencies.append((puts[0] - t0) * 1000)
                    # the safe-off is over (not only LV read back off) before the next trial
                    try:
                        p.wait_json("dcs/status", lambda s: s["fsm_state"] == "LV_OFF"
                                    and not s["sequence"], 15, fired)  # fmt: skip
                    except TimeoutError:
                        for m in p.messages[fired:]:
                            if m.topic.startswith(
                                ("dcs/status", "dcs/reply", "dcs/cmd", "safety/status")
                            ):
                                print(round(m.received - t0, 3), m.topic, m.text[:150])
                        raise
            peer = relay_chain(broker, tmp, args.trials)
        finally:
            procs.stop()
            broker.stop()
    ours, theirs = stats(latencies), stats(peer)
    print(json.dumps({
        "benchmark": "interlock_latency",
        "trials": len(latencies),
        "trackerdcs": ours,
        "paho_relays": theirs,
        "ratio_median": round(ours["median_ms"] / theirs["median_ms"], 1),
        "ratio_p99": round(ours["p99_ms"] / theirs["p99_ms"], 1),
        "chain": "ESP float -> sensors -> safety -> dcs/cmd/safe_off -> CA put HV Pw=0",
        "peer": "float -> paho relay -> paho relay -> paho relay (same broker, 3 hops)",
    }))  # fmt: skip


if __name__ == "__main__":
    main()
