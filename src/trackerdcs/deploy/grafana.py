"""Grafana provisioning generated from the stand file: the InfluxDB datasource and the
dashboards, as files Grafana reads at start (PROTOCOLS.md §8). The dashboards query the
measurements the recorder writes (its `schema`: where each thing goes is found by decoding a
sample message as the recorder does), a panel per module and side from whichever supply
gives it (`Family.readings`), each cooling plant's cold surfaces and set-point (its
`CoolingContract`); the event log (`events`) marks alarms and interlocks on every time axis.

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
from trackerdcs.core.registry import COOLING, POWER, with_role
from trackerdcs.deploy.config import DeployConfig
from trackerdcs.power.modules import supplies
from trackerdcs.storage.schema import Schema, decode, for_stand

DATASOURCE_UID = "trackerdcs-influxdb"
DASHBOARDS_IN_POD = "/var/lib/grafana-dashboards"
SECRET = "/run/secrets/trackerdcs/influx/grafana.password"


@dataclass(frozen=True)
class Series:
    """Where the recorder keeps one device's readings: the measurement and the condition
    on its tags that picks the device (found by decoding a sample message as the recorder
    does, so that a dashboard queries exactly what is written)."""

    measurement: str
    where: str = ""
    fields: frozenset[str] = frozenset()  # of the sample's, those the recorder keeps


def stored(schema: Schema, topic: str, sample: dict[str, Any]) -> Series | None:
    points, _ = decode(topic, json.dumps({**sample, "ts": 1.0}).encode(), schema)
    if not points:
        return None
    keys = [(k, v) for k, v in points[0].tags if k in ("id", "channel", "service")]
    return Series(points[0].measurement, " AND ".join(f"\"{k}\" = '{v}'" for k, v in keys),
                  frozenset(p.field for p in points))  # fmt: skip


@dataclass(frozen=True)
class Supplied:
    """One side (LV or HV) of one module, as its supply's channel records it."""

    module: str
    side: str
    series: Series
    volts: str
    amps: str
    amps_unit: str


@dataclass(frozen=True)
class Cooled:
    """A cooling plant's status as recorded: its cold surfaces, set-point and state."""

    title: str
    series: Series
    surfaces: dict[str, str]
    setpoint: str
    fields: frozenset[str]


@dataclass(frozen=True)
class Names:
    """Where the recorder puts each thing, for this stand and schema."""

    channels: str
    channel_tag: str
    power_status: str
    safety: str
    supplied: tuple[Supplied, ...] = ()
    cooling: tuple[Cooled, ...] = ()
    events: str = "events"
    sensors: str = "sensors"

    @staticmethod
    def of(stand: StandBase) -> Names:
        rec = stand.section("recorder")
        name = rec.schema_ if rec is not None else "reference"
        schema = for_stand(stand, name)
        power = next(iter(peers.power(stand)), "dcs")
        safety = peers.safety(stand)
        supplied, cooling = _supplied(stand, schema), _cooling(stand, schema)
        if name == "reference":
            return Names("channels", "id", f"{power}_status", f"{safety}.status", supplied,
                         cooling)  # fmt: skip
        return Names(f"{power}.channel", "channel", f"{power}.status", f"{safety}.status",
                     supplied, cooling)  # fmt: skip


def _supplied(stand: StandBase, schema: Schema) -> tuple[Supplied, ...]:
    """Each module's LV and HV readings, from whichever supply gives it each side."""
    out = []
    given = supplies(stand)
    for fam in with_role(POWER):
        section, svc = stand.section(fam.name), peers.service_name(stand, fam.name)
        if not fam.readings or section is None or svc is None:
            continue
        sides = given.get(svc) or {}
        for cid, ch in sorted(section.channels.items()):
            for side in sides.get(ch.module, ()) if ch.module else ():
                if side not in fam.readings:
                    continue
                volts, amps, unit = fam.readings[side]
                sample = {"module": ch.module, volts: 0.0, amps: 0.0}
                where = (stored(schema, f"{svc}/channel/{cid}", sample)
                         or stored(schema, f"{svc}/channels", {**sample, "id": cid}))  # fmt: skip
                if where is not None and {volts, amps} <= where.fields:
                    out.append(Supplied(ch.module, side, where, volts, amps, unit))
    return tuple(out)


