"""The sensors service (`trackerdcs run sensors`): raw readings in, named sensors out.

Inputs are the reference stack's plain-float topics and DHT serial lines; the output is one
retained `sensors/<name>` JSON per sensor with temperature, humidity, dew point (computed
wherever temperature and humidity come together) and the time of the reading.
"""

from __future__ import annotations

import re
import threading
from typing import Any

import serial

from trackerdcs.bus import Message
from trackerdcs.bus import payload as pl
from trackerdcs.runtime.service import Service
from trackerdcs.sensors.config import SensorConfig, SensorsConfig
from trackerdcs.sensors.dewpoint import dewpoint

DHT_LINE = re.compile(r"^\s*(Temperature|Humidity)\s*:\s*(-?\d+(?:\.\d+)?)", re.I)


class Reading:
    def __init__(self, cfg: SensorConfig):
        self.cfg = cfg
        self.temperature: float | None = None
        self.humidity: float | None = None
        self.board_dew: float | None = None
        self.ts: float | None = None
        self.errors = 0

    def payload(self) -> dict[str, Any]:
        dew = self.board_dew
        if self.temperature is not None and self.humidity is not None and self.humidity > 0:
            dew = round(dewpoint(self.temperature, min(self.humidity, 100.0)), 3)
        return {
            "name": self.cfg.name,
            "location": self.cfg.location,
            "kind": self.cfg.kind,
            "temperature": self.temperature,
            "humidity": self.humidity,
            "dewpoint": dew,
            "ts": self.ts,
        }


class SensorsService(Service):
    section = "sensors"
    default_name = "sensors"
    cfg: SensorsConfig

    def __init__(self, stand: Any, name: str | None = None, bus: Any = None):
        super().__init__(stand, name, bus)
        self.readings = {s.name: Reading(s) for s in self.cfg.sensors}
        self._routes: dict[str, tuple[Reading, str]] = {}
        for r in self.readings.values():
            sources = {"temperature": r.cfg.temp_topic, "humidity": r.cfg.humi_topic,
                       "board_dew": r.cfg.dew_topic}  # fmt: skip
            for field, topic in sources.items():
                if topic:
                    self._routes[topic] = (r, field)
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    def setup(self) -> None:
        for topic in self._routes:
            self.bus.subscribe(topic, self._on_value)
        self.commands.add("refresh", self._refresh, "republish every sensor")
        for r in self.readings.values():
            if r.cfg.serial:
                t = threading.Thread(target=self._serial_loop, args=(r,), daemon=True,
                                     name=f"dht-{r.cfg.name}")  # fmt: skip
                t.start()
                self._threads.append(t)

    def on_connect(self) -> None:
        self._publish_all()

    def tick(self) -> None:
        self.publish_state("status", {"sensors": sorted(self.readings),
                                      "errors": {n: r.errors for n, r in self.readings.items()}},
                           )  # fmt: skip

    def _refresh(self, cmd: Any) -> dict[str, Any]:
        self._publish_all()
        return {"sensors": sorted(self.readings)}

    def _publish_all(self) -> None:
        for r in self.readings.values():
            if r.ts is not None:
                self._publish(r)

    def _publish(self, r: Reading) -> None:
        self.bus.publish(f"{self.name}/{r.cfg.name}", r.payload(), retain=True)

    def _update(self, r: Reading, field: str, value: float) -> None:
        with self._lock:
            setattr(r, field, value)
            r.ts = pl.now()
            self._publish(r)

    def _on_value(self, msg: Message) -> None:
        route = self._routes.get(msg.topic)
        if route is None:
            return
        r, field = route
        try:
            value = float(msg.text.strip())
        except ValueError:
            r.errors += 1
            self.log.warning("%s: not a number: %r (ignored)", msg.topic, msg.payload[:40])
            return
        if field == "humidity" and not 0 <= value <= 100:
            r.errors += 1
            self.log.warning("%s: humidity %g %% out of range (ignored)", msg.topic, value)
            return
        self._update(r, field, value)

    def _serial_loop(self, r: Reading) -> None:
        """Read DHT lines; reopen the port with backoff when it vanishes."""
        backoff = 1.0
        while not self.stopping:
            try:
                with serial.serial_for_url(
                    r.cfg.serial, baudrate=r.cfg.baudrate, timeout=1
                ) as port:
                    backoff = 1.0
                    self.log.info("reading DHT lines from %s", r.cfg.serial)
                    while not self.stopping:
                        line = port.readline().decode("ascii", "replace")
                        if line:
                            self._dht_line(r, line)
            except (serial.SerialException, OSError) as exc:
                self.log.warning("%s: %s; retrying in %.0f s", r.cfg.serial, exc, backoff)
                self.sleep(backoff)
                backoff = min(backoff * 2, 30.0)

    def _dht_line(self, r: Reading, line: str) -> None:
        m = DHT_LINE.match(line)
        if m is None:
            if line.strip():
                r.errors += 1
                self.log.debug("%s: unparsed line %r", r.cfg.serial, line)
            return
        field = "temperature" if m.group(1).lower() == "temperature" else "humidity"
        self._update(r, field, float(m.group(2)))
