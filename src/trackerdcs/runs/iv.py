"""IV scans as pure logic (PROTOCOLS.md §6): the voltage plan, a point from several readings,
the criteria that stop a scan, the 20 °C normalisation, and the labs' CSV.

No bus, no clock: the scan procedure (next step of issue 13) sets a voltage, waits for the
read-back and the settling time, takes readings, and asks this module what they mean.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

DOUBLING_K = 7.0  # sensor leakage roughly doubles every 7 °C


def plan(start: float, stop: float, step: float) -> list[float]:
    """Voltages from `start` to `stop` (inclusive, the last step may be short), magnitudes
    in V; the sign of the bias is the channel's business."""
    if step <= 0:
        raise ValueError("step must be > 0")
    if stop < start:
        raise ValueError("stop must be >= start (a scan goes up; the ramp-down is separate)")
    n = math.floor((stop - start) / step + 1e-9)
    volts = [round(start + i * step, 6) for i in range(n + 1)]
    if volts[-1] < stop - 1e-9:
        volts.append(stop)
    return volts


def normalise(current: float, temperature: float, to: float = 20.0) -> float:
    """Leakage current at `to` °C, from a reading at `temperature` °C."""
    return current * 2 ** ((to - temperature) / DOUBLING_K)


@dataclass
class Point:
    v_set: float
    v: float  # mean read-back, V (magnitude)
    i: float  # mean current, µA
    i_spread: float  # standard deviation of the readings, µA
    n: int
    t: float | None  # UTC epoch s
    temperature: float | None = None
    humidity: float | None = None

    @property
    def i_20c(self) -> float | None:
        return normalise(self.i, self.temperature) if self.temperature is not None else None

    def as_dict(self) -> dict[str, Any]:
        """As stored in a run document (with the normalised current beside)."""
        return {**dataclasses.asdict(self), "i_20c": self.i_20c}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Point:
        return cls(**{f.name: d[f.name] for f in dataclasses.fields(cls)})


def point(v_set: float, volts: Sequence[float], currents: Sequence[float], t: float,
          temperature: float | None = None, humidity: float | None = None) -> Point:  # fmt: skip
    """One point from several readings (non-finite ones are no readings)."""
    v = [abs(x) for x in volts if math.isfinite(x)]
    i = [abs(x) for x in currents if math.isfinite(x)]
    if not v or not i:
        raise ValueError(f"no valid reading at {v_set:g} V")
    spread = statistics.stdev(i) if len(i) > 1 else 0.0
    return Point(v_set, statistics.fmean(v), statistics.fmean(i), spread, len(i), t,
                 temperature, humidity)  # fmt: skip


def settled(read_back: float, target: float, tolerance: float) -> bool:
    return abs(abs(read_back) - target) <= tolerance


@dataclass
class Limits:
    compliance: float  # µA: the software current limit
    breakdown_factor: float = 5.0  # dI/dV this many times the scan's typical slope
    breakdown_min_current: float = 0.5  # µA below which slopes are noise


@dataclass
class Verdict:
    stop: bool
    reason: str = ""
    kind: str = ""  # compliance | breakdown


def judge(points: Sequence[Point], lim: Limits) -> Verdict:
    """Whether the scan must stop after its latest point."""
    if not points:
        return Verdict(False)
    last = points[-1]
    if last.i >= lim.compliance:
        return Verdict(True, f"compliance: {last.i:.3g} µA at {last.v:.1f} V "
                             f"(limit {lim.compliance:g} µA)", "compliance")  # fmt: skip
    if len(points) < 4 or last.i < lim.breakdown_min_current:
        return Verdict(False)
    slopes = [(b.i - a.i) / (b.v - a.v) for a, b in pairwise(points)
              if b.v - a.v > 0]  # fmt: skip
    if len(slopes) < 3:
        return Verdict(False)
    typical = statistics.median(slopes[:-1])
    if typical > 0 and slopes[-1] > lim.breakdown_factor * typical:
        return Verdict(True, f"breakdown: dI/dV {slopes[-1]:.3g} µA/V at {last.v:.1f} V is "
                             f"{slopes[-1] / typical:.1f}× the curve's {typical:.3g} µA/V",
                       "breakdown")  # fmt: skip
    return Verdict(False)


@dataclass
class Header:
    module: str
    station: str
    channel: str = ""
    start: float | None = None
    extra: dict[str, str] = field(default_factory=dict)


def to_csv(points: Sequence[Point], h: Header) -> str:
    """The labs' IV CSV: `#` header lines (module, station, average T and RH), then columns
    V, I, T, RH, time (V in volts, I in µA and nA, time UTC ISO 8601)."""
    from datetime import UTC, datetime

    temps = [p.temperature for p in points if p.temperature is not None]
    hums = [p.humidity for p in points if p.humidity is not None]
    out = io.StringIO()
    out.write(f"# module: {h.module}\n# station: {h.station}\n")
    if h.channel:
        out.write(f"# channel: {h.channel}\n")
    out.write(
        f"# average T (C): {statistics.fmean(temps):.2f}\n" if temps else "# average T (C):\n"
    )
    out.write(
        f"# average RH (%): {statistics.fmean(hums):.2f}\n" if hums else "# average RH (%):\n"
    )
    for k, v in h.extra.items():
        out.write(f"# {k}: {v}\n")
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["V", "I_uA", "I_nA", "I_20C_uA", "I_spread_uA", "T_C", "RH_pct", "time_utc"])
    for p in points:
        when = datetime.fromtimestamp(p.t, UTC).isoformat() if p.t is not None else ""
        i20 = p.i_20c
        w.writerow([f"{p.v:.2f}", f"{p.i:.5g}", f"{p.i * 1000:.5g}",
                    f"{i20:.5g}" if i20 is not None else "", f"{p.i_spread:.3g}",
                    f"{p.temperature:.2f}" if p.temperature is not None else "",
                    f"{p.humidity:.1f}" if p.humidity is not None else "", when])  # fmt: skip
    return out.getvalue()