def _cooling(stand: StandBase, schema: Schema) -> tuple[Cooled, ...]:
    out = []
    for fam in with_role(COOLING):
        svc = peers.service_name(stand, fam.name)
        contract = fam.cooling
        if svc is None or contract is None or stand.section(fam.name) is None:
            continue
        setpoint = contract.safe[0].field.format(slot=1) if contract.safe else ""
        # a chiller's heating/cooling power, where its status has one (its reference record)
        declared = {f for m in fam.history if m.topic == "status" for f in m.fields}
        power = ["power"] if "power" in declared else []
        sample = {f: 0.0 for f in [*contract.surfaces, setpoint, *power] if f}
        where = stored(schema, f"{svc}/status", {**sample, "fsm_state": "ON"})
        if where is None:
            continue
        surfaces = {f: what for f, what in contract.surfaces.items() if f in where.fields}
        if surfaces:
            out.append(Cooled(svc, where, surfaces,
                              setpoint if setpoint in where.fields else "",
                              where.fields))  # fmt: skip
    return tuple(out)


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
    for c in n.cooling:
        first = next(iter(c.surfaces))
        b.panel(f"{c.title}: {c.surfaces[first]}", [_q(
            f'SELECT last("{first}") FROM "{c.series.measurement}" '
            f"WHERE {_and(c.series.where)}$timeFilter")], "stat", "celsius", w=6, h=4)  # fmt: skip
    b.panel("HV per module", [_q(_series(n.channels, "hv_vMon", by='"module"'),
                                 alias="$tag_module")], unit="volt")  # fmt: skip
    b.panel("Dew point and temperatures", _environment_targets(n), unit="celsius")
    b.panel("Events", [_q(f'SELECT "text", "kind", "service", "module" FROM "{n.events}" '
                          "WHERE $timeFilter ORDER BY time DESC LIMIT 50")],
            "table", w=24, h=8)  # fmt: skip

    b = out["modules"] = _Board("trackerdcs-modules", f"{stand.stand.name}: modules", n)
    for sup in sorted(n.supplied, key=lambda x: (x.module, x.side != "lv")):
        s, tag = sup.series, sup.side.upper()
        b.panel(f"{sup.module} {tag}", [
            _q(_series(s.measurement, sup.volts, s.where), "A", f"{tag} V"),
            _q(_series(s.measurement, sup.amps, s.where), "B", f"{tag} I"),
        ], unit="volt", fieldConfig={"defaults": {"unit": "volt"}, "overrides": [{
            "matcher": {"id": "byName", "options": f"{tag} I"},
            "properties": [{"id": "unit", "value": sup.amps_unit},
                           {"id": "custom.axisPlacement", "value": "right"}]}]})  # fmt: skip

    b = out["environment"] = _Board("trackerdcs-environment", f"{stand.stand.name}: environment", n)
    b.panel("Dew point against the coldest surface", _environment_targets(n), unit="celsius",
            w=24)  # fmt: skip
    b.panel("Temperature", [_q(_series(n.sensors, "temperature", by='"sensor"'),
                               alias="$tag_sensor")], unit="celsius")  # fmt: skip
    b.panel("Relative humidity", [_q(_series(n.sensors, "humidity", by='"sensor"'),
                                     alias="$tag_sensor")], unit="humidity")  # fmt: skip

    if n.cooling:
        b = out["cooling"] = _Board("trackerdcs-cooling", f"{stand.stand.name}: cooling", n)
        for c in n.cooling:
            s = c.series
            temps = [_q(_series(s.measurement, f, s.where), chr(65 + i), what)
                     for i, (f, what) in enumerate(c.surfaces.items())]  # fmt: skip
            if c.setpoint:
                temps.append(_q(_series(s.measurement, c.setpoint, s.where), chr(65 + len(temps)),
                                "set-point"))  # fmt: skip
            b.panel(f"{c.title}: cold surfaces and set-point", temps, unit="celsius")
            if "power" in c.fields:
                b.panel(f"{c.title}: power (negative: cooling)",
                        [_q(_series(s.measurement, "power", s.where))], unit="percent")  # fmt: skip
            b.panel(f"{c.title}: state", [_q(f'SELECT last("fsm_state") FROM "{s.measurement}" '
                                              f"WHERE {_and(s.where)}$timeFilter")],
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
    for c in n.cooling:  # the coldest surfaces: the dew point must stay below them
        for f, what in c.surfaces.items():
            out.append(_q(_series(c.series.measurement, f, c.series.where), chr(65 + len(out)),
                          f"{c.title} {what}"))  # fmt: skip
    return out


def _and(where: str) -> str:
    return f"{where} AND " if where else ""


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
