"""`trackerdcs sim sensors`: the simulated environment sensors of a stand file."""

from __future__ import annotations

import argparse
import signal
import sys
from typing import Any

from trackerdcs.cli.common import load_or_exit


def register(commands: Any, sim: Any) -> None:
    p = sim.add_parser("sensors", help="simulated ESP32 environment sensors on the bus")
    p.add_argument("--config", "-c", required=True, help="stand file (its sensors section)")
    p.set_defaults(func=cmd_sim)


def cmd_sim(args: argparse.Namespace) -> int:
    stand = load_or_exit(args.config)
    if stand.sensors is None:
        print(f"{args.config} has no 'sensors' section", file=sys.stderr)
        return 2
    from trackerdcs.sensors.simulator import SensorSimulator

    simulator = SensorSimulator(stand)
    signal.signal(signal.SIGTERM, lambda *_: simulator.stop.set())
    try:
        simulator.run()
    except KeyboardInterrupt:
        simulator.stop.set()
    return 0
