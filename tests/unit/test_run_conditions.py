"""A run's conditions name each module's LV and HV from whichever supply gives it (issue 27:
an HMP-fed module's run documents had `lv_vMon: null`, only the CAEN's HV)."""

from __future__ import annotations

from pathlib import Path

import pytest

from trackerdcs.config import load_stand
from trackerdcs.power.modules import side_readings
from trackerdcs.runs.conditions import snapshot
from trackerdcs.storage.historian import open_historian
from trackerdcs.storage.points import Point

EXAMPLES = Path(__file__).parents[2] / "examples"
T0 = 1_790_000_000.0
M1 = "PS_26_05-IPG_00101"


def test_lyon_conditions_take_lv_from_the_hmp_and_hv_from_the_caen(tmp_path: Path) -> None:
    path = tmp_path / "lyon.yaml"
    db = f"historian: sqlite:///{tmp_path / 'h.sqlite'}"
    path.write_text((EXAMPLES / "lyon.yaml").read_text().replace(
        "historian: sqlite:///history.sqlite", db))  # fmt: skip
    stand = load_stand(path)
    sources = side_readings(stand)
    assert {(s.service, s.side) for s in sources} == {("hmp4040", "lv"), ("dcs", "hv")}
    h = open_historian(stand)
    try:
        hmp = (("channel", "1"), ("module", M1), ("service", "hmp4040"))
        caen = (("channel", "1"), ("module", M1), ("service", "dcs"))
        h.write([Point("hmp4040.channel", "vmon", 10.5 + i / 100, T0 + i, hmp) for i in range(5)]
                + [Point("hmp4040.channel", "imon", 0.9, T0 + i, hmp) for i in range(5)]
                + [Point("dcs.channel", "hv_vMon", 300.0, T0 + i, caen) for i in range(5)]
                + [Point("dcs.channel", "hv_iMon", 2.0, T0 + i, caen) for i in range(5)]
                # the CAEN gives this module no LV: a stray LV field of its is not taken
                + [Point("dcs.channel", "lv_vMon", 0.0, T0 + i, caen)
                   for i in range(5)])  # fmt: skip
        snap = snapshot(h, T0, T0 + 10, sources, {}, "safety", {M1})
    finally:
        h.close()
    lv, hv = snap["modules"][M1]["lv"], snap["modules"][M1]["hv"]
    assert lv["service"] == "hmp4040" and lv["channel"] == "1"
    assert lv["units"] == {"voltage": "V", "current": "A"}
    assert lv["voltage"]["min"] == pytest.approx(10.5) and lv["voltage"]["max"] == pytest.approx(
        10.54
    )
    assert lv["current"]["mean"] == pytest.approx(0.9)
    assert hv["service"] == "dcs" and hv["units"]["current"] == "µA"
    assert hv["voltage"]["mean"] == pytest.approx(300.0)
