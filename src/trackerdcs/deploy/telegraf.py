"""A Telegraf configuration that writes what the recorder writes, for sites that prefer
Telegraf to `trackerdcs run recorder` in front of InfluxDB; the stand's `recorder.schema`
chooses the names.

`reference` (PROTOCOLS.md §1, from the families' `history` declarations, the ones the
recorder uses): json_v2 inputs with typed fields and tags (`channels` tagged id, module,
boards and channels; `dcs_status`; `chiller`), enum texts mapped to the IOC's indices by the
enum processor, the ESP boards' plain floats as `sensors` (tags sensor, topic; field
`<chip>_<quantity>`, named by a starlark processor), our sensors' readings as `sensors`.

`trackerdcs`: `sensors` (tags sensor, location, kind) for every environment service,
`<power service>.channel` (tags service, channel, module), `<service>.status` (tag service)
for every service of the stand.

Timestamps come from each message's `ts` (epoch seconds); plain floats: arrival time. What
only the recorder does: change-only writes with deadbands, and no number stored from a
message that says its device is disconnected (our services publish none then anyway).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from trackerdcs.config.model import Stand
from trackerdcs.core import peers
from trackerdcs.core.history import Measurement
from trackerdcs.core.registry import families
from trackerdcs.storage import schema

SERVERS, USERNAME = "@SERVERS@", "@USERNAME@"  # filled in last: TOML has braces of its own

ESP_RENAME = """
[[processors.starlark]]
  namepass = ["sensors"]
  source = '''
def apply(metric):
    chip = metric.tags.pop("chip")
    quantity = metric.tags.pop("quantity")
    metric.fields[chip + "_" + quantity] = metric.fields.pop("value")
    return metric
'''
  [processors.starlark.tagpass]
    chip = ["*"]
"""


def _q(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _mqtt_input(topic: str) -> str:
    return (
        "\n[[inputs.mqtt_consumer]]\n"
        f"  servers = [{SERVERS}]\n"
        f"  topics = [{_q(topic)}]\n"
        f"  username = {USERNAME}\n"
        '  password = "${TRACKERDCS_MQTT_PASSWORD}"\n'
        "  qos = 1\n"
        '  client_id = ""\n'
    )


def _json_input(topic: str, measurement: str, tags: list[str], topic_tags: str) -> str:
    return _mqtt_input(topic) + (
        '  data_format = "json"\n'
        '  json_time_key = "ts"\n'
        '  json_time_format = "unix"\n'
        f"  tag_keys = [{', '.join(_q(t) for t in tags)}]\n"
        f"  name_override = {_q(measurement)}\n"
        "  [[inputs.mqtt_consumer.topic_parsing]]\n"
        f"    topic = {_q(topic)}\n"
        f"    tags = {_q(topic_tags)}\n"
    )


def _typed_input(topic: str, m: Measurement) -> str:
    out = _mqtt_input(topic) + (
        '  data_format = "json_v2"\n'
        "  [[inputs.mqtt_consumer.json_v2]]\n"
        f"    measurement_name = {_q(m.name)}\n"
        '    timestamp_path = "ts"\n'
        '    timestamp_format = "unix"\n'
    )
    for tag in m.tags:
        out += f"    [[inputs.mqtt_consumer.json_v2.tag]]\n      path = {_q(tag)}\n"
    for name, kind in m.fields.items():
        # an enum arrives as its text: a string here, its index after the enum processor
        typ = "string" if name in m.enums or kind == "str" else kind
        out += (f"    [[inputs.mqtt_consumer.json_v2.field]]\n      path = {_q(name)}\n"
                f"      type = {_q(typ)}\n")  # fmt: skip
    for name, texts in m.enums.items():
        out += (f"\n[[processors.enum]]\n  namepass = [{_q(m.name)}]\n"
                f"  [[processors.enum.mapping]]\n    field = {_q(name)}\n"
                "    [processors.enum.mapping.value_mappings]\n")  # fmt: skip
        out += "".join(f"      {t} = {i}\n" for i, t in enumerate(texts))
    return out


def _reference_inputs(stand: Stand) -> list[str]:
    parts = [_typed_input(t, m) for t, m in schema.for_stand(stand, "reference").reference.items()]
    # ESP32 boards: one plain float per topic; board, chip and quantity are in the topic
    parts.append(_mqtt_input("+/sensors/+/+") + (
        '  data_format = "value"\n  data_type = "float"\n  name_override = "sensors"\n'
        "  [[inputs.mqtt_consumer.topic_parsing]]\n"
        '    topic = "+/sensors/+/+"\n    tags = "sensor/_/chip/quantity"\n'
    ) + ESP_RENAME)  # fmt: skip
    for name in peers.environment(stand):
        parts.append(_json_input(f"{name}/+", "sensors", ["location", "kind"], "_/sensor"))
    return parts


def _own_inputs(stand: Stand) -> list[str]:
    parts = []
    for name in peers.environment(stand):
        parts.append(_json_input(f"{name}/+", "sensors", ["location", "kind"], "_/sensor"))
    for name in peers.power(stand):
        parts.append(_json_input(f"{name}/channel/+", f"{name}.channel", ["module"],
                                 "service/_/channel"))  # fmt: skip
    for fam in families().values():
        root = peers.service_name(stand, fam.name)
        if root and fam.service:
            parts.append(_json_input(f"{root}/status", f"{root}.status", [], "service/_"))
    return parts


def telegraf_config(stand: Stand) -> str:
    b = stand.bus
    scheme = "ssl" if b.tls else "tcp"
    recorder = stand.section("recorder")
    name = recorder.schema_ if recorder is not None else "reference"
    parts = [
        "# Generated by `trackerdcs deploy telegraf` from "
        f"{stand.source or 'a stand file'}.\n"
        f"# History schema: {name} (recorder.schema).\n"
        "# MQTT password from the environment variable TRACKERDCS_MQTT_PASSWORD.\n"
        '[agent]\n  interval = "10s"\n  flush_interval = "1s"\n  precision = "1us"\n'
    ]
    # by role, the bus conventions and the families' declarations: no family named here
    parts += _reference_inputs(stand) if name == "reference" else _own_inputs(stand)
    url = stand.storage.historian
    if url.startswith("influxdb"):
        u = urlsplit(url)
        http = "https" if u.scheme == "influxdbs" else "http"
        db = u.path.strip("/") or "trackerdcs"
        parts.append(
            f"\n[[outputs.influxdb]]\n  urls = [{_q(f'{http}://{u.hostname}:{u.port or 8086}')}]\n"
            f"  database = {_q(db)}\n  username = {_q(u.username or '')}\n"
            '  password = "${INFLUX_PASSWORD}"\n'
        )
    else:
        parts.append(
            "\n# The stand records to SQLite; point this at your InfluxDB.\n"
            '[[outputs.influxdb]]\n  urls = ["http://127.0.0.1:8086"]\n  database = "trackerdcs"\n'
        )
    text = "".join(parts)
    return text.replace(SERVERS, _q(f"{scheme}://{b.host}:{b.port}")).replace(
        USERNAME, _q(b.username or "")
    )
