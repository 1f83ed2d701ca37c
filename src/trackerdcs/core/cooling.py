"""Cooling as a role: how safety (and the run tools) read and order a cooling service,
declared by its family as data, so that a Julabo, a MARTA plant or both cool a stand.

- `running`: the `fsm_state`s in which it cools as it should (Julabo `ON`, MARTA
  `CO2_RUNNING`); any other state while modules are powered is the chiller rule's problem.
- `surfaces`: status fields (and what they are) that are cold surfaces for the dew-point
  margin (the Julabo bath; MARTA's CO2 supply and return).
- `safe`: the orders that bring it to a safe set-point, each with the status field that shows
  it was obeyed (an order already obeyed is not sent again).
- `regulate`: the orders that make it cool to a set-point (a sequence's chiller step), an
  order waiting where it must for a state (MARTA's CO2 starts once its chiller runs);
  `reading`: the status field of the temperature it reaches (the bath, the CO2 supply).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Order:
    command: str
    payload: Any  # "{temp}" / "{slot}" (alone: the number itself) filled in
    field: str = ""  # "{slot}" filled in; "" = always send
    expect: Any = "{temp}"
    after: tuple[str, ...] = ()  # fsm_states to wait for before sending (none: at once)


@dataclass(frozen=True)
class CoolingContract:
    running: tuple[str, ...]
    surfaces: dict[str, str]  # status field -> what it is ("bath", "CO2 supply")
    safe: tuple[Order, ...]
    regulate: tuple[Order, ...] = ()
    reading: str = ""

    def recorded(self) -> tuple[str, ...]:
        """The status fields a run's conditions keep: the cold surfaces and the reading."""
        return tuple(dict.fromkeys((*self.surfaces, *((self.reading,) if self.reading else ()))))

    def safe_orders(self, temp: float, slot: int, status: dict[str, Any]) -> list[tuple[str, Any]]:
        """(command, payload) of every order not yet obeyed according to `status`."""
        return [(o.command, p) for o, p in self.pending(self.safe, temp, slot, status)]

    def pending(self, orders: tuple[Order, ...], temp: float, slot: int, status: dict[str, Any]
                ) -> list[tuple[Order, Any]]:  # fmt: skip
        """(order, filled payload) of those of `orders` not yet obeyed according to `status`."""
        values: dict[str, float | int] = {"temp": temp, "slot": slot}

        def fill(x: Any) -> Any:
            if isinstance(x, str) and x.startswith("{") and x.endswith("}") and x[1:-1] in values:
                return values[x[1:-1]]
            if isinstance(x, dict):
                return {k: fill(v) for k, v in x.items()}
            return x

        out = []
        for o in orders:
            if o.field and status.get(o.field.format(**values)) == fill(o.expect):
                continue
            out.append((o, fill(o.payload)))
        return out


# the reference stack's chiller backend (PROTOCOLS.md §1: `julabo/status`, `setWT`, `useSP`):
# the Julabo family declares it, and safety reads a cooling service named by hand that way
REFERENCE_CHILLER = CoolingContract(
    running=("ON",),
    surfaces={"internal_temp": "bath"},
    safe=(
        Order("setWT", {"setpoint": "{slot}", "temp": "{temp}"}, "setpoint_{slot}"),
        Order("useSP", {"setpoint": "{slot}"}, "used_setpoint", "{slot}"),
    ),
    regulate=(
        Order("setWT", {"setpoint": "{slot}", "temp": "{temp}"}),
        Order("useSP", {"setpoint": "{slot}"}),
        Order("start", None),
    ),
    reading="internal_temp",
)
