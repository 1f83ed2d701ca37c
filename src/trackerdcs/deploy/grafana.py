"""Grafana provisioning generated from the stand file: the InfluxDB datasource and the
dashboards, as files Grafana reads at start (PROTOCOLS.md §8). The dashboards query the
measurements the recorder writes (its `schema`), a panel per module where the stand names
modules; the event log (`events`) marks alarms and interlocks on every time axis.

The datasource's password is Grafana's `$__file{...}` of a mounted secret: no secret is in
a provisioning file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from trackerdcs.config.model import StandBase
from trackerdcs.core import peers
from trackerdcs.deploy.config import DeployConfig

DATASOURCE_UID = "trackerdcs-influxdb"
DASHBOARDS_IN_POD = "/var/lib/grafana-dashboards"
SECRET = "/run/secrets/trackerdcs/influx/grafana.password"


@dataclass(frozen=True)
class Names:
    """Where the recorder puts each thing, by schema."""

    channels: str
    channel_tag: str
    power_status: str
    chiller: str | None
    safety: str
    events: str = "events"
    sensors: str = "sensors"

    @staticmethod
    def of(stand: StandBase) -> Names:
        rec = stand.section("recorder")
        schema = rec.schema_ if rec is not None else "reference"
        power = next(iter(peers.power(stand)), "dcs")
        julabo = peers.service_name(stand, "julabo")
        safety = peers.safety(stand)
        if schema == "reference":
            return Names("channels", "id", f"{power}_status", "chiller" if julabo else None,
                         f"{safety}.status")  # fmt: skip
        return Names(f"{power}.channel", "channel", f"{power}.status",
                     f"{julabo}.status" if julabo else None, f"{safety}.status")  # fmt: skip


def datasource(d: DeployConfig) -> dict[str, Any]:
    return {
        "apiVersion": 1,
        "datasources": [{
            "name": "trackerdcs", "uid": DATASOURCE_UID, "type": "influxdb", "access": "proxy",
            "url": "http://127.0.0.1:8086", "database": d.influxdb_db, "user": "grafana",
            "isDefault": True, "editable": False,
            "jsonData": {"httpMode": "GET", "timeInterval": "10s"},
            "secureJsonData": {"password": f"$__file{{{SECRET}}}"},
        }],
    }  # fmt: skip


def provider() -> dict[str, Any]:
    return {
        "apiVersion": 1,
        "providers": [{
            "name": "trackerdcs", "folder": "trackerdcs", "type": "file",
            "disableDeletion": True, "allowUiUpdates": False, "updateIntervalSeconds": 60,
            "options": {"path": DASHBOARDS_IN_POD, "foldersFromFilesStructure": False},
        }],
    }  # fmt: skip


def _q(text: str, ref: str = "A", alias: str = "") -> dict[str, Any]:
    t: dict[str, Any] = {
        "refId": ref,
        "rawQuery": True,
        "resultFormat": "time_series",
        "query": text,
        "datasource": {"type": "influxdb", "uid": DATASOURCE_UID},
    }
    if alias:
        t["alias"] = alias
    return t


def _series(m: str, field: str, where: str = "", by: str = "") -> str:
    cond = f"{where} AND $timeFilter" if where else "$timeFilter"
    group = f"time($__interval){', ' + by if by else ''} fill(none)"
    return f'SELECT mean("{field}") FROM "{m}" WHERE {cond} GROUP BY {group}'


class _Board:
    def __init__(self, uid: str, title: str, names: Names):
        self.uid, self.title, self.names = uid, title, names
        self.panels: list[dict[str, Any]] = []
        self._y = 0

    def panel(self, title: str, targets: list[dict[str, Any]], kind: str = "timeseries",
              unit: str = "", w: int = 12, h: int = 8, **extra: Any) -> None:  # fmt: skip
        x = sum(p["gridPos"]["w"] for p in self.panels if p["gridPos"]["y"] == self._y)
        if x + w > 24:
            self._y += h
            x = 0
        p: dict[str, Any] = {
            "id": len(self.panels) + 1, "type": kind, "title": title, "targets": targets,
            "datasource": {"type": "influxdb", "uid": DATASOURCE_UID},
            "gridPos": {"x": x, "y": self._y, "w": w, "h": h},
            "fieldConfig": {"defaults": {"unit": unit} if unit else {}, "overrides": []},
        }  # fmt: skip
        p.update(extra)
        self.panels.append(p)

    def json(self) -> dict[str, Any]:
        events = self.names.events
        return {
            "uid": self.uid, "title": self.title, "tags": ["trackerdcs"], "editable": False,
            "schemaVersion": 39, "time": {"from": "now-6h", "to": "now"}, "refresh": "10s",
            "timezone": "utc", "panels": self.panels,
            "annotations": {"list": [{
                "name": "alarms and interlocks", "enable": True, "iconColor": "red",
                "datasource": {"type": "influxdb", "uid": DATASOURCE_UID},
                "query": f"SELECT \"text\" FROM \"{events}\" WHERE (\"kind\" = 'alarm' OR "
                         f"\"kind\" = 'interlock') AND $timeFilter",
                "textColumn": "text", "tagsColumn": "service",
            }]},
        }  # fmt: skip


def _modules(stand: StandBase) -> list[tuple[str, str]]:
    """(channel id, module name) of every CAEN channel with a module."""
    caen = stand.section("caen")
    if caen is None:
        return []
    return [(str(n), ch.module) for n, ch in sorted(caen.channels.items()) if ch.module]


def dashboards(stand: StandBase) -> dict[str, dict[str, Any]]:
    n = Names.of(stand)
    out: dict[str, _Board] = {}

    b = out["overview"] = _Board("trackerdcs-overview", f"{stand.stand.name}: overview", n)
    b.panel("Power supply state", [_q(f'SELECT last("fsm_state") FROM "{n.power_status}" '
                                      "WHERE $timeFilter")], "stat", w=6, h=4)  # fmt: skip
    b.panel("Safety", [_q(f'SELECT last("state") FROM "{n.safety}" WHERE $timeFilter')],
            "stat", w=6, h=4)  # fmt: skip
    b.panel("Powered modules", [_q(f'SELECT last("powered") FROM "{n.safety}" '
                                   "WHERE $timeFilter")], "stat", w=6, h=4)  # fmt: skip
    if n.chiller:
        b.panel("Chiller bath", [_q(f'SELECT last("internal_temp") FROM "{n.chiller}" '
                                    "WHERE $timeFilter")], "stat", "celsius", w=6, h=4)  # fmt: skip
    b.panel("HV per module", [_q(_series(n.channels, "hv_vMon", by='"module"'),
                                 alias="$tag_module")], unit="volt")  # fmt: skip
    b.panel("Dew point and temperatures", _environment_targets(n), unit="celsius")
    b.panel("Events", [_q(f'SELECT "text", "kind", "service", "module" FROM "{n.events}" '
                          "WHERE $timeFilter ORDER BY time DESC LIMIT 50")],
            "table", w=24, h=8)  # fmt: skip

    b = out["modules"] = _Board("trackerdcs-modules", f"{stand.stand.name}: modules", n)
    for cid, module in _modules(stand):
        where = f"\"{n.channel_tag}\" = '{cid}'"
        for side, unit_v in (("lv", "volt"), ("hv", "volt")):
            b.panel(f"{module} {side.upper()}", [
                _q(_series(n.channels, f"{side}_vMon", where), "A", f"{side.upper()} V"),
                _q(_series(n.channels, f"{side}_iMon", where), "B", f"{side.upper()} I"),
            ], unit=unit_v, fieldConfig={"defaults": {"unit": unit_v}, "overrides": [{
                "matcher": {"id": "byName", "options": f"{side.upper()} I"},
                "properties": [{"id": "unit", "value": "amp" if side == "lv" else "µA"},
                               {"id": "custom.axisPlacement", "value": "right"}]}]})  # fmt: skip

    b = out["environment"] = _Board("trackerdcs-environment", f"{stand.stand.name}: environment", n)
    b.panel("Dew point against the coldest surface", _environment_targets(n), unit="celsius",
            w=24)  # fmt: skip
    b.panel("Temperature", [_q(_series(n.sensors, "temperature", by='"sensor"'),
                               alias="$tag_sensor")], unit="celsius")  # fmt: skip
    b.panel("Relative humidity", [_q(_series(n.sensors, "humidity", by='"sensor"'),
                                     alias="$tag_sensor")], unit="humidity")  # fmt: skip

    if n.chiller:
        b = out["chiller"] = _Board("trackerdcs-chiller", f"{stand.stand.name}: chiller", n)
        b.panel("Bath and set-point", [
            _q(_series(n.chiller, "internal_temp"), "A", "bath"),
            _q(_series(n.chiller, "setpoint_1"), "B", "set-point 1"),
        ], unit="celsius")  # fmt: skip
        b.panel("Power (negative: cooling)", [_q(_series(n.chiller, "power"))], unit="percent")
        b.panel("State", [_q(f'SELECT last("fsm_state") FROM "{n.chiller}" WHERE $timeFilter')],
                "stat", w=6, h=4)  # fmt: skip

    b = out["safety"] = _Board("trackerdcs-safety", f"{stand.stand.name}: safety and alarms", n)
    b.panel("Safety state", [_q(f'SELECT last("state") FROM "{n.safety}" WHERE $timeFilter')],
            "stat", w=6, h=4)  # fmt: skip
    b.panel("Powered modules", [_q(_series(n.safety, "powered"))], w=18, h=4)
    b.panel("Alarms and interlocks", [_q(
        f'SELECT "text", "level", "service", "module" FROM "{n.events}" WHERE '
        "(\"kind\" = 'alarm' OR \"kind\" = 'interlock') AND $timeFilter ORDER BY time DESC "
        "LIMIT 200")], "table", w=24, h=10)  # fmt: skip
    b.panel("Commands and their replies", [_q(
        f'SELECT "text", "level", "service", "user" FROM "{n.events}" WHERE '
        "\"kind\" = 'command' AND $timeFilter ORDER BY time DESC LIMIT 200")],
        "table", w=24, h=10)  # fmt: skip
    return {name: board.json() for name, board in out.items()}


def _environment_targets(n: Names) -> list[dict[str, Any]]:
    out = [
        _q(_series(n.sensors, "dewpoint", by='"sensor"'), "A", "dew point $tag_sensor"),
        _q(_series(n.sensors, "temperature", "\"kind\" = 'coldbox'", '"sensor"'), "B",
           "$tag_sensor"),
    ]  # fmt: skip
    if n.chiller:
        out.append(_q(_series(n.chiller, "internal_temp"), "C", "chiller bath"))
    return out


def queries(board: dict[str, Any]) -> list[tuple[str, str]]:
    """(panel title, InfluxQL) of every query of a dashboard, annotations included."""
    out = [(p["title"], t["query"]) for p in board["panels"] for t in p["targets"]]
    out += [(f"annotation {a['name']}", a["query"]) for a in board["annotations"]["list"]]
    return out


def write(stand: StandBase, out: Path) -> list[Path]:
    from trackerdcs.deploy.pod import deploy_config

    d = deploy_config(stand)
    prov = out / "grafana" / "provisioning"
    files = {
        prov / "datasources" / "trackerdcs.yaml": yaml.safe_dump(datasource(d), sort_keys=False),
        prov / "dashboards" / "trackerdcs.yaml": yaml.safe_dump(provider(), sort_keys=False),
    }
    for name, board in dashboards(stand).items():
        files[out / "grafana" / "dashboards" / f"{name}.json"] = json.dumps(board, indent=1)
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return list(files)
