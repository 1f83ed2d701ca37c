"""Sensor ingestion: ESP32 plain floats and DHT serial lines become named sensors with a
dew point and the time of the reading."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from trackerdcs.sensors.dewpoint import dewpoint, humidity_for
from trackerdcs.testing.probe import Probe


def test_magnus_dewpoint_matches_reference_values() -> None:
    # values from the Sonntag/Magnus formula tables (over water)
    assert dewpoint(25.0, 60.0) == pytest.approx(16.69, abs=0.02)
    assert dewpoint(20.0, 50.0) == pytest.approx(9.26, abs=0.02)
    assert dewpoint(-10.0, 80.0) == pytest.approx(-12.81, abs=0.05)
    assert humidity_for(25.0, dewpoint(25.0, 37.0)) == pytest.approx(37.0)
    with pytest.raises(ValueError):
        dewpoint(20.0, 0.0)


@pytest.fixture
def sensors(write_stand, tmp_path: Path):
    master, slave = os.openpty()
    body = f"""
sensors:
  sensors:
    - {{name: box, location: cold box, kind: coldbox, temp_topic: ESP07/sensors/BME/temp,
       humi_topic: ESP07/sensors/BME/humi}}
    - {{name: lab, kind: ambient, serial: {os.ttyname(slave)}}}
"""
    path, _ = write_stand(body)
    proc = subprocess.Popen(
        [sys.executable, "-m", "trackerdcs", "run", "sensors", "--config", str(path)],
        stdout=open(tmp_path / "sensors.log", "wb"),  # noqa: SIM115
        stderr=subprocess.STDOUT,
    )
    yield proc, master
    proc.terminate()
    proc.wait(10)
    os.close(master)
    os.close(slave)


def test_esp_floats_become_a_named_sensor_with_dewpoint(sensors, probe: Probe) -> None:
    probe.wait_for("sensors/online", lambda m: m.payload == b"true", timeout=15)
    mark = probe.mark()
    before = time.time()
    probe.publish("ESP07/sensors/BME/temp", b"25.00")
    probe.publish("ESP07/sensors/BME/humi", b"60.0")
    s = probe.wait_json("sensors/box", lambda s: s["humidity"] == 60.0, since=mark)
    assert s["temperature"] == 25.0 and s["location"] == "cold box" and s["kind"] == "coldbox"
    assert s["dewpoint"] == pytest.approx(16.69, abs=0.02)
    assert before <= s["ts"] <= time.time()
    # garbage on a sensor topic is counted and ignored; the service keeps going
    probe.publish("ESP07/sensors/BME/humi", b"nan%")
    probe.publish("ESP07/sensors/BME/humi", b"140")
    probe.wait_json("sensors/status", lambda s: s["errors"]["box"] == 2, timeout=10, since=mark)
    probe.publish("ESP07/sensors/BME/humi", b"30")
    s = probe.wait_json("sensors/box", lambda s: s["humidity"] == 30.0, since=mark)
    assert s["dewpoint"] == pytest.approx(dewpoint(25.0, 30.0), abs=0.01)


def test_dht_serial_lines_are_parsed(sensors, probe: Probe) -> None:
    _, master = sensors
    probe.wait_for("sensors/online", lambda m: m.payload == b"true", timeout=15)
    mark = probe.mark()
    deadline = time.monotonic() + 15
    # the service opens the port asynchronously: repeat the lines until they arrive
    while time.monotonic() < deadline:
        os.write(master, b"Temperature: 21.30 *C\r\nHumidity: 40.00 %\r\nnoise\r\n")
        try:
            s = probe.wait_json("sensors/lab", lambda s: s["humidity"] == 40.0, 0.5, mark)
            break
        except TimeoutError:
            continue
    else:
        raise AssertionError("no DHT reading arrived")
    assert s["temperature"] == 21.3
    assert s["dewpoint"] == pytest.approx(dewpoint(21.3, 40.0), abs=0.01)
