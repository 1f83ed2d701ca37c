"""`trackerdcs users add|list`: the users file of the web UI."""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from trackerdcs.cli.common import load_or_exit


def register(commands: Any, sim: Any) -> None:
    p = commands.add_parser("users", help="manage web UI users (argon2-hashed passwords)")
    p.add_argument("--config", "-c", required=True, help="stand file (its web section)")
    sub = p.add_subparsers(dest="action", required=True)
    a = sub.add_parser("add", help="add or update a user")
    a.add_argument("name")
    a.add_argument("--role", choices=("viewer", "operator", "expert"), default="viewer")
    a.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    sub.add_parser("list", help="list users and roles")
    p.set_defaults(func=cmd_users)


def cmd_users(args: argparse.Namespace) -> int:
    from trackerdcs.web.config import WebConfig
    from trackerdcs.web.users import Users

    stand = load_or_exit(args.config)
    cfg = stand.web or WebConfig()
    users = Users(stand.data_dir / cfg.users_file)
    if args.action == "list":
        for name, u in sorted(users.users.items()):
            print(f"{name}\t{u['role']}")
        return 0
    from trackerdcs.deploy.mqtt_accounts import ADMIN, BOARDS, NODERED, services

    if args.name in {*services(stand), ADMIN, BOARDS, NODERED}:
        # the UI sends a person's name as the command's `user`: it must not read as a service
        print(f"'{args.name}' is the name of a service account; choose another", file=sys.stderr)
        return 1
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass(f"password for {args.name}: ")
        if getpass.getpass("again: ") != password:
            print("passwords differ", file=sys.stderr)
            return 1
    try:
        users.add(args.name, password, args.role)
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"{args.name} ({args.role}) saved in {users.path}")
    return 0
