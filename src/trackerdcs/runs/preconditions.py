"""Whether the stand is ready for a run, from what the runs service hears on the bus.

Pure logic over a `Readiness` view (no bus, no clock of its own): each check returns the
reasons a start is refused, in words an operator acts on.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from itertools import pairwise

from trackerdcs.core import contracts
from trackerdcs.runs.config import Calibration, Stable


@dataclass
class Readiness:
    channels: dict[str, dict[str, object]] = field(default_factory=dict)  # id -> channel state
    safety: contracts.SafetyStatus | None = None
    alarms: dict[str, contracts.AlarmState] = field(default_factory=dict)
    temps: dict[str, deque[tuple[float, float]]] = field(default_factory=dict)  # (ts, °C)
    latest: dict[str, contracts.Reading] = field(default_factory=dict)  # sensor -> reading

    def add_temperature(self, sensor: str, ts: float, value: float, keep: float) -> None:
        q = self.temps.setdefault(sensor, deque())
        q.append((ts, value))
        while q and q[0][0] < ts - keep:
            q.popleft()


def power_problems(r: Readiness, modules: dict[str, str], need: Calibration) -> list[str]:
    """`modules`: channel id -> module name."""
    out = []
    for cid, module in modules.items():
        ch = r.channels.get(cid)
        if ch is None or not ch.get("connected", False):
            out.append(f"{module} (channel {cid}): power state unknown")
            continue
        state = str(ch.get("fsm_state"))
        if need.power == "lv" and state not in ("LV_ON", "HV_ON", "HV_RAMP"):
            out.append(f"{module} (channel {cid}) is {state}: LV must be on")
            continue
        if need.power == "hv" and state != "HV_ON":
            out.append(f"{module} (channel {cid}) is {state}: HV must be on"
                       + (f" at {need.bias:g} V" if need.bias is not None else ""))  # fmt: skip
            continue
        v, vset = ch.get("lv_vMon"), ch.get("lv_setV")
        if (isinstance(v, int | float) and isinstance(vset, int | float)
                and abs(v - vset) > max(0.2, 0.03 * abs(vset))):  # fmt: skip
            out.append(f"{module} (channel {cid}) LV reads {v:.2f} V of {vset:g} V (ramping?)")
            continue
        volts = ch.get("hv_vMon")
        if (
            need.power == "hv"
            and need.bias is not None
            and (not isinstance(volts, int | float) or abs(abs(volts) - need.bias) > need.bias_band)
        ):
            out.append(f"{module} (channel {cid}) HV reads {volts} V, not {need.bias:g} V "
                       f"± {need.bias_band:g}")  # fmt: skip
    return out


def stability_problems(r: Readiness, sensors: list[str], s: Stable, now: float) -> list[str]:
    if s.for_s <= 0:
        return []
    out = []
    for name in sensors:
        q = [(t, v) for t, v in r.temps.get(name, ()) if t >= now - s.for_s]
        history = r.temps.get(name)
        if not q or history is None or history[0][0] > now - s.for_s + max(2.0, s.for_s * 0.05):
            out.append(f"temperature of {name}: not {s.for_s:g} s of readings yet")
            continue
        before = [t for t, _v in history if t < now - s.for_s][-1:] or [now - s.for_s]
        times = before + [t for t, _v in q] + [now]
        gap = max((b - a for a, b in pairwise(times)), default=0.0)
        if gap > max(10.0, s.for_s / 4):
            out.append(f"temperature of {name}: no reading for {gap:.0f} s in the last "
                       f"{s.for_s:g} s")  # fmt: skip
            continue
        spread = max(v for _t, v in q) - min(v for _t, v in q)
        if spread > s.band:
            out.append(f"temperature of {name} not stable: {spread:.2f} K over the last "
                       f"{s.for_s:g} s (band {s.band:g} K)")  # fmt: skip
    return out


def safety_problems(r: Readiness, margin_min: float | None) -> list[str]:
    out = []
    if r.safety is None:
        return ["no safety status (is the safety service running?)"]
    if r.safety.state == "ACTION":
        out.append(f"safety ACTION: {r.safety.message}")
    dew = (r.safety.interlocks or {}).get("dewpoint")
    value = dew.get("value") if isinstance(dew, dict) else None
    if margin_min is not None:
        if not isinstance(value, int | float):
            out.append("dew-point margin unknown")
        elif value < margin_min:
            out.append(f"dew-point margin {value:.1f} K is below {margin_min:g} K")
    elif isinstance(dew, dict) and dew.get("state") not in ("OK", None):
        out.append(f"dew-point margin {dew.get('state')}: {dew.get('message', '')}")
    for a in r.alarms.values():
        if a.severity in ("MAJOR", "INVALID") and not a.acknowledged:
            out.append(f"unacknowledged {a.severity} alarm {a.name}: {a.message}")
    return out
