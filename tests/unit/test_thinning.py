"""Change-only writes: what is left out is within the deadband of what was stored, a step
stays a step, a flat line gets a keep-alive point, a quiet series its last value."""

from __future__ import annotations

from trackerdcs.storage.points import Point
from trackerdcs.storage.thinning import Thinning

TAGS = (("id", "1"),)


def pt(field: str, value: float | int | str, ts: float) -> Point:
    return Point("channels", field, value, ts, TAGS)


def test_noise_within_the_deadband_is_left_out_and_a_step_stays_a_step() -> None:
    th = Thinning({"hv_iMon": 0.01}, keepalive=60)
    noisy = [2.000, 2.004, 1.997, 2.003, 2.001]
    kept = [q for i, v in enumerate(noisy) for q in th.admit(pt("hv_iMon", v, 100.0 + i))]
    assert [q.value for q in kept] == [2.000]
    # the step: the last value before it is stored too, at its own time
    kept = th.admit(pt("hv_iMon", 2.5, 105.0))
    assert [(q.value, q.ts) for q in kept] == [(2.001, 104.0), (2.5, 105.0)]
    assert all(abs(v - 2.0) <= 0.01 for v in noisy)  # what was left out: within the band


def test_unchanged_fields_are_stored_once_then_every_keepalive() -> None:
    th = Thinning({}, keepalive=10)
    stored = [q for t in range(0, 31) for q in th.admit(pt("hv_board", 12, float(t)))]
    assert [q.ts for q in stored] == [0.0, 10.0, 20.0, 30.0]
    # strings and integers: stored when they change, whatever the deadband
    th = Thinning({"*": 5.0}, keepalive=100)
    states = ["LV_ON", "LV_ON", "HV_RAMP", "HV_ON", "HV_ON"]
    assert [q.value for i, s in enumerate(states) for q in th.admit(pt("fsm_state", s, i))] == [
        "LV_ON", "LV_ON", "HV_RAMP", "HV_ON"]  # fmt: skip
    assert [q.value for i, v in enumerate([1, 1, 3]) for q in th.admit(pt("lv_status", v, i))] \
        == [1, 1, 3]  # fmt: skip


def test_a_series_that_goes_quiet_gets_its_last_value_and_repeats_are_dropped() -> None:
    th = Thinning({"lv_vMon": 0.05}, keepalive=10)
    assert th.admit(pt("lv_vMon", 10.5, 0.0))
    assert th.admit(pt("lv_vMon", 10.51, 3.0)) == []
    assert th.admit(pt("lv_vMon", 10.51, 3.0)) == []  # the same reading again
    assert th.sweep(now=9.0) == []
    assert [(q.value, q.ts) for q in th.sweep(now=10.0)] == [(10.51, 3.0)]
    assert th.sweep(now=30.0) == []
    # a late reading (older than what was stored) is stored as it is, never dropped
    assert [q.ts for q in th.admit(pt("lv_vMon", 9.0, 1.0))] == [1.0]
    assert th.seen == 4 and th.kept == 3
