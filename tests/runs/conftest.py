"""A stand for calibration runs: simulated CAEN mainframe and sensors, their services, safety,
the recorder (SQLite or a real InfluxDB), the simulated Ph2_ACF and the runs service, each a
real process on a real Mosquitto."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from trackerdcs.caen.testing import channel_map_yaml
from trackerdcs.config import Stand
from trackerdcs.testing.mosquitto import free_port
from trackerdcs.testing.probe import Probe
from trackerdcs.testing.processes import StandProcesses

STAND = """
caen:
  simulate: true
  prefix: {prefix}
  ca_server_port: {ca_port}
  heartbeat: 1
  watchdog: {{timeout: 6}}
  global:
    lv: {{V0Set: 10.5, I0Set: 3.0}}
    hv: {{V0Set: 40.0, I0Set: 100.0, RUp: 100.0, RDWn: 100.0, PDwn: Ramp}}
  sim: {{breakdown: {breakdown}, put_log: {puts}}}
  channels:
{channels}
sensors:
  simulate: true
  sim: {{period: 0.3, noise: 0.0, room: {{temperature: 22.0, humidity: 30.0, drift: 0.0}}}}
  sensors:
    - {{name: box, kind: coldbox, temp_topic: R{prefix}/sensors/BME/temp,
       humi_topic: R{prefix}/sensors/BME/humi}}
safety:
  heartbeat: 1
  heartbeat_period: 0.5
  dewpoint: {{warning: 5, action: 3, hysteresis: 1}}
  stale: {{warning: 5, action: 10}}
  chiller: {{enabled: false}}
  services: {{required: []}}
  notify: {notify}
recorder: {{flush_interval: 0.2}}
ph2acf:
  simulate: true
  hw_config: hw.xml
  mode: {mode}
  middleware: 127.0.0.1:{mw_port}
  reply_timeout: 5
  sim: {{steps: {steps}, step_seconds: {step_seconds}, fail: {fail}}}
runs:
  store: {store}
  calibrations:
    pedenoise: {{power: hv, bias: 40, bias_band: 3}}
  stable: {{band: 0.5, for_s: 2}}
"""


@dataclass
class RunStand:
    path: Path
    stand: Stand
    procs: StandProcesses
    probe: Probe
    puts: Path  # the simulated mainframe's log of every write it received

    def cmd(self, service: str, name: str, payload: object = None, timeout: float = 15) -> dict:
        return self.probe.command(service, name, payload, timeout=timeout)

    def caen_state(self, state: str, timeout: float = 20.0) -> dict:
        return self.probe.wait_json("dcs/status", lambda s: s["fsm_state"] == state, timeout,
                                    self.probe.mark())  # fmt: skip

    def lv_on(self) -> None:
        assert self.cmd("dcs", "switch/lv", "on")["ok"]
        self.probe.wait_json("dcs/status", lambda s: s["fsm_state"] == "LV_ON", 20)

    def run_doc(self, run_id: int, status: str | None = None, timeout: float = 60) -> dict:
        summary = self.probe.wait_json(
            f"runs/run/{run_id}", lambda d: status is None or d["status"] == status, timeout
        )
        assert summary["status"] == status or status is None, summary
        reply = self.cmd("runs", f"show/{run_id}")
        assert reply["ok"], reply
        return reply["result"]


@pytest.fixture
def run_stand(write_stand, own_mosquitto, tmp_path: Path) -> Iterator[Callable[..., RunStand]]:
    started: list[RunStand] = []

    def start(steps: int = 3, step_seconds: float = 0.3, store: str = "sqlite:///runs.sqlite",
              storage_yaml: str | None = None, mode: str = "batch",
              fail: str | None = None, breakdown: str = "{}",
              notify: str = "{}", modules: int = 2, extra: str = "") -> RunStand:  # fmt: skip
        """`storage_yaml`: the historian (default SQLite in the test's folder); `extra`:
        more sections (a cooling plant)."""
        storage_yaml = storage_yaml or (
            f"storage:\n  historian: sqlite:///{tmp_path / 'history.sqlite'}\n"
        )
        prefix = f"r{uuid.uuid4().hex[:6]}"
        (tmp_path / "hw.xml").write_text("<HwDescription><BeBoard Id='0'/></HwDescription>\n")
        body = storage_yaml + STAND.format(prefix=prefix, ca_port=free_port(), steps=steps,
                                           step_seconds=step_seconds, store=store, mode=mode,
                                           mw_port=free_port(), fail=fail or "null",
                                           breakdown=breakdown, notify=notify,
                                           channels=channel_map_yaml(modules, "PS_M{}", 12),
                                           puts=tmp_path / "puts.jsonl")  # fmt: skip
        body += extra
        path, stand = write_stand(body, broker=own_mosquitto)
        procs = StandProcesses(path, stand, tmp_path)
        probe = Probe(stand.bus).__enter__()
        rs = RunStand(path, stand, procs, probe, tmp_path / "puts.jsonl")
        started.append(rs)
        procs.start(*procs.specs)
        probe.wait_json("dcs/status", lambda s: s["fsm_state"] == "LV_OFF", timeout=30)
        probe.wait_json("safety/status", lambda s: s["state"] == "OK", timeout=20)
        probe.wait_for("runs/online", lambda m: m.text == "true", timeout=20)
        probe.wait_for("recorder/online", lambda m: m.text == "true", timeout=20)
        return rs

    yield start
    for rs in started:
        rs.procs.stop()
        rs.probe.__exit__()
