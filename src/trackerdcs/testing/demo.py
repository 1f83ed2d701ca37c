"""Run the demo stand on free ports, for tests and benchmarks that need a whole stand."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from trackerdcs.cli.stand import demo_file
from trackerdcs.config.bus import BusConfig
from trackerdcs.core.registry import families, load
from trackerdcs.testing.mosquitto import free_port

DEMO_SERVICES = ("dcs", "julabo", "sensors", "safety", "recorder", "runs", "web", "supervisor")


def demo_copy(dest: Path, modules: int | None = None, source: Path | None = None) -> Path:
    """A copy of the demo stand file (or of `source`, a simulated stand) with every port
    moved to a free one."""
    data = yaml.safe_load((source or demo_file()).read_text())
    data["bus"]["port"] = free_port()
    for name, fam in families().items():
        if fam.relocate and data.get(name):
            load(fam.relocate)(data[name], free_port, modules=modules)
    if "web" in data:
        data["web"]["port"] = free_port()
    dest.mkdir(parents=True, exist_ok=True)
    for extra in demo_file().parent.glob("*.xml"):  # files the stand names beside it
        (dest / extra.name).write_bytes(extra.read_bytes())
    (dest / "recipes").mkdir(exist_ok=True)
    for recipe in (demo_file().parent / "recipes").glob("*.yaml"):
        (dest / "recipes" / recipe.name).write_bytes(recipe.read_bytes())
    path = dest / "demo.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@contextmanager
def running_demo(config: Path, state_dir: Path | None, log: Path,
                 time_scale: float | None = None) -> Iterator[subprocess.Popen[bytes]]:  # fmt: skip
    """`trackerdcs demo --config ...` as a real process; stopped with Ctrl-C (SIGINT) after.
    `state_dir` None: the stand file's own."""
    scale = ["--time-scale", str(time_scale)] if time_scale is not None else []
    state = ["--state-dir", str(state_dir)] if state_dir is not None else []
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "trackerdcs",
                "demo",
                "--config",
                str(config),
                *state,
                *scale,
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        try:
            yield proc
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


def demo_bus(config: Path) -> BusConfig:
    data = yaml.safe_load(config.read_text())
    return BusConfig(host=data["bus"]["host"], port=data["bus"]["port"])


def wait_online(cfg: BusConfig, services: tuple[str, ...], timeout: float) -> dict[str, bool]:
    """Poll retained `<svc>/online` until all are true or timeout; returns the last view. The
    broker may not listen yet (a demo's embedded broker took 8 s to import and bind on a
    loaded machine, past a probe's 10 s connect): connecting is retried within `timeout`."""
    from trackerdcs.testing.probe import Probe

    deadline = time.monotonic() + timeout
    view: dict[str, bool] = {}
    while time.monotonic() < deadline:
        try:
            with Probe(cfg, subscribe=("+/online",)) as probe:
                while time.monotonic() < deadline:
                    view = {
                        s: (
                            probe.latest.get(f"{s}/online") is not None
                            and probe.latest[f"{s}/online"].text == "true"
                        )
                        for s in services
                    }
                    if all(view.values()):
                        return view
                    time.sleep(0.1)
        except TimeoutError:
            continue  # the probe's own 10 s connect: the broker is not there yet
    return view


def start_sequence(port: int, recipe: str, user: str = "operator") -> int:
    """`trackerdcs sequence start RECIPE` as the operator types it; the new sequence's id."""
    out = subprocess.run([sys.executable, "-m", "trackerdcs", "sequence", "--port", str(port),
                          "--user", user, "start", recipe],
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    assert out.returncode == 0, out.stderr
    return int(out.stdout.split()[1])


def sequence_end(p: Any, seq: int, timeout: float) -> tuple[dict[str, Any], dict[str, Any], str]:
    """(final status, whole document, a step table for messages) once sequence `seq` ended."""
    final = p.wait_json("runs/sequence", lambda s: s["id"] == seq
                        and s["state"] in ("done", "failed", "aborted"), timeout)  # fmt: skip
    doc = p.command("runs", f"show/{seq}", timeout=10)["result"]
    table = "\n".join(f"{s['index'] + 1} {s['cycle']} {s['label']}: {s['status']} "
                      f"{s['reason']}" for s in doc["steps"])  # fmt: skip
    return final, doc, table
