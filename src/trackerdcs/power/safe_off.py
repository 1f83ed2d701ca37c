"""The ordered safe state of a power supply: HV ramped down first, LV off only after.

HV up while LV is off must never be commanded by us: when HV does not come down within
`timeout`, LV stays on, a MAJOR alarm says so, and HV is killed again (`Pw=0`) — never LV
first. A cancelled safe-off (the service stopping) writes nothing more: the modules stay as
they are, which is safe, and the next start reads them back.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel

from trackerdcs.core.alarms import AlarmTable
from trackerdcs.core.commands import Command
from trackerdcs.core.signal import Signal, wait_for


class SafeOff(BaseModel):
    """The `safe_off` command's payload."""

    reason: str | None = None

    def why(self, cmd: Command) -> str:
        """The reason, with who asked: `interlock: dewpoint … (by safety)`."""
        by = f"by {cmd.sender}"
        return f"{self.reason} ({by})" if self.reason else by


class Output(Protocol):
    """One module's supply as the safe-off sees it."""

    id: int

    def hv_down(self, hv_off_v: float) -> bool: ...

    def watched(self) -> list[Signal[Any]]: ...


OutputT = TypeVar("OutputT", bound=Output)


async def ramp_down_then_lv_off(
    outputs: Sequence[OutputT], off: Callable[[OutputT, str], bool], hv_off_v: float,
    timeout: float, alarms: AlarmTable, alarm: str, name: str, log: logging.Logger,
) -> bool:  # fmt: skip
    """HV must already be switched off on `outputs`; wait for it, then LV off.
    Returns True when LV was switched off."""
    signals = [s for o in outputs for s in o.watched()]
    down = await wait_for(signals, lambda: all(o.hv_down(hv_off_v) for o in outputs), timeout)
    if not down:
        up = [str(o.id) for o in outputs if not o.hv_down(hv_off_v)]
        why = (f"{name}: HV of channel(s) {', '.join(up)} not down after {timeout:.0f} s; "
               "LV kept on (HV with LV off would damage the module)")  # fmt: skip
        log.error("%s", why)
        alarms.raise_(alarm, "MAJOR", why)
        for o in outputs:
            off(o, "hv")  # again: a kill where the ramp did not take
        return False
    for o in outputs:
        off(o, "lv")
    log.warning("%s done: LV off", name)
    return True
