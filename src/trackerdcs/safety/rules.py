"""Interlock rules, each an object of one shape: `evaluate(view, previous) -> verdicts`.

A rule sees only a `View` of the stand (current readings with their times, the power and
cooling states, who is online) and its own previous levels (for hysteresis and grace
timers); it returns one `Verdict` per thing it judges. No bus, no clock of its own: every
rule is tested alone with a hand-made view.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Protocol

from trackerdcs.core import contracts
from trackerdcs.core.cooling import REFERENCE_CHILLER, CoolingContract
from trackerdcs.core.ordering import FUTURE_TOLERANCE
from trackerdcs.safety.config import (
    ChillerRule,
    DewpointRule,
    DoorRule,
    OvertempRule,
    ServicesRule,
    StaleRule,
)
from trackerdcs.safety.levels import ACTION, OK, WARNING, grade

COLD_KINDS = {"coldbox", "surface", "module"}
POWERED = {"LV_ON", "HV_RAMP", "HV_ON", "ERROR", "DISCONNECTED", "INIT"}  # unknown is not off
UNKNOWN_POWER = {"DISCONNECTED", "INIT"}


@dataclass(frozen=True)
class Verdict:
    key: str
    state: str
    value: float | None
    message: str


@dataclass
class View:
    """What safety knows now. `readings` hold only sensors seen; ages come from their `ts`."""

    now: float  # UTC epoch seconds
    uptime: float  # s since the safety service started
    kinds: dict[str, str]  # sensor name -> kind (from the stand file)
    readings: dict[str, contracts.Reading] = field(default_factory=dict)
    power: dict[str, contracts.PowerStatus] = field(default_factory=dict)
    ever_online: set[str] = field(default_factory=set)  # seen `online: true` since our start
    cooling: dict[str, contracts.ChillerStatus] = field(default_factory=dict)
    # cooling service -> how its family is read (running states, cold surfaces)
    cooling_contracts: dict[str, CoolingContract] = field(default_factory=dict)
    online: dict[str, bool] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)  # sensor -> service it came from
    stale_after: float = 30.0
    stale_warning: float = 10.0  # s: before this much uptime, no reading is not yet news

    def staleness(self, sensor: str) -> tuple[float, str]:
        """(age, why) of a sensor's reading. A reading whose service is offline, or dated
        in the future (a wrong clock or a forged message), has no usable age: infinite."""
        r = self.readings.get(sensor)
        if r is None or r.ts is None:
            return self.uptime, "never seen"
        source = self.sources.get(sensor, "")
        if self.online.get(source) is False:
            return math.inf, f"{source} service offline"
        if r.ts > self.now + FUTURE_TOLERANCE:
            return math.inf, f"reading dated {r.ts - self.now:.0f} s in the future"
        age = max(0.0, self.now - r.ts)
        return age, f"silent for {age:.0f} s"

    def contract(self, cooling: str) -> CoolingContract:
        # a cooling service named by hand, of no family: as the reference chiller backend
        return self.cooling_contracts.get(cooling, REFERENCE_CHILLER)

    def cooling_surfaces(self) -> list[tuple[float, str]]:
        """(°C, what) of every cold surface of the cooling services online."""
        return [(t, f"{name} {what}") for name, c in self.cooling.items()
                if self.online.get(name, False)
                for fld, what in self.contract(name).surfaces.items()
                if (t := c.number(fld)) is not None]  # fmt: skip

    def age(self, sensor: str) -> float:
        return self.staleness(sensor)[0]

    def selected(self, names: list[str]) -> list[str]:
        """The sensors a rule names, or every sensor of the stand."""
        return names or list(self.kinds)

    def fresh(self, sensor: str) -> contracts.Reading | None:
        r = self.readings.get(sensor)
        if r is None or self.age(sensor) > self.stale_after:
            return None
        return r

    def powered(self) -> bool:
        """Any power service with a channel that is, or may be, on. In safety's first
        `stale_warning` s a state not yet read back (INIT, DISCONNECTED) is not counted: the
        services are still connecting, and a warning then latched an alarm at every start."""
        maybe = POWERED if self.uptime >= self.stale_warning else POWERED - UNKNOWN_POWER
        for name, status in self.power.items():
            if not self.online.get(name, False):
                continue  # the power service's own watchdog covers a dead service
            if any(s in maybe for s in status.channels.values()):
                return True
        return False


Previous = dict[str, str]  # key -> level at the last evaluation


class Rule(Protocol):
    def evaluate(self, v: View, prev: Previous) -> list[Verdict]: ...


class Held:
    """Grace timers: how long each condition has held without a break, and the verdict —
    WARNING at once, ACTION once it has held `limit` s (never without a limit)."""

    def __init__(self) -> None:
        self._since: dict[str, float] = {}

    def judge(self, key: str, bad: bool, now: float, limit: float | None, ok: str,
              why: str) -> Verdict:  # fmt: skip
        if not bad:
            self._since.pop(key, None)
            return Verdict(key, OK, None, ok)
        held = now - self._since.setdefault(key, now)
        state = ACTION if limit is not None and held >= limit else WARNING
        after = f" (action after {limit:g} s)" if limit is not None else ""
        return Verdict(key, state, round(held, 1), f"{why} for {held:.0f} s{after}")


@dataclass
class Dewpoint:
    """Margin = coldest surface − highest dew point of the air around it (K)."""

    cfg: DewpointRule

    def evaluate(self, v: View, prev: Previous) -> list[Verdict]:
        r = self.cfg
        surfaces = r.surfaces or [n for n, k in v.kinds.items() if k in COLD_KINDS]
        coldbox = [n for n, k in v.kinds.items() if k == "coldbox"]
        air = r.air or coldbox or list(v.kinds)
        temps = [(x.temperature, n) for n in surfaces
                 if (x := v.fresh(n)) is not None and x.temperature is not None]  # fmt: skip
        if r.chiller_is_surface:
            temps += v.cooling_surfaces()
        dews = [(x.dewpoint, n) for n in air
                if (x := v.fresh(n)) is not None and x.dewpoint is not None]  # fmt: skip
        if not temps or not dews:
            missing = "surface temperature" if not temps else "dew point"
            if v.uptime < v.stale_warning:
                # just started: the first readings are on their way (the stale rule still
                # counts their age); a warning now would be a nuisance alarm at every start
                return [Verdict("dewpoint", OK, None, f"waiting for the first {missing}")]
            return [Verdict("dewpoint", WARNING, None, f"no current {missing}: margin unknown")]
        surface, sname = min(temps)
        dew, dname = max(dews)
        margin = surface - dew
        state = grade(prev.get("dewpoint", OK), margin, r.warning, r.action, r.hysteresis, True)
        return [Verdict("dewpoint", state, round(margin, 2),
                        f"margin {margin:.1f} K: coldest surface {surface:.1f} °C ({sname}), "
                        f"dew point {dew:.1f} °C ({dname})")]  # fmt: skip


@dataclass
class Overtemp:
    cfg: OvertempRule

    def evaluate(self, v: View, prev: Previous) -> list[Verdict]:
        r = self.cfg
        out = []
        for n in v.selected(r.sensors):
            x = v.fresh(n)
            if x is None or x.temperature is None:
                continue  # the stale rule covers missing data
            t, key = x.temperature, f"overtemp.{n}"
            state = grade(prev.get(key, OK), t, r.warning, r.action, r.hysteresis, False)
            out.append(Verdict(key, state, t, f"{n} at {t:.1f} °C (warning {r.warning:g}, "
                                              f"action {r.action:g})"))  # fmt: skip
        return out


@dataclass
class Stale:
    """A sensor whose reading is older than the limits counts as unsafe."""

    cfg: StaleRule

    def evaluate(self, v: View, prev: Previous) -> list[Verdict]:
        return [self.judge(v, n) for n in v.selected(self.cfg.sensors)]

    def judge(self, v: View, n: str) -> Verdict:
        r, (age, why) = self.cfg, v.staleness(n)
        state = ACTION if age > r.action else WARNING if age > r.warning else OK
        msg = f"sensor {n} {why}" if state != OK else f"sensor {n} current"
        return Verdict(f"stale.{n}", state, round(age, 1) if math.isfinite(age) else None, msg)


def cooling_problem(v: View, name: str) -> str:
    """What is wrong with cooling service `name` ("" when it runs)."""
    if not v.online.get(name, False):
        return f"{name} service offline"
    st = v.cooling.get(name, contracts.ChillerStatus())
    if st.fsm_state not in v.contract(name).running:
        return f"chiller {st.fsm_state}" + (f": {st.message}" if st.message else "")
    return ""


@dataclass
class Chiller:
    """Cooling stopped, in alarm or gone while modules are powered (after a grace time)."""

    cfg: ChillerRule
    names: list[str]
    bad: Held = field(default_factory=Held)

    def evaluate(self, v: View, prev: Previous) -> list[Verdict]:
        out = []
        for name in self.names:
            problem = cooling_problem(v, name)
            key = "chiller" if len(self.names) == 1 else f"chiller.{name}"
            out.append(self.bad.judge(key, bool(problem) and v.powered(), v.now, self.cfg.grace,
                                      problem or "chiller running",
                                      f"{problem} while modules are powered"))  # fmt: skip
        return out


@dataclass
class Services:
    """A required service offline warns at once and acts after `action_after` s (if set)."""

    cfg: ServicesRule
    required: list[str]
    offline: Held = field(default_factory=Held)

    def evaluate(self, v: View, prev: Previous) -> list[Verdict]:
        if v.uptime < 3:  # `online` of the others arrives as retained messages
            return []
        out = []
        for svc in self.required:
            up = v.online.get(svc, False)
            starting = svc not in v.ever_online and v.uptime < self.cfg.startup
            ok = f"{svc} online" if up else f"{svc} starting (not online yet)"
            why = f"{svc} offline" if svc in v.ever_online else f"{svc} never came online"
            out.append(self.offline.judge(f"service.{svc}", not up and not starting, v.now,
                                          self.cfg.action_after, ok, why))  # fmt: skip
        return out


HV_UNKNOWN_OR_ON = {"HV_RAMP", "HV_ON", "ERROR", "DISCONNECTED", "INIT"}


def door(v: View, cfg: DoorRule, power: list[str]) -> tuple[bool, list[str]]:
    """(safe to open, why not): every condition is checked, so the answer names them all."""
    why: list[str] = []
    room = cfg.room or [n for n, k in v.kinds.items() if k == "ambient"]
    temps: list[tuple[float, str]] = []
    dews: list[tuple[float, str]] = []
    for n in room:
        age, stale = v.staleness(n)
        r = v.readings.get(n)
        if r is None or age > cfg.max_age:
            why.append(f"room sensor {n} {stale}")
            continue
        if r.temperature is not None:
            temps.append((r.temperature, n))
        if r.dewpoint is not None:
            dews.append((r.dewpoint, n))
    if not room:
        why.append("no room sensor")
    why += [f"{name} offline: its cold surfaces unknown" for name in v.cooling
            if not v.online.get(name, False)]  # fmt: skip
    temps += v.cooling_surfaces()
    if not dews and room:
        why.append("no room dew point")
    elif temps and dews:
        (cold, cname), (dew, dname) = min(temps), max(dews)
        if cold <= dew + cfg.margin:
            why.append(f"{cname} at {cold:.1f} °C is not above the room dew point {dew:.1f} °C "
                       f"({dname}) + {cfg.margin:g} K")  # fmt: skip
    for name in power:
        status = v.power.get(name)
        if not v.online.get(name, False) or status is None:
            why.append(f"{name} offline: HV state unknown")
            continue
        on = sorted(c for c, s in status.channels.items() if s in HV_UNKNOWN_OR_ON)
        if on:
            why.append(f"HV not off on {name} channel(s) {', '.join(on)}")
    return not why, why
