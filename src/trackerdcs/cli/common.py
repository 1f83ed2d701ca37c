"""Helpers shared by sub-commands: loading a stand with readable errors, bus options."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from trackerdcs.config import ConfigError, Stand, load_stand
from trackerdcs.config.bus import BusConfig


def load_or_exit(path: str | Path) -> Stand:
    try:
        return load_stand(path)
    except ConfigError as exc:
        print(f"invalid stand file:\n{exc}", file=sys.stderr)
        raise SystemExit(2) from None


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
