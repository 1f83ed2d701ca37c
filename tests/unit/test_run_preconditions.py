"""Run preconditions as pure logic: each refusal names the module and what is missing."""

from __future__ import annotations

from trackerdcs.core import contracts
from trackerdcs.runs.config import Calibration, Stable
from trackerdcs.runs.preconditions import (
    Readiness,
    power_problems,
    safety_problems,
    stability_problems,
)

MODS = {"1": "M1"}


def _ch(state: str, lv: float = 10.5, hv: float = 0.0) -> dict:
    return {"connected": True, "fsm_state": state, "lv_vMon": lv, "lv_setV": 10.5, "hv_vMon": hv}


def test_power_as_the_tag_needs() -> None:
    r = Readiness(channels={"1": _ch("LV_OFF", lv=0.0)})
    assert power_problems(r, MODS, Calibration()) == ["M1 (channel 1) is LV_OFF: LV must be on"]
    r.channels["1"] = _ch("LV_ON", lv=4.0)
    assert "LV reads 4.00 V of 10.5 V (ramping?)" in power_problems(r, MODS, Calibration())[0]
    r.channels["1"] = _ch("LV_ON")
    assert power_problems(r, MODS, Calibration()) == []
    hv = Calibration(power="hv", bias=300)
    assert power_problems(r, MODS, hv) == ["M1 (channel 1) is LV_ON: HV must be on at 300 V"]
    r.channels["1"] = _ch("HV_ON", hv=250.0)
    assert "HV reads 250.0 V, not 300 V" in power_problems(r, MODS, hv)[0]
    r.channels["1"] = _ch("HV_ON", hv=-299.0)  # negative bias read back as its magnitude
    assert power_problems(r, MODS, hv) == []
    r.channels["1"] = {**_ch("HV_ON"), "connected": False}
    assert "power state unknown" in power_problems(r, MODS, hv)[0]


def test_temperature_must_be_stable_over_the_whole_window() -> None:
    r, s = Readiness(), Stable(band=0.5, for_s=60)
    for t in range(0, 30):
        r.add_temperature("box", 1000.0 + t, -20.0, keep=120)
    assert "not 60 s of readings yet" in stability_problems(r, ["box"], s, 1030.0)[0]
    for t in range(30, 70):
        r.add_temperature("box", 1000.0 + t, -20.0 + (0.9 if t == 65 else 0.0), keep=120)
    assert "not stable: 0.90 K" in stability_problems(r, ["box"], s, 1070.0)[0]
    r.add_temperature("box", 1130.0, -20.0, keep=120)
    assert "no reading for 61 s" in stability_problems(r, ["box"], s, 1130.0)[0]


def test_safety_refuses_action_low_margin_and_unacknowledged_major_alarms() -> None:
    r = Readiness()
    assert safety_problems(r, 5.0) == ["no safety status (is the safety service running?)"]
    r.safety = contracts.SafetyStatus(state="OK", interlocks={"dewpoint": {"value": 3.2}})
    assert safety_problems(r, 5.0) == ["dew-point margin 3.2 K is below 5 K"]
    r.safety = contracts.SafetyStatus(state="OK", interlocks={"dewpoint": {"value": 12.0}})
    major = contracts.AlarmState(name="dcs.ch1", severity="MAJOR", acknowledged=False,
                                 message="over-current")  # fmt: skip
    r.alarms["dcs.ch1"] = major
    assert safety_problems(r, 5.0) == ["unacknowledged MAJOR alarm dcs.ch1: over-current"]
