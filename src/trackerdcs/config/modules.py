"""Every module a stand file names, and who powers it: one LV supply and one HV supply each.

A section that names modules lists them as `ModuleRef`s (`module_refs()`): the side it
gives (LV or HV), whether it is the supply or a switch in that supply's line (a switchbox
relay in series with an HMP output), and where in the file it is said. A one-character typo
in a module name otherwise makes two half modules: one with HV and no LV (HV on with LV off
damages the module), one with LV and no HV. `problems()` finds them, with the closest
names, before any service starts.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

Side = Literal["lv", "hv"]
SIDES: tuple[Side, ...] = ("lv", "hv")


@dataclass(frozen=True)
class ModuleRef:
    """One place of the stand file that gives a module one side of its power."""

    module: str
    side: Side
    loc: tuple[str | int, ...]  # the key of the module's name, from the section's own key
    where: str  # as an operator says it: "hmp output 4"
    switch: bool = False  # in series with the side's supply, not a supply itself


def refs(stand: Any) -> Iterator[ModuleRef]:
    """Every section's module references, their locations from the top of the file."""
    for name in type(stand).model_fields:
        section = getattr(stand, name, None)
        if section is None or not getattr(section, "enabled", True):
            continue
        listed = getattr(section, "module_refs", None)
        if listed is None:
            continue
        for ref in listed():
            yield ModuleRef(ref.module, ref.side, (name, *ref.loc), ref.where, ref.switch)


def problems(stand: Any) -> list[tuple[tuple[str | int, ...], str]]:
    """(location, message) for every module without exactly one supply of each side.

    A stand with no HV supply at all (an LV bench) needs no HV supply per module; a module
    with HV always needs its LV."""
    every = list(refs(stand))
    supplies: dict[tuple[str, Side], list[ModuleRef]] = {}
    for ref in every:
        if not ref.switch:
            supplies.setdefault((ref.module, ref.side), []).append(ref)
    has_hv = any(side == "hv" for _m, side in supplies)
    out: list[tuple[tuple[str | int, ...], str]] = []
    seen: set[str] = set()
    for ref in every:
        if ref.module in seen:
            continue
        seen.add(ref.module)
        missing = [side for side in SIDES if not supplies.get((ref.module, side))
                   and (side == "lv" or has_hv)]  # fmt: skip
        if missing:
            out.append((ref.loc, _missing(ref, missing, supplies)))
        for side in SIDES:
            given = supplies.get((ref.module, side), [])
            if len(given) > 1:
                others = ", ".join(g.where for g in given)
                out.append((given[1].loc, f"module {ref.module} has its {side.upper()} from "
                                          f"{len(given)} supplies ({others}): one supplies it, "
                                          "a relay in its line is a switch"))  # fmt: skip
    return out


def _missing(ref: ModuleRef, missing: list[Side],
             supplies: dict[tuple[str, Side], list[ModuleRef]]) -> str:  # fmt: skip
    what = "a switch in its LV line" if ref.switch else f"its {ref.side.upper()}"
    sides = " and no ".join(side.upper() for side in missing)
    text = f"module {ref.module} ({ref.where}, {what}) has no {sides} supply"
    if "lv" in missing and supplies.get((ref.module, "hv")):
        text += " (HV on would be refused for it)"
    near = closest(ref.module, {m for m, side in supplies if side in missing})
    if near:
        text += f"; did you mean {' or '.join(near)}?"
    return text


def closest(name: str, names: Iterable[str]) -> list[str]:
    """The names one slip away from `name` (a digit missing, two swapped), best first."""
    return difflib.get_close_matches(name, sorted(set(names) - {name}), n=3, cutoff=0.8)
