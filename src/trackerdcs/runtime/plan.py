"""What processes a stand needs, in start order (stopped in reverse, `stop_first` ones
before all)."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from trackerdcs.config.model import Stand
from trackerdcs.core import peers


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
    present = list(peers.sections(stand))
    for fam, section in present:
        if fam.simulator and section.simulate:
            specs.append(ProcessSpec(f"sim-{fam.name}", _cli("sim", fam.name, "--config", cfg),
                                     "sim"))  # fmt: skip
    for fam, _section in present:
        if fam.service:
            specs.append(ProcessSpec(fam.name, _cli("run", fam.name, "--config", cfg), "service",
                                     stop_first=fam.stop_first))  # fmt: skip
    return specs
