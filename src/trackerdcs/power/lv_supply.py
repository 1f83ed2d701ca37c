"""Base of a service that gives modules their LV from outside the HV mainframe (an HMP
output, a switchbox relay): the power-on guard and watchdog every supply has, at most one
procedure at a time, the other supplies' word on each module, and LV off only after the
module's HV is down (power.hv_first) — for an operator's off and for the safe-off alike.

A subclass says what it switches (`K`: an output, a relay) and how: `lv_targets()` (what may
be on), `module_of`, `label`, `cut` (switch one off now), `powered()`, `publish_status()`.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from trackerdcs.config.model import StandBase
from trackerdcs.core.commands import Command, Refused, command
from trackerdcs.core.service import Service
from trackerdcs.power import modules as mp
from trackerdcs.power.guard import PowerGuard
from trackerdcs.power.hv_first import HvFirst
from trackerdcs.power.procedure import SAFE_OFF, Procedures
from trackerdcs.power.safe_off import SafeOff

K = TypeVar("K")
HV_FIRST = "LV off (HV ramp-down first)"


def roll_up(states: list[str]) -> str:
    """An LV supply's state from its outputs' (`LV_ON`, `LV_OFF`, `ERROR`, `DISCONNECTED`),
    in the CAEN stand states' words."""
    if not states:
        return "INIT"
    if "ERROR" in states:
        return "ERROR"
    if set(states) & {"DISCONNECTED", "INIT"}:
        return "DISCONNECTED"
    if len(set(states)) == 1:
        return states[0]
    return "LV_MIX"


class LvSupply(Service, Generic[K]):
    def __init__(self, stand: StandBase, name: str | None = None):
        super().__init__(stand, name)
        self.guard = PowerGuard.attach(self, self.cfg.watchdog)
        self.procedures = Procedures(self.spawn, self.publish_status)
        self.others = mp.ModulePower.attach(self, self.cfg.hv_sources_max_age)
        self.hv_first: HvFirst[K] = HvFirst(
            self.others, self.bus, self.spawn, self.alarms, f"{self.name}.rampdown",
            self.cfg.hv_off_timeout, self.log,
        )  # fmt: skip
        self.every(1.0, self._watch)

    # -- what a subclass says --------------------------------------------------------------
    def lv_targets(self) -> list[K]:
        """What a safe-off switches off: everything on, or not known to be off."""
        raise NotImplementedError

    def module_of(self, target: K) -> str | None:
        raise NotImplementedError

    def label(self, target: K) -> str:
        raise NotImplementedError

    async def cut(self, target: K) -> None:
        """Switch one target off now; Refused when it cannot be."""
        raise NotImplementedError

    def powered(self) -> bool:
        raise NotImplementedError

    def publish_status(self) -> None:
        raise NotImplementedError

    # -- shared ----------------------------------------------------------------------------
    def _watch(self) -> None:
        self.guard.check(self, self.powered())

    async def lv_off(self, targets: list[K], after: Any = None) -> dict[str, Any]:
        """An operator's LV off: at once where the module's HV is down or nowhere, HV first
        (a procedure) where it is on, refused where it is unknown. `after`: a coroutine
        function run once every target is off (a master relay)."""
        ready, waiting, unknown = self.hv_first.sort(targets, self.module_of)
        self.hv_first.refuse_unknown(unknown, self.label)
        if waiting and not self.procedures.can_start(HV_FIRST):
            raise Refused(f"{self.procedures.name} in progress")
        for t in ready:
            await self.cut(t)
        if not waiting:
            if after is not None:
                await after()
            return {}

        async def job() -> None:
            done = await self.hv_first.off_after_hv(waiting, self.module_of, self.cut,
                                                    self.label, HV_FIRST)  # fmt: skip
            if done and after is not None:
                await after()

        self.procedures.start(HV_FIRST, job())
        return {"sequence": "HV ramp-down first"}

    @command("safe_off", SafeOff, help="ordered: each module's HV down, then its LV off")
    def safe_off(self, cmd: Command, body: SafeOff) -> dict[str, Any]:
        started = self.start_safe_off(body.why(cmd))
        return {"sequence": SAFE_OFF, "started": started}

    def start_safe_off(self, reason: str) -> bool:
        if not self.procedures.can_start(SAFE_OFF):
            return False
        self.log.warning("%s started: %s", SAFE_OFF, reason)
        return self.procedures.start(SAFE_OFF, self._safe_off())

    async def _safe_off(self) -> None:
        ready, waiting, unknown = self.hv_first.sort(self.lv_targets(), self.module_of)
        for t in ready:
            try:
                await self.cut(t)
            except Refused as exc:
                self.log.error("%s: %s: %s", SAFE_OFF, self.label(t), exc)
        # an unknown HV may come back (and down, by its own safe-off) within the timeout
        later = waiting + [t for t, _why in unknown]
        if later:
            await self.hv_first.off_after_hv(later, self.module_of, self.cut, self.label,
                                             SAFE_OFF)  # fmt: skip
        else:
            self.log.warning("%s done: LV off", SAFE_OFF)
