"""Recorder throughput into each historian, and a long downsampled query on SQLite.

1. Through a real Mosquitto: publish N points (messages of 10 numeric fields, every one
   changed, QoS 1) to a running `trackerdcs run recorder`; time from the first publish until
   the recorder reports every point written. Run for SQLite and for a real InfluxDB 1.x (if
   `influxd` exists). In the same run, on the same broker, the peer: a bare paho-mqtt
   subscriber process (benchmarks/paho_relay.py --count) receiving the same messages, timed
   from the first publish to the last message's arrival; `ratio` is the peer's time over the
   recorder's (1.0: the recorder stores as fast as a bare client can receive).
2. SQLite query: 100 series x 7 days at one point per minute written directly, then the
   downsampled query (1000 buckets of min/mean/max) for all 100 series.

Run: python benchmarks/recorder_throughput.py [--points 200000]
Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from trackerdcs.config import load_stand
from trackerdcs.storage.points import Point
from trackerdcs.storage.sqlite import SqliteHistorian
from trackerdcs.testing.influx import Influx
from trackerdcs.testing.mosquitto import Mosquitto
from trackerdcs.testing.probe import Probe

FIELDS = 10


def through_bus(tmp: Path, broker: Mosquitto, storage_yaml: str, points: int) -> dict:
    path = tmp / "stand.yaml"
    path.write_text(f"state_dir: {tmp / 'var'}\n" + broker.bus_yaml() + storage_yaml
                    + "recorder: {flush_interval: 0.2}\n")  # fmt: skip
    stand = load_stand(path)
    log = open(tmp / "recorder.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen([sys.executable, "-m", "trackerdcs", "run", "recorder", "-c",
                             str(path)], stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    messages = points // FIELDS
    done = tmp / "peer.done"
    relay = str(Path(__file__).with_name("paho_relay.py"))
    peer = subprocess.Popen([sys.executable, relay, broker.host, str(broker.port),
                             broker.username, str(broker.password_file), "bench/+/status",
                             "--count", str(messages), "--done", str(done),
                             "--ready", "peer/ready"])  # fmt: skip
    try:
        with Probe(stand.bus, subscribe=("recorder/#", "peer/ready")) as p:
            p.wait_for("recorder/online", lambda m: m.payload == b"true", timeout=30)
            p.wait_for("peer/ready", timeout=15)
            pub = subprocess.Popen([sys.executable, str(Path(__file__).with_name(
                "paho_publisher.py")), broker.host, str(broker.port), broker.username,
                str(broker.password_file), str(messages), "--fields", str(FIELDS)],
                stdout=subprocess.PIPE, text=True)  # fmt: skip
            deadline = time.monotonic() + 600
            while True:  # the recorder's progress, while the load is still arriving
                st = p.command("recorder", "flush", timeout=60)["result"]
                if st["written"] >= messages * FIELDS or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
            stored = time.time()
            out, _ = pub.communicate(timeout=600)
            sent = json.loads(out)
            wall0 = sent["start"]
            published = sent["acked"] - wall0
            elapsed = stored - wall0
            peer.wait(600)
            peer_elapsed = float(done.read_text()) - wall0
            return {"points": st["written"], "sent": messages * FIELDS,
                    "seconds": round(elapsed, 2), "points_per_s": round(st["written"] / elapsed),
                    "publish_seconds": round(published, 2),
                    "peer_seconds": round(peer_elapsed, 2),
                    "peer_points_per_s": round(messages * FIELDS / peer_elapsed),
                    "ratio": round(peer_elapsed / elapsed, 2)}  # fmt: skip
    finally:
        proc.terminate()
        proc.wait(30)
        if peer.poll() is None:
            peer.kill()


def sqlite_query(tmp: Path) -> dict:
    h = SqliteHistorian(tmp / "week.sqlite")
    t_end = 1_790_000_000.0 - (1_790_000_000.0 % 3600)
    t_start = t_end - 7 * 86400
    t0 = time.monotonic()
    for s in range(100):
        h.write([Point("bench", "v", float(i % 500), t_start + 60 * i, (("s", str(s)),))
                 for i in range(7 * 1440)])  # fmt: skip
    gen = time.monotonic() - t0
    t0 = time.monotonic()
    n = 0
    for s in range(100):
        n += len(h.buckets(f"bench,s={s}:v", t_start, t_end, 1000))
    q = time.monotonic() - t0
    h.close()
    return {"series": 100, "days": 7, "raw_points": 100 * 7 * 1440, "buckets_per_series": 1000,
            "buckets_returned": n, "query_seconds_all_series": round(q, 3),
            "generate_seconds": round(gen, 1)}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--points", type=int, default=200_000)
    args = ap.parse_args()
    out: dict = {"benchmark": "recorder_throughput", "fields_per_message": FIELDS}
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        broker = Mosquitto(tmp / "mosquitto").start()
        try:
            (tmp / "sqlite").mkdir()
            out["sqlite"] = through_bus(tmp / "sqlite", broker,
                                        "storage: {historian: 'sqlite:///h.sqlite'}\n",
                                        args.points)  # fmt: skip
            if Influx.available():
                db = Influx(tmp / "influx").start()
                db.export_password()
                try:
                    (tmp / "influxdb").mkdir()
                    storage = db.storage_yaml("bench")
                    out["influxdb"] = through_bus(tmp / "influxdb", broker, storage,
                                                  args.points)  # fmt: skip
                finally:
                    db.stop()
        finally:
            broker.stop()
        out["sqlite_7day_query"] = sqlite_query(tmp)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
