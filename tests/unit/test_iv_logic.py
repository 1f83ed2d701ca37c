"""IV scan logic without hardware: plan, points, stop criteria, 20 °C normalisation, CSV."""

from __future__ import annotations

import math

import pytest

from trackerdcs.runs import iv


def test_the_plan_reaches_the_stop_voltage_exactly() -> None:
    assert iv.plan(0, 30, 10) == [0, 10, 20, 30]
    assert iv.plan(0, 25, 10) == [0, 10, 20, 25]  # a short last step, never past the stop
    assert len(iv.plan(0, 800, 2)) == 401
    with pytest.raises(ValueError, match="step must be > 0"):
        iv.plan(0, 10, 0)


def test_a_point_averages_its_readings_and_ignores_non_readings() -> None:
    p = iv.point(100, [-99.8, -100.2, math.nan], [2.0, 2.2, 1.8, math.inf], 1.0, 20.0, 3.0)
    assert p.v == pytest.approx(100.0) and p.i == pytest.approx(2.0) and p.n == 3
    assert p.i_spread == pytest.approx(0.2)
    with pytest.raises(ValueError, match="no valid reading at 5 V"):
        iv.point(5, [math.nan], [1.0], 1.0)


def test_current_is_normalised_to_20_c() -> None:
    assert iv.normalise(4.0, 27.0) == pytest.approx(2.0)  # doubles every 7 °C
    assert iv.normalise(1.0, -1.0) == pytest.approx(8.0)


def _curve(currents: list[float]) -> list[iv.Point]:
    return [iv.point(10 * k, [10 * k], [c], float(k)) for k, c in enumerate(currents)]


def test_compliance_and_breakdown_stop_a_scan_but_a_normal_curve_does_not() -> None:
    lim = iv.Limits(compliance=10.0, breakdown_factor=5.0, breakdown_min_current=0.5)
    normal = _curve([0.0, 0.6, 1.1, 1.5, 1.8, 2.0, 2.1])
    assert not iv.judge(normal, lim).stop
    broken = _curve([0.0, 0.6, 1.1, 1.5, 1.8, 2.0, 6.0])
    v = iv.judge(broken, lim)
    assert v.stop and v.kind == "breakdown" and "at 60.0 V" in v.reason
    over = _curve([0.0, 3.0, 6.0, 9.0, 12.0])
    v = iv.judge(over, lim)
    assert v.stop and v.kind == "compliance" and "limit 10 µA" in v.reason


def test_csv_in_the_labs_format() -> None:
    pts = [iv.point(0, [0.1], [0.001], 1795600000.0, -20.0, 2.0),
           iv.point(10, [10.0], [0.5], 1795600001.0, -20.2, 2.2)]  # fmt: skip
    text = iv.to_csv(pts, iv.Header(module="PS_26_05-IBA_00001", station="Lyon cold box"))
    lines = text.splitlines()
    assert lines[:4] == ["# module: PS_26_05-IBA_00001", "# station: Lyon cold box",
                         "# average T (C): -20.10", "# average RH (%): 2.10"]  # fmt: skip
    assert lines[4].split(",")[:3] == ["V", "I_uA", "I_nA"]
    row = lines[6].split(",")
    assert row[0] == "10.00" and row[1] == "0.5" and row[2] == "500"
    assert row[-1] == "2026-11-25T09:46:41+00:00"  # UTC
