"""`trackerdcs sim caen`: the simulated mainframe of a stand file."""

from __future__ import annotations

import argparse
import signal
import sys
from typing import Any

from trackerdcs.cli.common import load_section_or_exit


def register(commands: Any, sim: Any) -> None:
    p = sim.add_parser("caen", help="simulated CAEN mainframe over Channel Access (caproto)")
    p.add_argument("--config", "-c", required=True, help="stand file (its caen section)")
    p.add_argument("--put-log", default=None, help="record client writes (JSON lines)")
    p.set_defaults(func=cmd_sim)


def cmd_sim(args: argparse.Namespace) -> int:
    stand = load_section_or_exit(args.config, "caen")
    if args.put_log:
        stand.caen.sim.put_log = args.put_log
    from trackerdcs.caen.simulator import serve

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    serve(stand.caen)
    return 0
