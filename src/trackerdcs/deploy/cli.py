"""`trackerdcs deploy ...`: deployment files generated from the stand file."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from trackerdcs.cli.common import load_or_exit


def register(commands: Any, sim: Any) -> None:
    t = commands.add_parser("deploy", help="generate deployment files from the stand file")
    sub = t.add_subparsers(dest="target", required=True)
    tg = sub.add_parser("telegraf", help="Telegraf config writing the recorder's measurements")
    tg.add_argument("--config", "-c", required=True)
    tg.add_argument("--output", "-o", default="-", help="file (default stdout)")
    t.set_defaults(func=cmd_deploy)


def cmd_deploy(args: argparse.Namespace) -> int:
    from trackerdcs.deploy.telegraf import telegraf_config

    stand = load_or_exit(args.config)
    text = telegraf_config(stand)
    if args.output == "-":
        sys.stdout.write(text)
    else:
        with open(args.output, "w") as fh:
            fh.write(text)
    return 0
