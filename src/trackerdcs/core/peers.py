"""Who is who on this stand's bus: topic roots of the other services, resolved from the
stand file and the family registry, never written as literals."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from trackerdcs.config.model import StandBase
from trackerdcs.core.cooling import CoolingContract
from trackerdcs.core.registry import COOLING, ENVIRONMENT, POWER, Family, families, with_role


def sections(stand: StandBase) -> Iterator[tuple[Family, Any]]:
    """Each family the stand has an enabled section for, with that section, in start order."""
    for name, fam in families().items():
        section = stand.section(name)
        if section is not None and section.enabled:
            yield fam, section


def service_name(stand: StandBase, family: str) -> str | None:
    """The topic root of `family`'s service on this stand, or None if the stand has none."""
    fam = families().get(family)
    section = stand.section(family)
    if fam is None or section is None or not section.enabled:
        return None
    if fam.service is None and not fam.simulator:
        return None  # a section that runs nothing has no topics (`deploy`)
    return str(section.service_name(fam.topic_root))


def with_role_on(stand: StandBase, role: str) -> list[str]:
    return [n for f in with_role(role) if (n := service_name(stand, f.name))]


def power(stand: StandBase) -> list[str]:
    return with_role_on(stand, POWER)


def cooling(stand: StandBase) -> list[str]:
    return with_role_on(stand, COOLING)


def cooling_contracts(stand: StandBase) -> dict[str, CoolingContract]:
    """Every cooling service of the stand -> how its family is read and ordered."""
    out = {}
    for f in with_role(COOLING):
        if (name := service_name(stand, f.name)) and f.cooling is not None:
            out[name] = f.cooling
    return out


def environment(stand: StandBase) -> list[str]:
    return with_role_on(stand, ENVIRONMENT)


def safety(stand: StandBase) -> str:
    return service_name(stand, "safety") or "safety"


def heartbeat_topic(stand: StandBase) -> str:
    cfg = stand.section("safety")
    return str(cfg.heartbeat_topic) if cfg and cfg.heartbeat_topic else f"{safety(stand)}/heartbeat"
