"""The Julabo service as a real process against the simulator over TCP, a pty or RFC 2217."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from trackerdcs.config import Stand
from trackerdcs.julabo.testing import Proc, bridge, sim_pty, sim_tcp
from trackerdcs.testing.mosquitto import free_port
from trackerdcs.testing.probe import Probe

# time_scale speeds up the bath physics so that a setpoint change shows within seconds
JULABO_SECTION = """
julabo:
  port: {port}
  sim_tcp: 127.0.0.1:{tcp}
  poll: 0.3
  write_spacing: 0.05
  timeout: 0.5
  reconnect_max: 1.0
  setpoint_min: -30
  setpoint_max: 30
  sim: {{time_scale: 200, tau: 60, max_cooling: 20, max_heating: 20, response_delay: 0.01}}
"""


@dataclass
class JulaboStand:
    path: Path
    stand: Stand
    probe: Probe
    sim: Proc
    service: subprocess.Popen[bytes]
    restart_sim: Callable[[], Proc]
    extra: list[Proc] = field(default_factory=list)

    def status(self, pred: Callable[[dict], bool], timeout: float = 15.0, since: int = 0):
        return self.probe.wait_json("julabo/status", pred, timeout, since)


@pytest.fixture
def julabo(write_stand, own_mosquitto, tmp_path: Path) -> Iterator[Callable[..., JulaboStand]]:
    started: list[JulaboStand] = []

    def start(transport: str, extra: str = "") -> JulaboStand:
        """`extra`: more stand-file text, after the julabo section."""
        tcp = free_port()
        link = tmp_path / "ttyJULABO"
        if transport == "tcp":
            url = f"socket://127.0.0.1:{tcp}"
        elif transport == "pty":
            url = str(link)
        else:  # the pty shared by the RFC 2217 bridge, as a remote DCS would see it
            bport = free_port()
            url = f"rfc2217://127.0.0.1:{bport}"
        # a broker per test: retained state of one test must not satisfy the next one's waits
        path, stand = write_stand(
            JULABO_SECTION.format(port=url, tcp=tcp) + extra, broker=own_mosquitto
        )
        assert stand.julabo is not None
        log = tmp_path / "sim.log"

        def run_sim() -> Proc:
            if transport == "tcp":
                return sim_tcp(path, "127.0.0.1", tcp, log)
            return sim_pty(path, link, log)

        sim = run_sim()
        extra: list[Proc] = []
        if transport == "rfc2217":
            extra.append(bridge(link, bport, tmp_path / "bridge.log"))
        probe = Probe(stand.bus).__enter__()
        service = subprocess.Popen(
            [sys.executable, "-m", "trackerdcs", "run", "julabo", "--config", str(path)],
            stdout=open(tmp_path / "service.log", "wb"),  # noqa: SIM115
            stderr=subprocess.STDOUT,
        )
        js = JulaboStand(path, stand, probe, sim, service, run_sim, extra)
        started.append(js)
        js.status(lambda s: s["fsm_state"] == "OFF", timeout=20)
        return js

    yield start
    for js in started:
        if js.service.poll() is None:
            js.service.terminate()
        try:
            js.service.wait(10)
        except subprocess.TimeoutExpired:
            js.service.kill()
        for p in [*js.extra, js.sim]:
            p.stop()
        js.probe.__exit__()
