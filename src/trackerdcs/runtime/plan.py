"""What processes a stand needs, in start order (stopped in reverse, `stop_first` ones
before all)."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from trackerdcs.config.model import Stand
from trackerdcs.core.registry import families


@dataclass
class ProcessSpec:
    name: str
    argv: list[str]
    kind: str  # broker | sim | service
    env: dict[str, str] = field(default_factory=dict)
    stop_first: bool = False  # its family's `stop_first`


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "trackerdcs", *args]


def plan(stand: Stand, config: Path) -> list[ProcessSpec]:
    cfg = str(config)
    specs: list[ProcessSpec] = []
    if stand.bus.embedded:
        specs.append(
            ProcessSpec(
                "broker",
                _cli("broker", "--host", stand.bus.host, "--port", str(stand.bus.port)),
                "broker",
            )
        )
    fams = families()
    for name, fam in fams.items():
        section = stand.section(name)
        if fam.simulator and section is not None and section.enabled and section.simulate:
            specs.append(ProcessSpec(f"sim-{name}", _cli("sim", name, "--config", cfg), "sim"))
    for name, fam in fams.items():
        section = stand.section(name)
        if fam.service and section is not None and section.enabled:
            specs.append(ProcessSpec(name, _cli("run", name, "--config", cfg), "service",
                                     stop_first=fam.stop_first))  # fmt: skip
    return specs
