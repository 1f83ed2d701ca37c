"""Which services a procedure asks to switch one side of one module, and in which order.

A module's LV may come from an HMP output through a switchbox relay, its HV from a CAEN
channel: the stand file says so (`trackerdcs.config.modules`), and every power service takes
the same module-addressed command, `<service>/cmd/module/<module>/<side>/switch`. A
procedure never needs to know which family gives what.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from trackerdcs.config.model import StandBase
from trackerdcs.config.modules import Side, refs
from trackerdcs.core import peers
from trackerdcs.core.commands import BadCommand, Command


@dataclass(frozen=True)
class Route:
    service: str
    switch: bool  # a relay in the supply's line, not the supply


def module_routes(stand: StandBase) -> dict[tuple[str, Side], list[Route]]:
    """(module, side) -> the services that give it (`in_order` orders them)."""
    out: dict[tuple[str, Side], list[Route]] = {}
    for ref in refs(stand):
        service = peers.service_name(stand, str(ref.loc[0]))
        if service is None:
            continue
        route = Route(service, ref.switch)
        if route not in out.setdefault((ref.module, ref.side), []):
            out[(ref.module, ref.side)].append(route)
    return out


def in_order(routes: list[Route], on: bool) -> list[str]:
    """On: relays closed first, then the supply (a relay never makes a live contact); off:
    the supply first (it brings the module's HV down before its LV goes), then the relays."""
    ordered = sorted(routes, key=lambda r: r.switch, reverse=on)
    return [r.service for r in ordered]


def command(module: str, side: Side) -> str:
    return f"module/{module}/{side}/switch"


def module_side(cmd: Command) -> tuple[str, Side]:
    """(module, side) of a `module/<module>/<side>/...` command; BadCommand otherwise."""
    module, side = (*cmd.args, "", "")[:2]
    if side not in ("lv", "hv"):
        raise BadCommand(f"side must be lv or hv, got {side!r}")
    return module, cast(Side, side)
