"""Helpers shared by sub-commands: loading a stand with readable errors, bus options."""

from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path
from typing import Protocol

from trackerdcs.config import ConfigError, Stand, load_stand
from trackerdcs.config.bus import BusConfig
from trackerdcs.core.registry import Family, load
from trackerdcs.runtime.signals import stop_on


def load_or_exit(path: str | Path) -> Stand:
    try:
        return load_stand(path)
    except ConfigError as exc:
        print(f"invalid stand file:\n{exc}", file=sys.stderr)
        raise SystemExit(2) from None


def load_section_or_exit(path: str | Path, section: str) -> Stand:
    """The stand, which must have `section` (exit 2 with the reason otherwise)."""
    stand = load_or_exit(path)
    if stand.section(section) is None:
        print(f"{path} has no '{section}' section", file=sys.stderr)
        raise SystemExit(2)
    return stand


class Simulator(Protocol):
    stop: threading.Event

    def run(self) -> None: ...


def run_simulator(simulator: Simulator) -> int:
    """Run a plain-loop simulator until SIGTERM or Ctrl-C."""
    stop_on(simulator.stop.set)
    try:
        simulator.run()
    except KeyboardInterrupt:
        simulator.stop.set()
    return 0


def run_plain_simulator(fam: Family, args: argparse.Namespace) -> int:
    stand = load_section_or_exit(args.config, fam.name)
    assert fam.plain_simulator is not None
    return run_simulator(load(fam.plain_simulator)(stand))


def add_bus_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", "-c", help="stand file (its bus section is used)")
    p.add_argument("--host", default=None, help="broker host (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=None, help="broker port (default 1883)")
    p.add_argument("--username", default=None)
    p.add_argument("--password-file", default=None)


def bus_config(args: argparse.Namespace) -> BusConfig:
    cfg = load_or_exit(args.config).bus if args.config else BusConfig()
    if args.host:
        cfg.host = args.host
    if args.port:
        cfg.port = args.port
    if args.username:
        cfg.username = args.username
    if args.password_file:
        cfg.password_file = Path(args.password_file)
    return cfg
