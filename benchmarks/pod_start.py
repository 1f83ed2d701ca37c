"""The production pod: image build time and sizes, and how long the pod takes to start.

Cold start: `trackerdcs deploy up` on empty volumes (InfluxDB makes its users and database,
Node-RED copies its flows). Warm start: `deploy down` then `deploy up` again, the volumes
kept. For each: the seconds until `deploy up` returns (the pod is created and started),
until every trackerdcs service says `online` on the pod's broker (read from the host over
TLS as `operator`), and until the Node-RED panel answers. The stand is the demo's (simulated
CAEN, Julabo, sensors) with Node-RED, without Grafana (no registry here) and without
Ph2_ACF.

Run (as root, podman configured as in PROTOCOLS.md §10):
    python benchmarks/pod_start.py [--build] [--runs 2]
`--build` rebuilds the images first and times it (the Debian base is reused if present).
Prints JSON.
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

import httpx
import yaml

from trackerdcs.config import load_stand
from trackerdcs.deploy.images import BASE, IMAGES, image_size, ref
from trackerdcs.testing.demo import demo_file
from trackerdcs.testing.mosquitto import free_port
from trackerdcs.testing.probe import Probe

SERVICES = ("dcs", "julabo", "sensors", "safety", "recorder", "web")


def trackerdcs(*args: str, timeout: float = 1800) -> None:
    r = subprocess.run([sys.executable, "-m", "trackerdcs", *args], capture_output=True,
                       text=True, timeout=timeout)  # fmt: skip
    if r.returncode != 0:
        raise SystemExit(f"trackerdcs {' '.join(args)} -> {r.returncode}\n{r.stdout}{r.stderr}")


def stand(folder: Path) -> Path:
    data = yaml.safe_load(demo_file().read_text())
    for gone in ("ph2acf", "runs"):
        data.pop(gone, None)
    data["deploy"] = {
        "pod": f"bench-{uuid.uuid4().hex[:6]}", "bind": "127.0.0.1", "grafana": False,
        "ports": {k: free_port() for k in ("mqtt", "web", "influxdb", "grafana", "nodered")},
    }  # fmt: skip
    path = folder / "stand.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def start(path: Path, timeout: float = 180) -> dict[str, float]:
    """`deploy up`, then wait for every service and the panel; seconds from the start."""
    t0 = time.monotonic()
    trackerdcs("deploy", "up", "-c", str(path), timeout=timeout)
    out = {"up_returned_s": time.monotonic() - t0}
    host = load_stand(path.parent / "production" / "host.yaml")
    with Probe(host.bus, subscribe=tuple(f"{s}/online" for s in SERVICES)) as p:
        for svc in SERVICES:
            p.wait_for(f"{svc}/online", lambda m: m.text == "true", timeout=timeout)
    out["services_online_s"] = time.monotonic() - t0
    port = yaml.safe_load(path.read_text())["deploy"]["ports"]["nodered"]
    deadline = t0 + timeout
    while True:
        try:
            httpx.get(f"http://127.0.0.1:{port}/settings", timeout=5)
            break
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    out["nodered_answers_s"] = time.monotonic() - t0
    return {k: round(v, 2) for k, v in out.items()}


def volumes(pod: str) -> list[str]:
    r = subprocess.run(["podman", "volume", "ls", "-q", "--filter", f"name={pod}-"],
                       capture_output=True, text=True, timeout=60)  # fmt: skip
    return r.stdout.split()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", action="store_true", help="rebuild and time the images first")
    ap.add_argument("--runs", type=int, default=2, help="cold and warm starts, each")
    args = ap.parse_args()
    result: dict[str, object] = {"benchmark": "pod_start"}
    if args.build:
        t0 = time.monotonic()
        trackerdcs("deploy", "build")
        result["build_s"] = round(time.monotonic() - t0, 1)
    result["image_mb"] = {name: round(image_size(ref(name, "latest")) / 1e6)
                          for name in IMAGES} | {"base": round(image_size(BASE) / 1e6)}  # fmt: skip
    cold: list[dict[str, float]] = []
    warm: list[dict[str, float]] = []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="pod-start-") as tmp:
            path = stand(Path(tmp))
            pod = yaml.safe_load(path.read_text())["deploy"]["pod"]
            trackerdcs("secrets", "init", "-c", str(path))
            try:
                cold.append(start(path))
                trackerdcs("deploy", "down", "-c", str(path), timeout=300)
                warm.append(start(path))
            finally:
                trackerdcs("deploy", "down", "-c", str(path), timeout=300)
                subprocess.run(["podman", "volume", "rm", "-f", *volumes(pod)],
                               capture_output=True, timeout=120)  # fmt: skip
    for name, runs in (("cold", cold), ("warm", warm)):
        result[name] = {"runs": runs} | {
            f"median_{k}": statistics.median(r[k] for r in runs) for k in runs[0]
        }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
