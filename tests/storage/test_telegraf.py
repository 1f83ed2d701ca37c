"""`trackerdcs deploy telegraf`. Telegraf itself cannot run here (no Debian package), so the
test checks the generated file as Telegraf would read it: valid TOML, MQTT inputs on the
stand's topics with the recorder's measurement names, timestamps from `ts`, the InfluxDB
output of the stand, and no password in the file."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib

from trackerdcs.storage.recorder import to_points
from trackerdcs.storage.schema import Schema, for_stand


def test_telegraf_config_matches_recorder_names(write_stand) -> None:
    body = """
recorder: {schema: trackerdcs}
storage: {historian: "influxdb://writer@influx.lab:8086/dcs", influx_password_env: X}
caen:
  prefix: lab
  channels: {1: {module: M1, lv: {board: 0, chan: 0}, hv: {board: 12, chan: 0}}}
sensors:
  sensors: [{name: box, kind: coldbox, temp_topic: E/t}]
julabo: {port: /dev/ttyUSB0}
marta: {host: 10.0.0.5}
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
    own = Schema("trackerdcs", frozenset({"sensors"}), frozenset({"dcs"}))
    assert to_points("sensors/box", b'{"temperature": 1, "ts": 1}', schema=own)[0].measurement \
        == "sensors"  # fmt: skip
    assert to_points("dcs/channel/1", b'{"hv_vMon": 1, "ts": 1}', schema=own)[0].measurement \
        == "dcs.channel"  # fmt: skip
    assert to_points("julabo/status", b'{"power": 1, "ts": 1}', schema=own)[0].measurement \
        == "julabo.status"  # fmt: skip
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


def telegraf_would_write(conf: dict, topic: str, payload: bytes) -> set[tuple]:
    """What Telegraf makes of one message under this config: (measurement, tags, field,
    value) with the value's InfluxDB type. Telegraf cannot run here: this stand-in follows its
    documented json_v2, value, topic_parsing, enum and (this one) starlark behaviour."""
    from trackerdcs.core.topics import matches

    out: set[tuple] = set()
    for inp in conf["inputs"]["mqtt_consumer"]:
        if not matches(inp["topics"][0], topic):
            continue
        if inp["data_format"] == "json_v2":
            data = json.loads(payload)
            spec = inp["json_v2"][0]
            tags = tuple(sorted((t["path"], str(data[t["path"]])) for t in spec.get("tag", [])))
            for f in spec["field"]:
                v = data.get(f["path"])
                if v is None:
                    continue
                v = {"int": int, "float": float, "bool": bool, "string": str}[f["type"]](v)
                for proc in conf["processors"].get("enum", []):
                    for mapping in proc["mapping"]:
                        if spec["measurement_name"] in proc["namepass"] and \
                                mapping["field"] == f["path"]:  # fmt: skip
                            v = mapping["value_mappings"][v]
                out.add((spec["measurement_name"], tags, f["path"], v))
        elif inp["data_format"] == "value":
            names = inp["topic_parsing"][0]["tags"].split("/")
            parsed = {n: part for n, part in zip(names, topic.split("/"), strict=True) if n != "_"}
            field = f"{parsed.pop('chip')}_{parsed.pop('quantity')}"  # the starlark rename
            tags = tuple(sorted({**parsed, "topic": topic}.items()))
            out.add((inp["name_override"], tags, field, float(payload)))
    return out


def test_the_reference_telegraf_config_writes_what_the_recorder_writes(write_stand) -> None:
    from trackerdcs.caen.protocol import FIELDS

    body = """
caen:
  channels: {1: {module: M1, lv: {board: 0, chan: 0}, hv: {board: 12, chan: 0}}}
julabo: {port: /dev/ttyUSB0}
marta: {host: 10.0.0.5}
"""
    path, stand = write_stand(body)
    argv = [sys.executable, "-m", "trackerdcs", "deploy", "telegraf", "-c", str(path)]
    out = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=60)
    conf = tomllib.loads(out.stdout)
    assert "History schema: reference" in out.stdout
    channel = {f: 1.5 for f in FIELDS} | {
        "id": 1,
        "module": "M1",
        "lv_board": 0,
        "lv_channel": 0,
        "hv_board": 12,
        "hv_channel": 0,
        "lv_status": 1,
        "hv_status": 3,
        "lv_tripInt": 0,
        "lv_tripExt": 0,
        "hv_tripInt": 0,
        "hv_tripExt": 0,
        "hv_imRange": "High",
        "hv_tripMode": "Ramp",
        "fsm_state": "HV_ON",
        "lv_pw": True,
        "connected": True,
        "reason": "",
        "ts": 1.0,
    }
    chiller = {
        "status_code": 3,
        "internal_temp": -20.1,
        "external_temp": -19.5,
        "power": -40.0,
        "setpoint_1": -20.0,
        "setpoint_2": 15.0,
        "setpoint_3": 20.0,
        "used_setpoint": 1,
        "ext_is_used": False,
        "fsm_state": "ON",
        "message": "",
        "ts": 1.0,
    }
    marta = {"CO2_TT05": -25.2, "CO2_TT06": -23.7, "CO2_FT01": 2.5, "R452A_PT01": 16.0,
             "temperature_setpoint": -25.0, "status": 2, "start_chiller": True,
             "start_co2": True, "flow_active": False, "alarms": [], "fsm_state": "CO2_RUNNING",
             "message": "", "ts": 1.0}  # fmt: skip
    messages = [("dcs/channels", json.dumps(channel).encode()),
                ("dcs/status", b'{"fsm_state": "HV_ON", "channels": {"1": "HV_ON"}, "ts": 1}'),
                ("julabo/status", json.dumps(chiller).encode()),
                ("MARTA/status", json.dumps(marta).encode()),
                ("ESP01/sensors/BME/temp", b"21.5")]  # fmt: skip
    ref = for_stand(stand, "reference")
    for topic, payload in messages:
        telegraf = telegraf_would_write(conf, topic, payload)
        recorder = {(p.measurement, p.tags, p.field, p.value)
                    for p in to_points(topic, payload, schema=ref)}  # fmt: skip
        assert telegraf, topic
        assert telegraf == recorder, (topic, telegraf ^ recorder)
        # same types too (1 == 1.0 == True in a set)
        assert {(f, type(v)) for *_, f, v in telegraf} == {(f, type(v)) for *_, f, v in recorder}
    enum = [p for p in to_points("dcs/channels", messages[0][1], schema=ref)
            if p.field in ("hv_imRange", "hv_tripMode")]  # fmt: skip
    assert sorted((p.field, p.value) for p in enum) == [("hv_imRange", 1), ("hv_tripMode", 1)]
