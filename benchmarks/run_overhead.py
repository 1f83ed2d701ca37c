"""What trackerdcs adds around a Ph2_ACF run.

1. start latency: `runs/cmd/start` published on Mosquitto → the Ph2_ACF program starts
   (a wrapper script writes `date +%s.%N` before exec'ing the simulated runCalibration);
2. end latency: the program exits (the wrapper writes the time after it) → the run's
   document is stored and `runs/run/<N>` published, with `runs.settle: 0` (the default 2 s
   settle, waiting for late readings, is a choice, not overhead) — on a 40-module stand;
3. the conditions query alone over a 2-hour window of a 40-module stand (160 module series
   + sensors + chiller + margin at 1 Hz, about 1.3 M points), on SQLite and InfluxDB.

Run: python benchmarks/run_overhead.py [--runs 10]   Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from trackerdcs.caen.testing import channel_map_yaml
from trackerdcs.config import load_stand
from trackerdcs.power.modules import SideReadings
from trackerdcs.runs.conditions import snapshot
from trackerdcs.storage.historian import open_historian
from trackerdcs.storage.points import Point
from trackerdcs.testing.influx import Influx
from trackerdcs.testing.mosquitto import Mosquitto, free_port
from trackerdcs.testing.probe import Probe
from trackerdcs.testing.processes import StandProcesses

MODULES = 40


def stand_body(prefix: str, wrapper: Path) -> str:
    lines = ["caen:", "  simulate: true", f"  prefix: {prefix}", f"  ca_server_port: {free_port()}",
             "  global: {lv: {V0Set: 10.5, I0Set: 3.0}, hv: {V0Set: 50.0, I0Set: 10.0}}",
             "  channels:", channel_map_yaml(MODULES)]  # fmt: skip
    lines += [
        "sensors:", "  simulate: true", "  sim: {period: 1.0, noise: 0.0}", "  sensors:",
        f"    - {{name: box, kind: coldbox, temp_topic: {prefix}/b/t, humi_topic: {prefix}/b/h}}",
        "safety: {chiller: {enabled: false}, services: {required: []}}",
        "recorder: {flush_interval: 0.2}",
        f"ph2acf: {{hw_config: hw.xml, command: ['{wrapper}'], sim: {{steps: 2, "
        "step_seconds: 0.5}}",
        "runs: {settle: 0, stable: {for_s: 0}}",
    ]  # fmt: skip
    return "\n".join(lines) + "\n"


def run_latency(tmp: Path, runs: int) -> dict[str, object]:
    broker = Mosquitto(tmp / "mosquitto").start()
    marks = tmp / "marks.txt"
    wrapper = tmp / "runCalibration"
    path = tmp / "stand.yaml"
    wrapper.write_text(
        "#!/bin/sh\n"
        f"echo start $(date +%s.%N) >> {marks}\n"
        f'{sys.executable} -m trackerdcs.ph2acf.simulator --stand {path} batch "$@"\n'
        "rc=$?\n"
        f"echo end $(date +%s.%N) >> {marks}\n"
        "exit $rc\n"
    )
    wrapper.chmod(0o755)
    (tmp / "hw.xml").write_text("<HwDescription/>\n")
    storage = f"storage: {{historian: 'sqlite:///{tmp / 'h.sqlite'}'}}\n"
    path.write_text(f"state_dir: {tmp / 'var'}\n" + broker.bus_yaml() + storage
                    + stand_body(f"o{uuid.uuid4().hex[:4]}", wrapper))  # fmt: skip
    stand = load_stand(path)
    procs = StandProcesses(path, stand, tmp)
    starts, ends = [], []
    try:
        procs.start(*procs.specs)
        with Probe(stand.bus) as p:
            p.wait_json("dcs/status", lambda s: s["fsm_state"] == "LV_OFF", 60)
            p.wait_json("safety/status", lambda s: s["state"] == "OK", 30)
            assert p.command("dcs", "switch/lv", "on", timeout=20)["ok"]
            p.wait_json("dcs/status", lambda s: s["fsm_state"] == "LV_ON", 30)
            deadline = time.monotonic() + 60
            while not p.command("runs", "check", {"calibration": "calibration"},
                                timeout=20)["result"]["ready"]:  # fmt: skip
                assert time.monotonic() < deadline, "the stand never got ready"
                time.sleep(0.5)  # LV ramping up
            for _ in range(runs):
                marks.write_text("")
                t0 = time.time()
                reply = p.command("runs", "start", {"calibration": "calibration"}, timeout=30)
                assert reply["ok"], reply
                rid = reply["result"]["id"]
                msg = p.wait_for(f"runs/run/{rid}", timeout=60)
                got = msg.received
                m = dict(line.split() for line in marks.read_text().splitlines())
                starts.append(float(m["start"]) - t0)
                ends.append(got - float(m["end"]))
                assert json.loads(msg.payload)["status"] == "done", msg.payload
    finally:
        procs.stop()
        broker.stop()

    def stats(xs: list[float]) -> dict[str, float]:
        return {"median_ms": round(statistics.median(xs) * 1000, 1),
                "max_ms": round(max(xs) * 1000, 1)}  # fmt: skip

    return {"runs": runs, "modules": MODULES, "start_to_process": stats(starts),
            "process_end_to_document": stats(ends)}  # fmt: skip


def fill(stand_path: Path, hours: float = 2.0) -> tuple[float, float, int]:
    stand = load_stand(stand_path)
    h = open_historian(stand)
    end = time.time() - 60
    start = end - hours * 3600
    n = 0
    try:
        batch: list[Point] = []
        for s in range(int(hours * 3600)):
            t = start + s
            for i in range(MODULES):
                tags = (("channel", str(i + 1)), ("module", f"M{i + 1:03d}"), ("service", "dcs"))
                for f, v in (("lv_vMon", 10.5), ("lv_iMon", 1.2), ("hv_vMon", 300.0),
                             ("hv_iMon", 2.0 + (s % 7) * 0.01)):  # fmt: skip
                    batch.append(Point("dcs.channel", f, v, t, tags))
            sensor = (("kind", "coldbox"), ("location", "box"), ("sensor", "box"))
            for f, v in (("temperature", -20.0), ("humidity", 3.0), ("dewpoint", -40.0)):
                batch.append(Point("sensors", f, v, t, sensor))
            batch.append(Point("julabo.status", "internal_temp", -25.0, t,
                               (("service", "julabo"),)))  # fmt: skip
            batch.append(Point("safety.status", "interlocks.dewpoint.value", 20.0, t,
                               (("service", "safety"),)))  # fmt: skip
            if len(batch) >= 20000:
                h.write(batch)
                n += len(batch)
                batch = []
        h.write(batch)
        n += len(batch)
    finally:
        h.close()
    return start, end, n


def conditions_query(tmp: Path, storage: str) -> dict[str, object]:
    path = tmp / "stand.yaml"
    path.write_text(f"state_dir: {tmp}\n" + storage)
    start, end, n = fill(path)
    h = open_historian(load_stand(path))
    try:
        t0 = time.monotonic()
        mods = frozenset(f"M{i + 1:03d}" for i in range(MODULES))
        sources = [SideReadings("dcs", side, f"{side}_vMon", f"{side}_iMon", unit, mods)
                   for side, unit in (("lv", "A"), ("hv", "µA"))]  # fmt: skip
        snap = snapshot(h, start, end, sources, {"julabo": ("internal_temp",)})
        seconds = time.monotonic() - t0
    finally:
        h.close()
    assert len(snap["modules"]) == MODULES, snap["modules"].keys()
    return {"points_in_window": n, "series": MODULES * 4 + 5, "seconds": round(seconds, 2)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=10)
    args = ap.parse_args()
    out: dict[str, object] = {"benchmark": "run_overhead"}
    with tempfile.TemporaryDirectory(prefix="trackerdcs-runs-") as d:
        tmp = Path(d)
        (tmp / "lat").mkdir()
        out["latency"] = run_latency(tmp / "lat", args.runs)
        (tmp / "sq").mkdir()
        out["conditions_2h_sqlite"] = conditions_query(
            tmp / "sq", f"storage: {{historian: 'sqlite:///{tmp / 'sq' / 'h.sqlite'}'}}\n"
        )
        if Influx.available():
            db = Influx(tmp / "influx").start()
            db.export_password()
            try:
                (tmp / "ix").mkdir()
                storage = db.storage_yaml("runs")
                out["conditions_2h_influxdb"] = conditions_query(tmp / "ix", storage)
            finally:
                db.stop()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
