"""`trackerdcs` command line: one sub-command per job; device families add their own."""

from __future__ import annotations

import argparse
import functools
import importlib
import os
import pkgutil
import sys
from pathlib import Path

import trackerdcs
from trackerdcs import __version__
from trackerdcs.cli import client, stand
from trackerdcs.cli.common import run_plain_simulator
from trackerdcs.core.registry import families


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="trackerdcs", description="Detector Control System for tracker module test stands"
    )
    parser.add_argument("--version", action="version", version=f"trackerdcs {__version__}")
    parser.add_argument("--log", default=None, help="log level (DEBUG, INFO, WARNING)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    stand.register(commands)
    client.register(commands)
    sim_parser = commands.add_parser("sim", help="run a device simulator")
    sim = sim_parser.add_subparsers(dest="family", metavar="FAMILY", required=True)
    # every subpackage with a `cli.py` defining register(commands, sim) adds its own
    for info in pkgutil.iter_modules(trackerdcs.__path__):
        if (
            info.ispkg
            and info.name != "cli"
            and any((Path(p) / info.name / "cli.py").exists() for p in trackerdcs.__path__)
        ):
            importlib.import_module(f"trackerdcs.{info.name}.cli").register(commands, sim)
    for fam in families().values():
        if fam.plain_simulator:
            p = sim.add_parser(fam.name, help=f"simulated {fam.name} (its stand-file section)")
            p.add_argument("--config", "-c", required=True, help="stand file")
            p.set_defaults(func=functools.partial(run_plain_simulator, fam))
    return parser


# options whose value may start with '-': a relative time (`--start -7d`), which argparse
# would read as an option (only plain negative numbers are let through)
RELATIVE = ("--start", "--end")
# commands that run as processes (their log is the point); the others are a person's
PROCESSES = frozenset({"run", "up", "demo", "broker", "sim", "serial-bridge", "deploy",
                       "backup", "restore"})  # fmt: skip


def _join_relative(argv: list[str]) -> list[str]:
    out: list[str] = []
    it = iter(argv)
    for arg in it:
        if arg in RELATIVE:
            value = next(it, None)
            out.append(arg if value is None else f"{arg}={value}")
        else:
            out.append(arg)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(_join_relative(sys.argv[1:] if argv is None else argv))
    from trackerdcs.runtime import logs

    # a process that runs (a service, a stand, a simulator) logs what it does; a command a
    # person types answers in its own words and logs only what goes wrong
    runs = args.command in PROCESSES
    logs.setup(args.log or (None if runs else os.environ.get("TRACKERDCS_LOG", "WARNING")))
    from trackerdcs.runtime.orphan import watch_parent

    watch_parent()
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
