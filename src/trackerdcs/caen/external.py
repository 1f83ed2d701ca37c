"""The LV half of a module slot when another supply gives it (an HMP output): read from that
supply's word on the bus, not from the mainframe.

It looks to the channel as an LV side of PVs does (`Status` with the ON bit, `Pw`), so the
channel's state, the HV-on check and the safe-off order work unchanged; it is never
written: LV on or off is that supply's business (it brings our HV down first itself).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from trackerdcs.caen import protocol
from trackerdcs.core.signal import Signal
from trackerdcs.power.modules import ModulePower


class ExternalLV:
    def __init__(self, module: str, others: ModulePower, on_change: Callable[[], None]):
        self.module = module
        self.others = others
        self.base = f"module {module} LV"
        self.signals: dict[str, Signal[Any]] = {
            "Pw": Signal("lv_Pw", source=f"{module} LV (bus)"),
            "Status": Signal("lv_Status", source=f"{module} LV (bus)"),
        }
        self.pending: Signal[int] = Signal("lv_pending")
        self.pending.update(0)
        self.target: dict[str, Any] = {}
        self.answering = True
        self._on_change = on_change
        others.on_change(self._follow)

    @property
    def state(self) -> str | None:
        return self.others.side(self.module, "lv")[0]

    def describe(self) -> str:
        return self.others.describe(self.module, "lv")

    def _follow(self) -> None:
        state = self.state
        if state in ("on", "off"):
            on = int(state == "on")
            for name, value in (("Pw", on), ("Status", protocol.ON if on else 0)):
                if self.signals[name].value != value:
                    self.signals[name].update(value)
        else:
            for sig in self.signals.values():
                if sig.value is not None:
                    sig.invalidate()
        self._on_change()

    @property
    def connected(self) -> bool:
        return self.state in ("on", "off")

    def get(self, param: str) -> Any:
        sig = self.signals.get(param)
        return sig.value if sig is not None else None

    def settled(self, param: str) -> bool:
        return True

    def put(self, param: str, value: Any) -> None:
        """LV off in a safe-off: the other supply's own safe-off does it after our HV is
        down; nothing to write here. Anything else would bypass that supply's checks."""
        if param == "Pw" and not value:
            return
        raise ConnectionError(f"{self.describe()}: switch it on its own supply")

    def connect(self) -> None:
        self._follow()

    def disconnect(self) -> None:
        pass

    def frozen(self) -> None:
        pass

    async def read_all(self, timeout: float = 2.0) -> None:
        self._follow()
