"""Hard limits on set values, enforced on every source (operator, stand file, procedure)."""

from __future__ import annotations

from trackerdcs.core.commands import Refused


def check(what: str, value: float, top: float, unit: str) -> None:
    """Refuse `value` outside 0..top, naming what and the limits."""
    if not 0 <= value <= top:
        raise Refused(f"{what} {value:g} {unit} outside limits 0..{top:g} {unit}")
