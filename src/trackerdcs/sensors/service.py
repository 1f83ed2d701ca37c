"""The sensors service (`trackerdcs run sensors`): raw readings in, named sensors out.

Inputs are the reference stack's plain-float topics and DHT serial lines; the output is one
retained `sensors/<name>` JSON per sensor with temperature, humidity, dew point (computed
wherever temperature and humidity come together) and the time of the reading. A payload
that is not a finite number is no reading: counted, logged, never published as current.
"""

from __future__ import annotations

import functools

from trackerdcs.config.model import StandBase
from trackerdcs.core.bus import Message
from trackerdcs.core.service import Service
from trackerdcs.core.signal import Signal
from trackerdcs.sensors import protocol, transport
from trackerdcs.sensors.config import SensorsConfig
from trackerdcs.sensors.device import Sensor


class SensorsService(Service):
    section = "sensors"
    default_name = "sensors"
    cfg: SensorsConfig

    def __init__(self, stand: StandBase, name: str | None = None):
        super().__init__(stand, name)
        self.sensors = {s.name: Sensor(s) for s in self.cfg.sensors}
        self.routes: dict[str, tuple[Sensor, Signal[float], str]] = {}
        for sensor in self.sensors.values():
            c = sensor.cfg
            for topic, sig, quantity in (
                (c.temp_topic, sensor.temperature, "temperature"),
                (c.humi_topic, sensor.humidity, "humidity"),
                (c.dew_topic, sensor.board_dew, "dewpoint"),
            ):
                if topic:
                    self.routes[topic] = (sensor, sig, quantity)
                    self.subscribe(topic, self._on_value)  # fmt: skip

    async def main(self) -> None:
        for sensor in self.sensors.values():
            if sensor.cfg.serial:
                reader = transport.read_lines(
                    sensor.cfg.serial, sensor.cfg.baudrate, functools.partial(self._dht, sensor)
                )
                self.spawn(reader, f"dht-{sensor.cfg.name}")  # fmt: skip

    def republish(self) -> None:
        for sensor in self.sensors.values():
            if sensor.ts is not None:
                self._publish(sensor)
        self.publish_status()

    def publish_status(self) -> None:
        self.publish_state("status", {
            "sensors": sorted(self.sensors),
            "errors": {n: s.errors for n, s in self.sensors.items()},
            "states": {n: s.derive()[0] for n, s in self.sensors.items()},
        })  # fmt: skip

    def _publish(self, sensor: Sensor) -> None:
        self.bus.publish(f"{self.name}/{sensor.cfg.name}", sensor.payload(), retain=True)

    def _reject(self, sensor: Sensor, where: str, why: str) -> None:
        sensor.errors += 1
        self.log.warning("%s: %s (no reading)", where, why)

    def _on_value(self, msg: Message) -> None:
        sensor, sig, quantity = self.routes[msg.topic]
        try:
            value = protocol.parse_float(quantity, msg.payload)
        except protocol.NoReading as exc:
            self._reject(sensor, msg.topic, str(exc))
            return
        sig.update(value)
        self._publish(sensor)

    def _dht(self, sensor: Sensor, line: str) -> None:
        try:
            parsed = protocol.parse_dht(line)
        except protocol.NoReading as exc:
            self._reject(sensor, str(sensor.cfg.serial), str(exc))
            return
        if parsed is None:
            if line.strip():
                sensor.errors += 1
            return
        quantity, value = parsed
        getattr(sensor, quantity).update(value)
        self._publish(sensor)
