"""A simulated CAEN IOC (real Channel Access) and the CAEN service as real processes."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from trackerdcs.caen.testing import SimIOC, ca_env
from trackerdcs.config import Stand
from trackerdcs.testing.mosquitto import free_port
from trackerdcs.testing.probe import Probe

# libca reads its environment once per process: one CA port for this whole test session
CA_PORT = free_port()
os.environ.update(
    {"EPICS_CA_ADDR_LIST": "127.0.0.1", "EPICS_CA_AUTO_ADDR_LIST": "NO",
     "EPICS_CA_SERVER_PORT": str(CA_PORT)}
)  # fmt: skip

CAEN_SECTION = """
caen:
  prefix: {prefix}
  ca_server_port: {port}
  poll: 0.1
  heartbeat: 2
  hv_off_timeout: {hv_off_timeout}
  watchdog: {{timeout: {watchdog}}}
  global:
    lv: {{V0Set: 10.5, I0Set: 3.0, Trip: 0.5, RUpTime: 0.5, RDwTime: 0.5}}
    hv: {{V0Set: 60.0, I0Set: 10.0, RUp: 60.0, RDWn: {rdwn}, Trip: 0.5, PDwn: Kill}}
    limits: {{hv_vmax: 800, lv_vmax: 12.5}}
  channels:
    1: {{module: M1, lv: {{board: 0, chan: 0}}, hv: {{board: 12, chan: 0}}}}
    2: {{module: M2, lv: {{board: 0, chan: 1}}, hv: {{board: 12, chan: 1}}}}
    3: {{lv: {{board: 0, chan: 2}}, hv: {{board: 12, chan: 2}}}}
  sim: {{breakdown: {breakdown}}}
"""


@dataclass
class CaenStand:
    path: Path
    stand: Stand
    ioc: SimIOC
    service: subprocess.Popen[bytes]
    probe: Probe
    put_log: Path
    prefix: str

    def pv(self, board: int, chan: int, param: str) -> str:
        return f"{self.prefix}:{board:02d}:{chan:03d}:{param}"

    def caput(self, name: str, value: object) -> None:
        import epics

        assert epics.caput(name, value, wait=True, timeout=5) == 1, name

    def channel(self, cid: int, state: str, timeout: float = 15.0, since: int = 0) -> dict:
        return self.probe.wait_json(
            f"dcs/channel/{cid}", lambda c: c["fsm_state"] == state, timeout, since
        )

    def puts(self) -> list[dict]:
        import json

        return [json.loads(line) for line in self.put_log.read_text().splitlines()]


@pytest.fixture
def caen(write_stand, own_mosquitto, tmp_path: Path) -> Iterator[Callable[..., CaenStand]]:
    started: list[CaenStand] = []

    def start(
        watchdog: str = "null",
        rdwn: float = 120.0,
        hv_off_timeout: float = 120.0,
        breakdown: str = "{}",
    ) -> CaenStand:
        prefix = f"t{uuid.uuid4().hex[:6]}"
        body = CAEN_SECTION.format(
            prefix=prefix,
            port=CA_PORT,
            watchdog=watchdog,
            rdwn=rdwn,
            hv_off_timeout=hv_off_timeout,
            breakdown=breakdown,
        )
        # a broker per test: retained state of one test must not satisfy the next one's waits
        path, stand = write_stand(body, broker=own_mosquitto)
        assert stand.caen is not None
        put_log = tmp_path / f"{prefix}-puts.jsonl"
        ioc = SimIOC(path, stand.caen, tmp_path / f"{prefix}-ioc.log", put_log).start()
        probe = Probe(stand.bus).__enter__()
        service = subprocess.Popen(
            [sys.executable, "-m", "trackerdcs", "run", "caen", "--config", str(path)],
            stdout=open(tmp_path / f"{prefix}-service.log", "wb"),  # noqa: SIM115
            stderr=subprocess.STDOUT,
            env={**os.environ, **ca_env(stand.caen)},
        )
        cs = CaenStand(path, stand, ioc, service, probe, put_log, prefix)
        started.append(cs)
        probe.wait_json("dcs/status", lambda s: s["fsm_state"] == "LV_OFF", timeout=20)
        return cs

    yield start
    for cs in started:
        if cs.service.poll() is None:
            cs.service.terminate()
        try:
            cs.service.wait(10)
        except subprocess.TimeoutExpired:
            cs.service.kill()
            cs.service.wait(5)
        cs.ioc.stop()
        cs.probe.__exit__()
