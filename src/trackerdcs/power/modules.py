"""Module power across supplies: which service powers each module's LV and HV, and what
each says of it now.

A module may take its LV from one supply (an HMP4040 output) and its HV from another (a
CAEN channel). HV on with LV off damages it, so each power service publishes, retained, what
it supplies per module (`<service>/modules`: `{"modules": {"M1": {"lv": "on", "channel":
"2"}}, "ts": ...}`, a side `on`, `off` or `unknown`) and reads what the others publish:
the CAEN refuses HV on while the module's LV (elsewhere) is not on, the LV supply brings
the module's HV down (through its owner) before its LV goes off. A word older than
`max_age` or from a service whose `online` is false is `unknown`, never `off`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, cast

from trackerdcs.config.model import StandBase
from trackerdcs.config.modules import Side, refs
from trackerdcs.core import payload as pl
from trackerdcs.core import peers
from trackerdcs.core.bus import Message
from trackerdcs.core.registry import POWER, with_role
from trackerdcs.core.signal import Signal

SideState = Literal["on", "off", "unknown"]


def topic(service: str) -> str:
    return f"{service}/modules"


@dataclass
class Word:
    """What one service said of one module."""

    service: str
    channel: str
    lv: SideState | None
    hv: SideState | None
    ts: float


class ModulePower:
    """The other power services' word on every module (subscribe with `watch`)."""

    def __init__(self, max_age: float,
                 expected: dict[tuple[str, Side], tuple[str, ...]] | None = None):  # fmt: skip
        self.max_age = max_age
        # (module, side) -> the service the stand file says supplies it: a side expected
        # and never heard of is unknown, not absent
        self.expected = expected or {}
        self.words: dict[tuple[str, str], Word] = {}  # (service, module) -> its word
        self.online: dict[str, bool] = {}
        self.changed: Signal[int] = Signal("module_power")  # waited on by procedures
        self._count = 0
        self._hooks: list[Callable[[], None]] = []
        self._last_current: frozenset[tuple[str, str]] = frozenset()

    @classmethod
    def attach(cls, service: Any, max_age: float) -> ModulePower:
        """The word of every other power service of `service`'s stand, kept current on its
        bus (their `modules` and `online`, their replies expected, ageing checked each s)."""
        mp = cls(max_age, expected(service.stand, service.name))
        others = [s for s in peers.power(service.stand) if s != service.name]
        mp.watch(others, service.subscribe)
        for svc in others:
            service.bus.expect_replies(svc)
        service.every(1.0, mp.tick)
        return mp

    def watch(self, services: list[str], subscribe: Callable[[str, Callable[[Message], None]],
              None]) -> None:  # fmt: skip
        for svc in services:
            subscribe(topic(svc), self.on_modules)
            subscribe(f"{svc}/online", self.on_online)

    def on_change(self, hook: Callable[[], None]) -> None:
        self._hooks.append(hook)

    def _bump(self) -> None:
        self._count += 1
        self.changed.update(self._count)
        for hook in self._hooks:
            hook()

    # -- inputs ----------------------------------------------------------------------------
    def on_online(self, msg: Message) -> None:
        self.online[msg.topic.split("/", 1)[0]] = msg.text.strip().lower() == "true"
        self._bump()

    def on_modules(self, msg: Message) -> None:
        service = msg.topic.rsplit("/", 1)[0]
        try:
            data = msg.json()
            ts = float(data["ts"])
            modules = data["modules"]
            assert isinstance(modules, dict)
        except (ValueError, KeyError, TypeError, AssertionError):
            return  # not a word we can trust: the module stays unknown
        old = self.words.get
        for key in [k for k in self.words if k[0] == service]:
            if key[1] not in modules:
                del self.words[key]
        for module, sides in modules.items():
            if not isinstance(sides, dict):
                continue
            prev = old((service, module))
            if prev is not None and prev.ts > ts:
                continue  # a late message: the newer word stands
            self.words[(service, str(module))] = Word(
                service, str(sides.get("channel", "")), _side(sides.get("lv")),
                _side(sides.get("hv")), ts,
            )  # fmt: skip
        self._bump()

    def tick(self) -> None:
        """Called periodically: a word that grew too old without any message is news too."""
        current = frozenset(k for k, w in self.words.items() if self._current(w))
        if current != self._last_current:
            self._last_current = current
            self._bump()

    # -- queries ---------------------------------------------------------------------------
    def _current(self, w: Word) -> bool:
        return self.online.get(w.service, False) and pl.now() - w.ts <= self.max_age

    def side(self, module: str, side: Side) -> tuple[SideState | None, Word | None]:
        """(state, whose word decides) of a module's side: None when no service supplies
        it. Several supplies of one side (an HMP output through a switchbox relay) are read
        in the safe direction: LV is on only when every one says on, HV off only when every
        one says off."""
        said: list[tuple[SideState, Word]] = []
        for (_svc, mod), w in self.words.items():
            if mod == module and getattr(w, side) is not None:
                said.append((getattr(w, side) if self._current(w) else "unknown", w))
        heard = {w.service for _s, w in said}
        for svc in self.expected.get((module, side), ()):
            if svc not in heard:
                said.append(("unknown", Word(svc, "", None, None, 0.0)))
        if not said:
            return None, None
        worst: tuple[SideState, ...] = ("off", "unknown") if side == "lv" else ("on", "unknown")
        for state in worst:
            for s, w in said:
                if s == state:
                    return s, w
        return said[0]

    def describe(self, module: str, side: Side) -> str:
        state, w = self.side(module, side)
        if w is None:
            return f"no service reports the {side.upper()} of {module}"
        where = f"{w.service} channel {w.channel}" if w.channel else w.service
        if state == "unknown":
            age = pl.now() - w.ts
            if not w.ts:
                why = "not heard from"
            elif not self.online.get(w.service, False):
                why = "offline"
            else:
                why = f"silent for {age:.0f} s"
            return f"{side.upper()} of {module} unknown ({where}: {why})"
        return f"{side.upper()} of {module} is {state} ({where})"


