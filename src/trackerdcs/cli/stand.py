"""Sub-commands that run a stand: check, run, up, demo, broker."""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import sys
from pathlib import Path
from typing import Any

from trackerdcs.cli.common import load_or_exit
from trackerdcs.config import ConfigError, load_stand
from trackerdcs.core import peers
from trackerdcs.runtime.signals import stop_on


def register(commands: Any) -> None:
    p = commands.add_parser("check", help="validate a stand file")
    p.add_argument("file")
    p.set_defaults(func=cmd_check)

    p = commands.add_parser("run", help="run one service of a stand")
    p.add_argument("service")
    p.add_argument("--config", "-c", required=True, help="stand file")
    p.add_argument("--name", default=None, help="override the service's topic name")
    p.set_defaults(func=cmd_run)

    p = commands.add_parser("up", help="run every service of a stand, supervised")
    p.add_argument("file")
    p.set_defaults(func=cmd_up)

    p = commands.add_parser("demo", help="a complete simulated stand on embedded defaults")
    p.add_argument("--state-dir", default=None, help="data folder (default: ./trackerdcs-demo "
                   "for the packaged demo, the stand file's own for --config)")  # fmt: skip
    p.add_argument("--config", "-c", default=None, help="another simulated stand file")
    p.add_argument("--time-scale", type=float, default=None, metavar="N",
                   help="run the simulated physics and the sequencer's waits N times faster "
                   "(a burn-in recipe in minutes)")  # fmt: skip
    p.set_defaults(func=cmd_demo)

    p = commands.add_parser("broker", help="run the embedded MQTT broker")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=1883)
    p.set_defaults(func=cmd_broker)


def cmd_check(args: argparse.Namespace) -> int:
    try:
        stand = load_stand(args.file)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        print(f"{len(exc.problems)} problem(s) in {args.file}", file=sys.stderr)
        return 1
    from trackerdcs.runtime.plan import plan

    print(f"{args.file}: OK (stand '{stand.stand.name}')")
    for w in stand.warnings():
        print(f"warning: {w}")
    for spec in plan(stand, Path(args.file)):
        print(f"  {spec.kind:<8} {spec.name}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from trackerdcs.core.registry import family, load
    from trackerdcs.core.service import defer_signals

    defer_signals()  # a stop request during start-up is honoured once the loop runs
    stand = load_or_exit(args.config)
    try:
        fam = family(args.service)
    except KeyError as exc:
        print(exc.args[0], file=sys.stderr)
        return 2
    if fam.service is None:
        print(f"{args.service} runs no service", file=sys.stderr)
        return 2
    if stand.section(fam.name) is None:
        print(f"{args.config} has no '{fam.name}' section", file=sys.stderr)
        return 2
    load(fam.service)(stand, name=args.name).run()
    return 0


def _supervise(config: Path, env: dict[str, str], banner: list[str] | None = None) -> int:
    from trackerdcs.core.blocking import BlockingBus
    from trackerdcs.runtime.lock import StandLock, StandRunning
    from trackerdcs.runtime.plan import plan
    from trackerdcs.runtime.supervisor import Supervisor

    for k, v in env.items():
        os.environ[k] = v
    stand = load_or_exit(config)
    specs = plan(stand, config)
    if not specs:
        print(f"{config}: nothing to run", file=sys.stderr)
        return 2
    try:
        lock = StandLock(stand.data_dir).acquire()
    except StandRunning as exc:
        print(f"{config}: {exc}", file=sys.stderr)
        return 1
    assert lock.fd is not None
    bus = BlockingBus(stand.bus.account("supervisor", stand.base_dir), service="supervisor")

    def publish(sup: Supervisor) -> None:
        bus.publish_state("supervisor/processes", {"processes": sup.status()})

    sup = Supervisor(specs, env=env, on_change=publish, keep_fds=(lock.fd,),
                     before_broker=bus.stop)  # fmt: skip
    stop_on(sup.stop, signal.SIGINT, signal.SIGTERM)  # Supervisor.stop sets an event
    if banner:
        for line in banner:
            sup.emit("demo", line)
    for w in stand.warnings():
        sup.emit("check", f"warning: {w}")
    bus.start(wait=None)
    try:
        return sup.run()
    finally:
        bus.stop()
        lock.release()


def cmd_up(args: argparse.Namespace) -> int:
    return _supervise(Path(args.file).resolve(), {})


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


DEMO_STATE = "trackerdcs-demo"  # the packaged demo's state, in the folder it runs from


def demo_file() -> Path:
    return Path(__file__).resolve().parent.parent / "data" / "demo.yaml"


def cmd_demo(args: argparse.Namespace) -> int:
    config = Path(args.config).resolve() if args.config else demo_file()
    env: dict[str, str] = {}
    # a stand file keeps its own state (what `up`, `query -c`, `users -c` find); the packaged
    # demo's file lies inside the installed package, so its state is where it was started
    if args.state_dir or not args.config:
        env["TRACKERDCS_STATE_DIR"] = str(Path(args.state_dir or DEMO_STATE).resolve())
    if args.time_scale is not None:
        env["TRACKERDCS_TIME_SCALE"] = str(args.time_scale)
    os.environ.update(env)
    stand = load_or_exit(config)
    state = stand.data_dir
    port = stand.bus.port
    if not _port_free(stand.bus.host, port):
        port = _free_port(stand.bus.host)
        env["TRACKERDCS_BUS_PORT"] = str(port)
    where = [
        f"stand '{stand.stand.name}' from {config}",
        f"data in {state}",
        f"MQTT broker   mqtt://{stand.bus.host}:{port}  (trackerdcs status --port {port})",
    ]
    for _fam, section in peers.sections(stand):
        where += section.where()
    where.append("Ctrl-C stops everything")
    return _supervise(config, env, banner=where)


def cmd_broker(args: argparse.Namespace) -> int:
    from trackerdcs.runtime import broker

    broker.run(args.host, args.port)
    return 0


def dumps(obj: Any) -> str:
    return json.dumps(obj, indent=2, sort_keys=True)
