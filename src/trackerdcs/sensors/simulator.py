"""The simulated sensor set (`trackerdcs sim sensors`): ESP32-style plain floats on the
configured topics. Ambient sensors drift slowly around the room values; cold-box sensors
follow the chiller's bath temperature (from `julabo/status`) with a first-order lag.

Fault injection for tests and demos, on `sim/sensors/<name>`: `{"humidity": 70}` or
`{"temperature": 30}` overrides a value (`null` removes the override), `{"silent": true}`
stops that sensor publishing, as a board that hangs would.
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

from trackerdcs.config.model import Stand
from trackerdcs.core import contracts, peers
from trackerdcs.core.blocking import BlockingBus
from trackerdcs.core.bus import Message
from trackerdcs.sensors.config import SensorConfig

log = logging.getLogger("trackerdcs.sim.sensors")


class SimSensor:
    def __init__(self, cfg: SensorConfig, temperature: float, humidity: float):
        self.cfg = cfg
        self.temperature = temperature
        self.humidity = humidity
        self.overrides: dict[str, float] = {}
        self.silent = False
        self.phase = random.uniform(0, 2 * math.pi)


class SensorSimulator:
    def __init__(self, stand: Stand):
        assert stand.sensors is not None
        self.cfg = stand.sensors
        room = self.cfg.sim.room
        self.sensors = {s.name: SimSensor(s, room.temperature,
                                          room.humidity if s.kind == "ambient"
                                          else self.cfg.sim.coldbox_humidity)
                        for s in self.cfg.sensors}  # fmt: skip
        self.chiller_temp: float | None = None
        cooling = peers.cooling_contracts(stand)
        first = next(iter(cooling.items()), None)
        self.chiller_topic = self.cfg.sim.chiller_topic or (f"{first[0]}/status" if first else None)
        # the cold box follows the cooling's first cold surface (a Julabo bath, MARTA's supply)
        self.chiller_field = next(iter(first[1].surfaces)) if first else "internal_temp"
        self.bus = BlockingBus(
            stand.bus, service=None, client_id=f"sim-sensors-{uuid.uuid4().hex[:6]}"
        )
        self.stop = threading.Event()

    def _on_chiller(self, msg: Message) -> None:
        status = contracts.parse(contracts.ChillerStatus, msg.payload)
        if status is not None and (t := status.number(self.chiller_field)) is not None:
            self.chiller_temp = t

    def _on_fault(self, msg: Message) -> None:
        s = self.sensors.get(msg.topic.rsplit("/", 1)[-1])
        try:
            data: dict[str, Any] = json.loads(msg.payload)
        except ValueError:
            log.warning("fault injection %s: not JSON", msg.topic)
            return
        if s is None or not isinstance(data, dict):
            return
        if "silent" in data:
            s.silent = bool(data["silent"])
        for key in ("temperature", "humidity"):
            if key in data:
                if data[key] is None:
                    s.overrides.pop(key, None)
                else:
                    s.overrides[key] = float(data[key])
                    # publish an override at once: tests time the reaction to this message
                    self._emit(s)
        log.info("fault injection on %s: %s", s.cfg.name, data)

    def step(self, dt: float, t: float) -> None:
        sim = self.cfg.sim
        for s in self.sensors.values():
            if s.cfg.kind == "ambient":
                s.temperature = sim.room.temperature + sim.room.drift * math.sin(t / 600 + s.phase)
                s.humidity = sim.room.humidity + 5 * sim.room.drift * math.sin(t / 900 + s.phase)
            else:
                target = (
                    self.chiller_temp if self.chiller_temp is not None else sim.room.temperature
                )
                s.temperature += (target - s.temperature) * min(1.0, dt * sim.time_scale / sim.lag)
                s.humidity = sim.coldbox_humidity

    def _emit(self, s: SimSensor) -> None:
        if s.silent:
            return
        noise = self.cfg.sim.noise
        temp = s.overrides.get("temperature", s.temperature + random.gauss(0, noise))
        humi = s.overrides.get("humidity", s.humidity + random.gauss(0, noise))
        if s.cfg.temp_topic:
            self.bus.publish(s.cfg.temp_topic, f"{temp:.2f}".encode())
        if s.cfg.humi_topic:
            self.bus.publish(s.cfg.humi_topic, f"{min(max(humi, 0.0), 100.0):.2f}".encode())

    def run(self) -> None:
        if self.chiller_topic:
            self.bus.subscribe(self.chiller_topic, self._on_chiller)
        self.bus.subscribe("sim/sensors/+", self._on_fault)
        self.bus.start(wait=None)
        log.info("simulating %d sensors every %g s", len(self.sensors), self.cfg.sim.period)
        last = time.monotonic()
        while not self.stop.wait(self.cfg.sim.period):
            now = time.monotonic()
            self.step(now - last, time.time())
            last = now
            for s in self.sensors.values():
                self._emit(s)
        self.bus.stop()
