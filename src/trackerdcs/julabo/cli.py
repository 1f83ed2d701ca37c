"""`trackerdcs sim julabo` and `trackerdcs serial-bridge`."""

from __future__ import annotations

import argparse
import signal
import sys
from typing import Any

from trackerdcs.cli.common import load_section_or_exit
from trackerdcs.runtime.signals import stop_on


def register(commands: Any, sim: Any) -> None:
    p = sim.add_parser("julabo", help="simulated Julabo circulator on a pty or TCP")
    p.add_argument("--config", "-c", required=True, help="stand file (its julabo section)")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--port", help="create a pty and link it here (like /dev/ttyUSB0)")
    where.add_argument("--tcp", help="HOST:PORT to listen on (default: julabo.sim_tcp)")
    p.set_defaults(func=cmd_sim)

    p = commands.add_parser("serial-bridge", help="share a serial port over RFC 2217")
    p.add_argument("device", help="e.g. /dev/ttyUSB0")
    p.add_argument("--port", type=int, required=True, help="TCP port to listen on")
    p.add_argument("--host", default="0.0.0.0", help="interface (default all)")
    p.set_defaults(func=cmd_bridge)


def cmd_sim(args: argparse.Namespace) -> int:
    stand = load_section_or_exit(args.config, "julabo")
    from trackerdcs.julabo import simulator

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    if args.port:
        simulator.serve_pty(stand.julabo, args.port)
    else:
        host, _, port = (args.tcp or stand.julabo.sim_tcp).rpartition(":")
        simulator.serve_tcp(stand.julabo, host or "127.0.0.1", int(port))
    return 0


def cmd_bridge(args: argparse.Namespace) -> int:
    from trackerdcs.julabo.bridge import Bridge

    bridge = Bridge(args.device, args.host, args.port)
    stop_on(bridge.stop.set)
    try:
        bridge.serve()
    except KeyboardInterrupt:
        bridge.stop.set()
    return 0
