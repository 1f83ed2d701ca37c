"""The stand conditions of a run, from the historian, by the run's UTC start and end.

This is the synchronisation the reference stack left undone: no clock is shared but UTC,
every recorded value carries its own UTC `ts`, and a run's document holds, for
[start, end], the minimum, mean and maximum of every temperature, humidity and dew point,
the dew-point margin safety computed, the chiller's temperatures, and each module's LV and
HV voltage and current. State is published on change: the value in force when the window
opens counts too (`at_start`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from trackerdcs.storage.historian import Historian
from trackerdcs.storage.points import Value, parse_series

# state is published on change (deadbands) and republished every few seconds: the value in
# force when the window opens is the last one before it, looked for this far back
LOOKBACK = 600.0  # s
SENSOR_FIELDS = ("temperature", "humidity", "dewpoint")
MODULE_FIELDS = ("lv_vMon", "lv_iMon", "hv_vMon", "hv_iMon")
# the Julabo's bath, the MARTA's CO2 supply, return, flow and set-point
CHILLER_FIELDS = ("internal_temp", "external_temp", "setpoint", "CO2_TT05", "CO2_TT06",
                  "CO2_FT01", "temperature_setpoint")  # fmt: skip


def summary(points: Sequence[tuple[float, Value]], start: float) -> dict[str, Any] | None:
    """min/mean/max of the value in force at `start` and every point after it; `n`: the
    points inside the window; `at_start`: the value in force when it opened."""
    numbers = [(t, float(v)) for t, v in points if not isinstance(v, str)]
    before = [v for t, v in numbers if t < start][-1:]
    inside = [v for t, v in numbers if t >= start]
    values = before + inside
    if not values:
        return None
    return {"min": min(values), "mean": sum(values) / len(values), "max": max(values),
            "n": len(inside), "at_start": before[0] if before else None}  # fmt: skip


def snapshot(h: Historian, start: float, end: float, power: str = "dcs",
             cooling: tuple[str, ...] = ("julabo",), safety: str = "safety",
             modules: dict[str, str] | None = None,
             reference: Mapping[str, str] | None = None) -> dict[str, Any]:  # fmt: skip
    """`modules`: channel id -> module name (only those are summarised; None: every one).
    `reference`: topic -> measurement of the reference schema (`dcs/channels` -> `channels`),
    when the recorder writes it: both namings are read."""
    ref = reference or {}
    channel_tag = {f"{power}.channel": "channel"}
    if f"{power}/channels" in ref:
        channel_tag[ref[f"{power}/channels"]] = "id"
    chillers = {f"{c}.status": c for c in cooling}
    chillers.update({ref[f"{c}/status"]: c for c in cooling if f"{c}/status" in ref})
    out: dict[str, Any] = {"window": {"start": start, "end": end}, "sensors": {},
                           "modules": {}, "chiller": {}, "dewpoint_margin": None}  # fmt: skip

    def summarise(key: str) -> dict[str, Any] | None:
        return summary(h.raw(key, start - LOOKBACK, end), start)

    for key in h.series(""):
        try:
            series = parse_series(key)
        except ValueError:
            continue
        meas, tags, field = series.measurement, series.tags, series.field
        if meas == "sensors" and field in SENSOR_FIELDS:
            out["sensors"].setdefault(tags.get("sensor", "?"), {})[field] = summarise(key)
        elif meas in channel_tag and field in MODULE_FIELDS:
            cid = tags.get(channel_tag[meas], "?")
            if modules is not None and cid not in modules:
                continue
            name = (modules or {}).get(cid) or tags.get("module") or f"channel {cid}"
            entry = out["modules"].setdefault(name, {"channel": cid})
            entry[field] = summarise(key)
        elif meas in chillers and field in CHILLER_FIELDS:
            out["chiller"].setdefault(chillers[meas], {})[field] = summarise(key)
        elif meas == f"{safety}.status" and field == "interlocks.dewpoint.value":
            out["dewpoint_margin"] = summarise(key)
    return out
