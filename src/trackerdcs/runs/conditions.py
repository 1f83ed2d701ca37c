"""The stand conditions of a run, from the historian, by the run's UTC start and end.

This is the synchronisation the reference stack left undone: no clock is shared but UTC,
every recorded value carries its own UTC `ts`, and a run's document holds, for
[start, end], the minimum, mean and maximum of every temperature, humidity and dew point,
the dew-point margin safety computed, the cooling plant's temperatures (the fields its
cooling contract names), and each module's LV and HV voltage and current from whichever
supply gives each side (the power families' declared readings), with their units. State
is published on change: the value in force when the window opens counts too (`at_start`).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from trackerdcs.power.modules import SideReadings
from trackerdcs.storage.historian import Historian
from trackerdcs.storage.points import Value, parse_series

# state is published on change (deadbands) and republished every few seconds: the value in
# force when the window opens is the last one before it, looked for this far back
LOOKBACK = 600.0  # s
SENSOR_FIELDS = ("temperature", "humidity", "dewpoint")


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


def snapshot(h: Historian, start: float, end: float, sources: Sequence[SideReadings] = (),
             cooling: Mapping[str, Sequence[str]] | None = None, safety: str = "safety",
             modules: Collection[str] | None = None,
             reference: Mapping[str, str] | None = None) -> dict[str, Any]:  # fmt: skip
    """`sources`: each power service's readings of the side it gives (whichever family);
    `cooling`: each cooling service -> the status fields its contract names; `modules`: the
    run's module names (None: every one). `reference`: topic -> measurement of the
    reference schema (`dcs/channels` -> `channels`) when the recorder writes it: both
    namings are read. Each module's entry: `{lv: {service, channel, voltage, current,
    units}, hv: {...}}` with min/mean/max of each."""
    ref = reference or {}
    power: dict[str, list[tuple[SideReadings, str]]] = {}  # measurement -> (source, tag)
    for src in sources:
        power.setdefault(f"{src.service}.channel", []).append((src, "channel"))
        if f"{src.service}/channels" in ref:
            power.setdefault(ref[f"{src.service}/channels"], []).append((src, "id"))
    chill = dict(cooling or {})
    chillers = {f"{c}.status": c for c in chill}
    chillers.update({ref[f"{c}/status"]: c for c in chill if f"{c}/status" in ref})
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
        elif meas in power:
            module = tags.get("module")
            if module is None or (modules is not None and module not in modules):
                continue
            for src, tag in power[meas]:
                what = {src.volts: "voltage", src.amps: "current"}.get(field)
                if what is None or module not in src.modules:
                    continue
                side = out["modules"].setdefault(module, {}).setdefault(src.side, {
                    "service": src.service, "channel": tags.get(tag, "?"),
                    "units": {"voltage": "V", "current": src.current_unit}})  # fmt: skip
                side[what] = summarise(key)
        elif meas in chillers and field in chill[chillers[meas]]:
            out["chiller"].setdefault(chillers[meas], {})[field] = summarise(key)
        elif meas == f"{safety}.status" and field == "interlocks.dewpoint.value":
            out["dewpoint_margin"] = summarise(key)
    return out
