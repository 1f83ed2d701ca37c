"""`trackerdcs deploy ...`: deployment files generated from the stand file."""

from __future__ import annotations

import argparse
import subprocess
import sys
from typing import Any

from trackerdcs.cli.common import load_or_exit


def register(commands: Any, sim: Any) -> None:
    t = commands.add_parser("deploy", help="generate deployment files from the stand file")
    sub = t.add_subparsers(dest="target", required=True)
    tg = sub.add_parser("telegraf", help="Telegraf config writing the recorder's measurements")
    tg.add_argument("--config", "-c", required=True)
    tg.add_argument("--output", "-o", default="-", help="file (default stdout)")
    tg.set_defaults(func=cmd_deploy)
    ma = sub.add_parser(
        "mqtt-accounts",
        help="one MQTT account per service, passwords and the Mosquitto ACL",
    )
    ma.add_argument("--config", "-c", required=True)
    ma.add_argument("--out", "-o", required=True, help="folder (bus.accounts_dir)")
    ma.add_argument("--new-passwords", action="store_true", help="replace existing passwords")
    ma.set_defaults(func=cmd_mqtt_accounts)


def cmd_mqtt_accounts(args: argparse.Namespace) -> int:
    from pathlib import Path

    from trackerdcs.deploy.mqtt_accounts import write

    stand = load_or_exit(args.config)
    try:
        accounts = write(stand, Path(args.out), keep=not args.new_passwords)
    except (RuntimeError, OSError, subprocess.CalledProcessError) as exc:
        print(f"mqtt-accounts: {exc}", file=sys.stderr)
        return 1
    print(f"{len(accounts)} accounts ({', '.join(accounts)}) in {args.out}; "
          f"include {args.out}/mosquitto-auth.conf in the broker's configuration")  # fmt: skip
    return 0


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
