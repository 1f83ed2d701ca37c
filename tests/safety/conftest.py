"""A small simulated stand on a real Mosquitto: CAEN mainframe + service, simulated sensors,
sensors service and the safety service, each a real process the test can kill."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from trackerdcs.config import Stand
from trackerdcs.testing.mosquitto import free_port
from trackerdcs.testing.probe import Probe
from trackerdcs.testing.processes import StandProcesses

# thresholds are small and the ramps fast so that each scenario takes seconds
STAND = """
caen:
  simulate: true
  prefix: {prefix}
  ca_server_port: {ca_port}
  poll: 0.1
  heartbeat: 1
  watchdog: {{timeout: 4}}
  global:
    lv: {{V0Set: 10.5, I0Set: 3.0}}
    hv: {{V0Set: 40.0, I0Set: 10.0, RUp: 100.0, RDWn: 100.0, PDwn: Ramp}}
  channels:
    1: {{module: M1, lv: {{board: 0, chan: 0}}, hv: {{board: 12, chan: 0}}}}
    2: {{module: M2, lv: {{board: 0, chan: 1}}, hv: {{board: 12, chan: 1}}}}
  sim: {{put_log: {put_log}}}
sensors:
  simulate: true
  sim: {{period: 0.3, noise: 0.0, room: {{temperature: 22.0, humidity: 40.0, drift: 0.0}}}}
  sensors:
    - {{name: box, kind: coldbox, temp_topic: T{prefix}/sensors/BME/temp,
       humi_topic: T{prefix}/sensors/BME/humi}}
safety:
  heartbeat_period: 0.3
  dewpoint: {{warning: 5, action: 3, hysteresis: 1}}
  stale: {{warning: 2, action: 4}}
  chiller: {{enabled: false}}
  services: {{required: []}}
"""


@dataclass
class SafetyStand:
    path: Path
    stand: Stand
    procs: StandProcesses
    probe: Probe
    put_log: Path

    def puts(self) -> list[dict]:
        if not self.put_log.exists():
            return []
        return [json.loads(line) for line in self.put_log.read_text().splitlines()]

    def cmd(self, service: str, name: str, payload: object = None) -> dict:
        return self.probe.command(service, name, payload, timeout=15)

    def caen_state(self, state: str, timeout: float = 20.0, since: int = 0) -> dict:
        return self.probe.wait_json("dcs/status", lambda s: s["fsm_state"] == state, timeout,
                                    since)  # fmt: skip

    def safety(self, pred, timeout: float = 15.0, since: int = 0) -> dict:
        return self.probe.wait_json("safety/status", pred, timeout, since)

    def set_sensor(self, **values: object) -> None:
        self.probe.publish("sim/sensors/box", values)

    def power_up(self) -> None:
        assert self.cmd("dcs", "switch/lv", "on")["ok"]
        self.caen_state("LV_ON")
        reply = self.cmd("dcs", "switch/hv", "on")
        assert reply["ok"], reply
        self.caen_state("HV_ON")


@contextmanager
def open_safety_stand(write_stand, broker, tmp_path: Path, extra: str = "",
                      also: tuple[str, ...] = ()) -> Iterator[SafetyStand]:  # fmt: skip
    """The stand above (plus `extra` sections and the processes `also` names), running."""
    prefix = f"s{uuid.uuid4().hex[:6]}"
    put_log = tmp_path / "puts.jsonl"
    body = STAND.format(prefix=prefix, ca_port=free_port(), put_log=put_log) + extra
    path, stand = write_stand(body, broker=broker)
    procs = StandProcesses(path, stand, tmp_path)
    probe = Probe(stand.bus).__enter__()
    try:
        procs.start(*also, "sim-caen", "sim-sensors", "safety", "sensors", "caen")
        probe.wait_json("dcs/status", lambda s: s["fsm_state"] == "LV_OFF", timeout=30)
        probe.wait_json("safety/status", lambda s: s["state"] == "OK", timeout=20)
        yield SafetyStand(path, stand, procs, probe, put_log)
    finally:
        procs.stop()
        probe.__exit__()


@pytest.fixture
def safety_stand(write_stand, own_mosquitto, tmp_path: Path) -> Iterator[SafetyStand]:
    # a broker per test: retained state of one test must not satisfy the next one's waits
    with open_safety_stand(write_stand, own_mosquitto, tmp_path) as st:
        yield st
