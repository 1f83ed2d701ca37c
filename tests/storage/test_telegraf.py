"""`trackerdcs deploy telegraf`. Telegraf itself cannot run here (no Debian package), so the
test checks the generated file as Telegraf would read it: valid TOML, MQTT inputs on the
stand's topics with the recorder's measurement names, timestamps from `ts`, the InfluxDB
output of the stand, and no password in the file."""

from __future__ import annotations

import subprocess
import sys
import tomllib

from trackerdcs.storage.recorder import to_points


def test_telegraf_config_matches_recorder_names(write_stand) -> None:
    body = """
storage: {historian: "influxdb://writer@influx.lab:8086/dcs", influx_password_env: X}
caen:
  prefix: lab
  channels: {1: {module: M1, lv: {board: 0, chan: 0}, hv: {board: 12, chan: 0}}}
sensors:
  sensors: [{name: box, kind: coldbox, temp_topic: E/t}]
julabo: {port: /dev/ttyUSB0}
"""
    path, stand = write_stand(body)
    argv = [sys.executable, "-m", "trackerdcs", "deploy", "telegraf", "-c", str(path)]
    out = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=60)
    conf = tomllib.loads(out.stdout)
    inputs = {i["topics"][0]: i for i in conf["inputs"]["mqtt_consumer"]}
    assert inputs["sensors/+"]["name_override"] == "sensors"
    assert inputs["dcs/channel/+"]["name_override"] == "dcs.channel"
    assert inputs["julabo/status"]["name_override"] == "julabo.status"
    for i in inputs.values():
        assert i["json_time_key"] == "ts" and i["json_time_format"] == "unix"
        assert i["servers"] == [f"tcp://{stand.bus.host}:{stand.bus.port}"]
        assert i["password"] == "${TRACKERDCS_MQTT_PASSWORD}"
    # the same measurement names the recorder writes for those topics
    assert to_points("sensors/box", b'{"temperature": 1, "ts": 1}')[0].measurement == "sensors"
    assert to_points("dcs/channel/1", b'{"hv_vMon": 1, "ts": 1}')[0].measurement == "dcs.channel"
    assert to_points("julabo/status", b'{"power": 1, "ts": 1}')[0].measurement == "julabo.status"
    out_db = conf["outputs"]["influxdb"][0]
    assert out_db["urls"] == ["http://influx.lab:8086"] and out_db["database"] == "dcs"
    assert stand.bus.password() not in out.stdout


def test_leading_slash_topics_are_named_and_excluded_like_the_others() -> None:
    from trackerdcs.storage.config import RecorderConfig
    from trackerdcs.storage.recorder import excluded

    rules = RecorderConfig().exclude
    # commands and replies of the Lyon/Pisa services (leading slash) are not data
    assert excluded(rules, "/hmp4040/cmd/setv/1") and excluded(rules, "/MARTA/cmd/start_co2")
    assert excluded(rules, "/hmp4040/reply") and excluded(rules, "hv/cmd/x")
    assert not excluded(rules, "/hmp4040/status") and not excluded(rules, "/MARTA/status")
    point = to_points("/hmp4040/status", b'{"ch1_vMon": 12.0, "ts": 1}')[0]
    assert point.measurement == "hmp4040.status" and dict(point.tags) == {"service": "hmp4040"}
    # a plain float keeps its topic as it is, slash included (the reference Telegraf's tag)
    assert dict(to_points("/lab/temp", b"21.5")[0].tags) == {"topic": "/lab/temp"}
