"""The labs' Grafana dashboards on trackerdcs's history: the demo stand (simulated CAEN,
Julabo, ESP boards; the recorder on its default `reference` schema) writes a real InfluxDB,
and the InfluxQL a reference dashboard runs (Grafana's `$timeFilter` and `$__interval`
rendered to concrete InfluxQL; Grafana itself cannot run here) returns data, with the field
types of PROTOCOLS.md §1."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import httpx
import yaml

from trackerdcs.testing.demo import DEMO_SERVICES, demo_bus, demo_copy, running_demo, wait_online
from trackerdcs.testing.influx import Influx
from trackerdcs.testing.probe import Probe

TIME_FILTER = "time > now() - 5m"
INTERVAL = "10s"

DASHBOARD = {
    "lv current per channel": 'SELECT mean("lv_iMon") FROM "channels" WHERE "id" =~ /^(0|1)$/ '
    'AND $timeFilter GROUP BY time($__interval), "id"',
    "hv voltage per module": 'SELECT mean("hv_vMon") FROM "channels" WHERE $timeFilter '
    'GROUP BY time($__interval), "module"',
    "chiller": 'SELECT last("internal_temp") FROM "chiller"',
    "chiller state": 'SELECT last("fsm_state") FROM "chiller"',
    "ESP board": """SELECT mean("BME_temp") FROM "sensors" WHERE "sensor" = 'ESP01' AND """
    "$timeFilter GROUP BY time($__interval)",
    "stand state": 'SELECT last("fsm_state") FROM "dcs_status"',
    "channel states": 'SELECT last("fsm_state"), last("lv_status") FROM "channels" GROUP BY "id"',
}


def render(q: str) -> str:
    return q.replace("$timeFilter", TIME_FILTER).replace("$__interval", INTERVAL)


def test_the_labs_dashboard_queries_return_data_with_the_reference_types(
    influx: Influx, tmp_path: Path
) -> None:
    database = f"ref{uuid.uuid4().hex[:6]}"
    cfg = demo_copy(tmp_path / "cfg")
    data = yaml.safe_load(cfg.read_text())
    data["storage"] = yaml.safe_load(influx.storage_yaml(database))["storage"]
    data["recorder"] = {"keepalive": 2.0}  # every series gets its second point soon
    cfg.write_text(yaml.safe_dump(data, sort_keys=False))
    http = httpx.Client(base_url=influx.url, auth=(influx.username, influx.password), timeout=10)

    def influxql(q: str) -> list[dict]:
        r = http.get("/query", params={"db": database, "q": q})
        r.raise_for_status()
        result = r.json()["results"][0]
        assert "error" not in result, (q, result)
        return result.get("series", [])

    with running_demo(cfg, tmp_path / "state", tmp_path / "demo.log"):
        bus = demo_bus(cfg)
        assert all(wait_online(bus, DEMO_SERVICES, 120).values())
        with Probe(bus, subscribe=("dcs/status", "recorder/#")) as p:
            p.wait_json("dcs/status", lambda s: s["fsm_state"] == "LV_OFF", 60)
            assert p.command("dcs", "switch/lv", "on", timeout=20)["ok"]
            p.wait_json("dcs/status", lambda s: s["fsm_state"] == "LV_ON", 60)
            time.sleep(3)  # past a keep-alive period: every series has more than its first point
            assert p.command("recorder", "flush", timeout=30)["ok"]

        # every panel of the dashboard has data
        for panel, q in DASHBOARD.items():
            series = influxql(render(q))
            values = [v for s in series for v in s["values"] if any(x is not None for x in v[1:])]
            assert values, f"panel '{panel}' is empty: {render(q)}"
        # lv_iMon per channel: the channel id is the tag `id`, as in the labs' template
        ids = influxql('SHOW TAG VALUES FROM "channels" WITH KEY = "id"')[0]["values"]
        assert sorted(v[1] for v in ids) == ["1", "2", "3", "4"]
        lv = influxql(render(DASHBOARD["lv current per channel"]))
        assert {s["tags"]["id"] for s in lv} == {"1"}
        assert any(v[1] and v[1] > 0.5 for s in lv for v in s["values"])  # LV on: amps drawn
        tag_keys = {v[0] for v in influxql('SHOW TAG KEYS FROM "channels"')[0]["values"]}
        assert tag_keys == {"id", "module", "lv_board", "lv_channel", "hv_board", "hv_channel"}

        # the field types the labs' Telegraf writes
        types: dict[str, dict[str, str]] = {}
        for s in influxql("SHOW FIELD KEYS"):
            types[s["name"]] = dict(s["values"])
        ch = types["channels"]
        assert ch["lv_iMon"] == ch["hv_vMon"] == ch["lv_setV"] == "float"
        assert ch["lv_status"] == ch["hv_status"] == ch["hv_tripInt"] == "integer"
        assert ch["hv_imRange"] == ch["hv_tripMode"] == "integer"  # the enum index
        assert ch["fsm_state"] == "string"
        assert "hv_board" not in ch and "active" not in ch  # tags and our extras: no fields
        chiller = types["chiller"]
        assert chiller["status_code"] == chiller["used_setpoint"] == "integer"
        assert chiller["internal_temp"] == "float" and chiller["fsm_state"] == "string"
        assert types["dcs_status"] == {"fsm_state": "string"}
        assert types["sensors"]["BME_temp"] == types["sensors"]["BME_humi"] == "float"
        # the enum as the IOC serves it: the demo's PDwn is Ramp, index 1 (Kill, Ramp)
        mode = influxql('SELECT last("hv_tripMode") FROM "channels"')[0]["values"][0][1]
        assert mode == 1
