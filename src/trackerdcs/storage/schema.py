"""The two history schemas: which points a bus message becomes.

`reference` (default) is what the labs' Telegraf writes (PROTOCOLS.md §1), so their Grafana
dashboards keep working: `channels` (tags id, module, lv/hv board and channel; enums and
status words as integers, `fsm_state` a string), `dcs_status`, `chiller`, and the ESP boards'
plain floats as `sensors` (tags sensor = the board, topic; field `<chip>_<quantity>`). The
families declare these measurements (`Family.history`); topics the reference stack does not
have (safety, runs, our sensors' readings with the dew point) are stored as in our schema.

`trackerdcs` names by service: `<power>.channel` (tags service, channel, module),
`<service>.status`, `sensors` (tags sensor, location, kind), `mqtt` (tag topic).

Both store a message's values at the message's own `ts` (the time of the reading; the
reference Telegraf uses the arrival time). A message that says its device is disconnected
(`fsm_state: DISCONNECTED`, or `connected: false`) gives its state and no number: stale is
never stored as measured.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from trackerdcs.config.model import StandBase
from trackerdcs.core import payload as pl
from trackerdcs.core import peers
from trackerdcs.core.history import Measurement
from trackerdcs.core.registry import families
from trackerdcs.storage.points import Point, Value

SCHEMAS = ("reference", "trackerdcs")
SKIP_FIELDS = {"ts", "id", "since"}
STATE_FIELDS = ("fsm_state", "state")  # the strings our own schema keeps
# an ESP32 board's plain float (PROTOCOLS.md §1): ESP01/sensors/BME/temp
ESP_TOPIC = re.compile(r"^/?([^/]+)/sensors/([^/]+)/([^/]+)$")


@dataclass(frozen=True)
class Schema:
    name: str = "trackerdcs"
    environment: frozenset[str] = frozenset({"sensors"})
    power: frozenset[str] = frozenset({"dcs"})
    # bare topic ("dcs/channels") -> how the reference stack stores it
    reference: dict[str, Measurement] = field(default_factory=dict)

    def __hash__(self) -> int:
        return hash((self.name, self.environment, self.power))


def for_stand(stand: StandBase, name: str) -> Schema:
    reference: dict[str, Measurement] = {}
    for fam in families().values():
        root = peers.service_name(stand, fam.name)
        if root:
            reference.update({f"{root}/{m.topic}": m for m in fam.history})
    return Schema(name, frozenset(peers.environment(stand)) or frozenset({"sensors"}),
                  frozenset(peers.power(stand)), reference)  # fmt: skip


def _tag(v: Any) -> str:
    # `,` and `=` separate tags in series names
    return str(v).replace(",", "_").replace("=", "_") if v is not None else ""


def _flatten(d: dict[str, Any], prefix: str = "", depth: int = 0) -> dict[str, Value]:
    out: dict[str, Value] = {}
    for k, v in d.items():
        if k in SKIP_FIELDS and not prefix:
            continue
        name = f"{prefix}{k}"
        if isinstance(v, int | float):  # bool too: a state as 0/1
            out[name] = float(v)
        elif isinstance(v, str) and not prefix and k in STATE_FIELDS:
            out[name] = v
        elif isinstance(v, dict) and depth < 3:
            out.update(_flatten(v, f"{name}.", depth + 1))
    return out


def _typed(m: Measurement, data: dict[str, Any]) -> dict[str, Value]:
    out: dict[str, Value] = {}
    for name, kind in m.fields.items():
        v = data.get(name)
        if v is None:
            continue
        if name in m.enums and isinstance(v, str):
            if v not in m.enums[name]:
                continue
            v = m.enums[name].index(v)
        if kind == "str":
            if isinstance(v, str):
                out[name] = v
        elif isinstance(v, str):
            continue
        elif kind == "int":
            if not math.isfinite(v) or not -(2**63) <= v < 2**63:
                out[name] = math.nan  # no integer InfluxDB can hold: rejected below, counted
            else:
                out[name] = int(v)
        elif kind == "bool":
            out[name] = bool(v)
        else:
            out[name] = float(v)
    return out


def _disconnected(data: dict[str, Any]) -> bool:
    return data.get("fsm_state") == "DISCONNECTED" or data.get("connected") is False


def decode(topic: str, raw: bytes, schema: Schema | None = None,
           environment: Collection[str] | None = None) -> tuple[list[Point], int]:  # fmt: skip
    """(points, rejected): a value that is not a finite number is no reading and is
    rejected alone; a message whose own `ts` is not a finite number has no time at all,
    and all its values are rejected. Raises ValueError for malformed JSON."""
    if schema is None:
        schema = Schema(environment=frozenset(environment or ("sensors",)))
    # `/hmp4040/status` (the Lyon and Pisa services) is named like `hmp4040/status`
    bare = topic.lstrip("/")
    parts = bare.split("/")
    text = raw.decode("utf-8", "replace").strip()
    if len(parts) == 2 and parts[1] == "online":
        if text in ("true", "false"):
            return [Point("online", "value", float(text == "true"), pl.now(),
                          (("service", parts[0]),))], 0  # fmt: skip
        return [], 0
    try:
        data = json.loads(text)
    except ValueError:
        if text.startswith(("{", "[")):
            raise
        return [], 0
    if isinstance(data, int | float) and not isinstance(data, bool):
        if not math.isfinite(data):
            return [], 1
        esp = ESP_TOPIC.match(topic)
        if schema.name == "reference" and esp:
            board, chip, quantity = esp.groups()
            where = (("sensor", board), ("topic", topic))
            return [Point("sensors", f"{chip}_{quantity}", float(data), pl.now(), where)], 0
        # plain floats of other devices: the topic names the series
        return [Point("mqtt", "value", float(data), pl.now(), (("topic", topic),))], 0
    if not isinstance(data, dict):
        return [], 0
    svc = parts[0]
    if topic.startswith("/") and svc in schema.power:
        return [], 0  # our own power service's mirror of its state for the Lyon flows
    is_stream = len(parts) == 2 and parts[1] == "channels"
    is_channel = len(parts) == 3 and parts[1] == "channel"
    ref = schema.reference.get(bare) if schema.name == "reference" else None
    if svc in schema.power and ((is_channel and schema.name == "reference" and
                                 f"{svc}/channels" in schema.reference)
                                or (is_stream and ref is None)):  # fmt: skip
        return [], 0  # the same channel state arrives on both topics: one is stored
    values = _typed(ref, data) if ref is not None else _flatten(data)
    if _disconnected(data):
        values = {k: v for k, v in values.items() if isinstance(v, str)}
    ts = data.get("ts")
    if isinstance(ts, float) and not math.isfinite(ts):
        return [], len(values)
    ts = float(ts) if isinstance(ts, int | float) and not isinstance(ts, bool) else pl.now()
    tags: dict[str, str]
    if ref is not None:
        meas = ref.name
        tags = {t: _tag(data.get(t)) for t in ref.tags}
    elif is_channel or is_stream:
        cid = parts[2] if is_channel else data.get("id")
        if cid is None:
            return [], 0
        meas = f"{svc}.channel"
        tags = {"service": svc, "channel": _tag(cid), "module": _tag(data.get("module"))}
    elif svc in schema.environment and len(parts) == 2 and parts[1] != "status":
        meas = "sensors"
        tags = {"sensor": parts[1], "location": _tag(data.get("location")),
                "kind": _tag(data.get("kind"))}  # fmt: skip
    else:
        meas = ".".join(parts)
        tags = {"service": svc}
    # an empty tag cannot be stored by InfluxDB: leave it out everywhere
    tag_tuple = tuple(sorted((k, v) for k, v in tags.items() if v))
    good = [Point(meas, f, v, ts, tag_tuple) for f, v in values.items()
            if not isinstance(v, float) or math.isfinite(v)]  # fmt: skip
    return good, len(values) - len(good)