def supplies(stand: StandBase) -> dict[str, dict[str, tuple[str, ...]] | None]:
    """Every power service of the stand -> module -> the sides it gives (supplies or switches),
    as its stand-file section lists them (`module_refs()`); None for a family that does not
    say (taken to switch HV)."""
    out: dict[str, dict[str, tuple[str, ...]] | None] = {}
    for fam in with_role(POWER):
        name = peers.service_name(stand, fam.name)
        if name is not None:
            out[name] = {} if hasattr(stand.section(fam.name), "module_refs") else None
    for ref in refs(stand):
        modules = out.get(peers.service_name(stand, str(ref.loc[0])) or "")
        if modules is not None and ref.side not in modules.get(ref.module, ()):
            modules[ref.module] = (*modules.get(ref.module, ()), ref.side)
    return out


# Grafana's unit names (the families' `readings`) as a person reads them
UNITS = {"amp": "A", "volt": "V"}


@dataclass(frozen=True)
class SideReadings:
    """Where one power service's readings of one side are: `<service>/channel/<n>` with
    these fields (its family's `readings`), for these modules."""

    service: str
    side: Side
    volts: str
    amps: str
    current_unit: str
    modules: frozenset[str]


def side_readings(stand: StandBase) -> list[SideReadings]:
    """Every power service's readings of each side it gives, as its family declares them."""
    out = []
    given = supplies(stand)
    for fam in with_role(POWER):
        name = peers.service_name(stand, fam.name)
        if name is None or not given.get(name):
            continue
        for side, (volts, amps, unit) in fam.readings.items():
            mods = frozenset(m for m, sides in (given[name] or {}).items() if side in sides)
            if mods:
                out.append(SideReadings(name, cast(Side, side), volts, amps,
                                        UNITS.get(unit, unit), mods))  # fmt: skip
    return out


def expected(stand: StandBase, me: str) -> dict[tuple[str, Side], tuple[str, ...]]:
    """(module, side) -> the other power services the stand file says supply it."""
    out: dict[tuple[str, Side], tuple[str, ...]] = {}
    for name, modules in supplies(stand).items():
        if name == me or modules is None:
            continue
        for module, sides in modules.items():
            for side in sides:
                key = (module, cast(Side, side))
                out[key] = (*out.get(key, ()), name)
    return out


def hv_services(stand: StandBase) -> list[str]:
    """The power services of the stand that switch HV (an LV-only supply does not: an HMP, a
    switchbox)."""
    return [name for name, modules in supplies(stand).items()
            if modules is None or any("hv" in sides for sides in modules.values())]  # fmt: skip


def _side(value: object) -> SideState | None:
    if value in ("on", "off", "unknown"):
        return value
    return None if value is None else "unknown"
