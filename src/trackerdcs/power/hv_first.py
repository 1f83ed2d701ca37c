"""LV off for modules whose HV another service gives: that HV down first, across supplies.

What an LV supply (an HMP output, a switchbox relay) does before cutting a module's LV: it
sorts its targets by what the HV's owner says (off or no HV: cut now; on: HV first;
unknown: refuse an operator, wait in a safe-off), asks the owner to switch the HV off
(`<owner>/cmd/switch/hv/<channel>`), waits for its word that the HV is down, then cuts.
An HV not down in time keeps its LV on with a MAJOR alarm: HV on a module without LV
damages it, LV left on does not.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Generic, TypeVar

from trackerdcs.core.alarms import AlarmTable
from trackerdcs.core.bus import Bus
from trackerdcs.core.commands import Refused
from trackerdcs.core.signal import wait_for
from trackerdcs.power.modules import ModulePower, Word

K = TypeVar("K")  # whatever the supply switches: an output, a relay


class HvFirst(Generic[K]):
    def __init__(self, others: ModulePower, bus: Bus,
                 spawn: Callable[[Coroutine[Any, Any, Any], str], Any], alarms: AlarmTable,
                 alarm: str, timeout: float, log: logging.Logger):  # fmt: skip
        self.others, self.bus, self.spawn = others, bus, spawn
        self.alarms, self.alarm, self.timeout, self.log = alarms, alarm, timeout, log

    def sort(self, targets: list[K], module_of: Callable[[K], str | None]
             ) -> tuple[list[K], list[K], list[tuple[K, str]]]:  # fmt: skip
        """(cut now, HV first, unknown with why)."""
        ready: list[K] = []
        waiting: list[K] = []
        unknown: list[tuple[K, str]] = []
        for t in targets:
            module = module_of(t)
            hv = self.others.side(module, "hv")[0] if module else None
            if hv in (None, "off"):
                ready.append(t)
            elif hv == "on":
                waiting.append(t)
            else:
                unknown.append((t, self.others.describe(str(module), "hv")))
        return ready, waiting, unknown

    def refuse_unknown(self, unknown: list[tuple[K, str]], label: Callable[[K], str]) -> None:
        if unknown:
            raise Refused("; ".join(f"LV off refused for {label(t)}: {why}; switch its HV off "
                                    "first" for t, why in unknown))  # fmt: skip

    async def off_after_hv(self, targets: list[K], module_of: Callable[[K], str | None],
                           off: Callable[[K], Awaitable[None]], label: Callable[[K], str],
                           name: str) -> bool:  # fmt: skip
        """Ask each module's HV owner to switch it off, wait for its word, then cut the LV
        of those whose HV is down. True when every target's LV went off."""
        for t in targets:
            _state, w = self.others.side(str(module_of(t)), "hv")
            if w is not None and w.channel:
                self.spawn(self._ask_hv_off(w), "hv-off")

        def down(t: K) -> bool:
            module = module_of(t)
            return module is None or self.others.side(module, "hv")[0] in (None, "off")

        all_down = await wait_for([self.others.changed], lambda: all(down(t) for t in targets),
                                  self.timeout)  # fmt: skip
        for t in targets:
            if down(t):
                try:
                    await off(t)
                except Refused as exc:
                    self.log.error("%s: %s: %s", name, label(t), exc)
        if all_down:
            self.log.warning("%s done: LV off", name)
            return True
        stuck = [t for t in targets if not down(t)]
        why = (f"{name}: " + "; ".join(self.others.describe(str(module_of(t)), "hv")
                                       for t in stuck)
               + f" after {self.timeout:.0f} s; LV kept on (HV with LV off would damage the "
               "module)")  # fmt: skip
        self.log.error("%s", why)
        self.alarms.raise_(self.alarm, "MAJOR", why)
        return False

    async def _ask_hv_off(self, w: Word) -> None:
        error = await self.bus.ask(w.service, f"switch/hv/{w.channel}", "off", timeout=5)
        if error:
            self.log.error("HV off on %s channel %s: %s", w.service, w.channel, error)
