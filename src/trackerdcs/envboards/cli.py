"""`trackerdcs sim envboards`: the simulated boards of a stand file."""

from __future__ import annotations

import argparse
from typing import Any

from trackerdcs.cli.common import load_section_or_exit, run_simulator


def register(commands: Any, sim: Any) -> None:
    p = sim.add_parser("envboards", help="simulated ESP32 environment boards on the bus")
    p.add_argument("--config", "-c", required=True, help="stand file (its envboards section)")
    p.set_defaults(func=cmd_sim)


def cmd_sim(args: argparse.Namespace) -> int:
    stand = load_section_or_exit(args.config, "envboards")
    from trackerdcs.envboards.simulator import EnvBoardsSimulator

    return run_simulator(EnvBoardsSimulator(stand))
