"""`trackerdcs sim ph2acf`: the simulated RunController (middleware server)."""

from __future__ import annotations

import argparse
from typing import Any

from trackerdcs.cli.common import load_section_or_exit


def register(commands: Any, sim: Any) -> None:
    p = sim.add_parser("ph2acf", help="simulated Ph2_ACF RunController (middleware, TCP)")
    p.add_argument("--config", "-c", required=True, help="stand file (its ph2acf section)")
    p.set_defaults(func=cmd_sim)


def cmd_sim(args: argparse.Namespace) -> int:
    stand = load_section_or_exit(args.config, "ph2acf")
    from trackerdcs.ph2acf.simulator import middleware_main

    cfg = stand.ph2acf
    host, _, port = cfg.middleware.rpartition(":")
    workdir = cfg.workdir if cfg.workdir.is_absolute() else stand.data_dir / cfg.workdir
    return middleware_main(host or "127.0.0.1", int(port), cfg.sim, workdir)
