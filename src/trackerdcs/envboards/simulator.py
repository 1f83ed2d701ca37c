"""Simulated environment boards (`trackerdcs sim envboards`): plausible values for every
configured chip channel, slow drift plus noise, published as the boards do (plain floats).

Fault injection on `sim/envboards/<board>`: `{"silent": true}` stops the board,
`{"SCD30/co2": 5000}` overrides a channel (`null` removes it), `{"SCD30/co2": "nan"}` makes
it print `nan` as a broken chip does.
"""

from __future__ import annotations

import json
import logging
import math
import random
import threading
import time
import uuid
from typing import Any

from trackerdcs.config.model import StandBase
from trackerdcs.core.blocking import BlockingBus
from trackerdcs.core.bus import Message
from trackerdcs.envboards.config import Board, EnvBoardsConfig

log = logging.getLogger("trackerdcs.sim.envboards")

TYPICAL = {"BME/temp": 22.0, "BME/humi": 40.0, "BME/dew": 7.8, "DS/temp": 21.5,
           "SCD30/co2": 650.0, "SCD30/temp": 22.3, "SCD30/humi": 39.0, "CCS/co2": 700.0,
           "CCS/tvoc": 60.0}  # fmt: skip


class BoardSim:
    def __init__(self, cfg: Board):
        self.cfg = cfg
        self.silent = False
        self.overrides: dict[str, Any] = {}

    def value(self, channel: str, t: float, noise: float) -> str:
        if channel in self.overrides:
            return str(self.overrides[channel])
        base = TYPICAL[channel] * (1 + 0.02 * math.sin(t / 900))
        return f"{base * (1 + random.gauss(0, noise)):.2f}"


class EnvBoardsSimulator:
    def __init__(self, stand: StandBase):
        self.cfg: EnvBoardsConfig = stand.section("envboards")
        self.boards = {b.name: BoardSim(b) for b in self.cfg.boards}
        self.bus = BlockingBus(stand.bus, client_id=f"sim-envboards-{uuid.uuid4().hex[:6]}")
        self.stop = threading.Event()

    def _on_fault(self, msg: Message) -> None:
        sim = self.boards.get(msg.topic.rsplit("/", 1)[-1])
        try:
            data = json.loads(msg.payload)
        except ValueError:
            data = None
        if sim is None or not isinstance(data, dict):
            log.warning("fault injection %s: want a known board and a JSON object", msg.topic)
            return
        sim.silent = bool(data.pop("silent", sim.silent))
        for channel, value in data.items():
            if value is None:
                sim.overrides.pop(channel, None)
            else:
                sim.overrides[channel] = value
        log.info("fault injection on %s: %s", sim.cfg.name, data)
        self.emit(sim, time.time())

    def emit(self, sim: BoardSim, t: float) -> None:
        if sim.silent:
            return
        for channel in sim.cfg.channels:
            value = sim.value(channel, t, self.cfg.sim.noise)
            self.bus.publish(sim.cfg.topic(channel), value.encode())

    def run(self) -> None:
        self.bus.subscribe("sim/envboards/+", self._on_fault)
        self.bus.start(wait=None)
        log.info("simulating %d boards every %g s", len(self.boards), self.cfg.sim.period)
        while not self.stop.wait(self.cfg.sim.period):
            for sim in self.boards.values():
                self.emit(sim, time.time())
        self.bus.stop()
