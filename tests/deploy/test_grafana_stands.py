"""The generated dashboards of stands that are not the demo: Lyon (module LV from an HMP4040
through a relay box, HV from the CAEN, a Julabo) and the cold room (HMP LV, CAEN HV, MARTA
CO2). Each stand runs simulated with its recorder writing to a real InfluxDB (one in each
history schema); every query of every dashboard, Grafana's macros rendered, must return
data. (Grafana itself cannot run
here: no registry.)"""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.deploy.conftest import render
from tests.web.conftest import demo_of
from trackerdcs.config import load_stand
from trackerdcs.deploy import grafana
from trackerdcs.testing.influx import Influx

EXAMPLES = Path(__file__).parents[2] / "examples"


@pytest.mark.parametrize(("name", "schema"), [("lyon", "reference"), ("coldroom", "trackerdcs")])
def test_every_panel_of_the_stand_has_data(name: str, schema: str, tmp_path: Path) -> None:
    db = Influx(tmp_path / "influx").start()
    db.export_password()
    database = f"g{uuid.uuid4().hex[:8]}"

    def to_influx(data: dict[str, Any]) -> None:
        data["storage"] = yaml.safe_load(db.storage_yaml(database))["storage"]
        data["recorder"] = {**(data.get("recorder") or {}), "schema": schema}

    try:
        with demo_of(tmp_path, ("safety", "recorder"), EXAMPLES / f"{name}.yaml",
                     to_influx, timeout=90) as d:  # fmt: skip
            stand = load_stand(d.config)
            boards = grafana.dashboards(stand)
            modules = {p["title"] for p in boards["modules"]["panels"]}
            assert len(modules) == 8, modules  # 4 modules, LV and HV each
            # an alarm for the alarm panels and annotations: humid air in the cold box
            box = next(x.name for x in stand.sensors.sensors if x.kind == "coldbox")
            d.probe.publish(f"sim/sensors/{box}", {"humidity": 99.0})
            d.probe.wait_json("safety/status", lambda s: s["state"] != "OK", timeout=30)
            d.probe.publish(f"sim/sensors/{box}", {"humidity": None})
            http = httpx.Client(base_url=db.url, timeout=10,
                                auth=(db.username, db.password))  # fmt: skip
            deadline = time.monotonic() + 90
            while True:
                assert d.probe.command("recorder", "flush", timeout=30)["ok"]
                empty = []
                for board, dash in boards.items():
                    for title, q in grafana.queries(dash):
                        r = http.get("/query", params={"db": database, "q": render(q)})
                        res = r.json()["results"][0]
                        assert r.status_code == 200 and "error" not in res, (title, q, res)
                        if not any(
                            v[1:] != [None] * (len(v) - 1)
                            for s in res.get("series", [])
                            for v in s["values"]
                        ):
                            empty.append(f"{board}/{title}: {q}")
                if not empty or time.monotonic() > deadline:
                    break
                time.sleep(3)
            assert not empty, "panels without data:\n" + "\n".join(empty)
    finally:
        db.stop()
