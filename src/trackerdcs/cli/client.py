"""Bus clients for people: `trackerdcs status` and `trackerdcs cmd`."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
import threading
import time
import uuid
from typing import Any

from trackerdcs.cli.common import add_bus_options, bus_config, load_or_exit
from trackerdcs.core.blocking import BlockingBus
from trackerdcs.core.bus import Message


def register(commands: Any) -> None:
    p = commands.add_parser("status", help="retained state of every service on the bus")
    add_bus_options(p)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--wait", type=float, default=1.0, help="seconds to collect retained state")
    p.set_defaults(func=cmd_status)

    p = commands.add_parser("cmd", help="send a command and print the reply")
    add_bus_options(p)
    p.add_argument("service")
    p.add_argument("name", metavar="COMMAND", help="e.g. switch/lv, setv/hv/3, setWT")
    p.add_argument("payload", nargs="?", default="", help="plain value or JSON object")
    p.add_argument("--timeout", type=float, default=5.0)
    p.add_argument("--user", default=None,
                   help="who sends it, for the service log and the event log (default: the "
                        "OS user running the command)")  # fmt: skip
    p.set_defaults(func=cmd_cmd)

    p = commands.add_parser("health", help="exit 0 if a service says it is online (a "
                            "container's health check)")  # fmt: skip
    p.add_argument("service")
    p.add_argument("--config", "-c", required=True, help="stand file")
    p.add_argument("--timeout", type=float, default=5.0)
    p.set_defaults(func=cmd_health)


def collect_status(bus: BlockingBus, wait: float) -> dict[str, dict[str, Any]]:
    """Gather retained `<svc>/online` and JSON state topics until the flow settles."""
    services: dict[str, dict[str, Any]] = {}
    last = [time.monotonic()]
    lock = threading.Lock()

    def on_msg(msg: Message) -> None:
        if not msg.retain or not msg.payload:
            return
        svc, _, sub = msg.topic.partition("/")
        if sub.startswith("cmd/") or sub == "reply":
            return
        with lock:
            entry = services.setdefault(svc, {"online": None, "state": {}})
            if sub == "online":
                entry["online"] = msg.text.strip().lower() == "true"
            else:
                try:
                    entry["state"][sub] = msg.json()
                except ValueError:
                    entry["state"][sub] = msg.text
            last[0] = time.monotonic()

    bus.subscribe("+/online", on_msg)
    bus.subscribe("+/+", on_msg)
    bus.subscribe("alarms/#", on_msg)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        time.sleep(0.05)
        if time.monotonic() - last[0] > 0.3 and services:
            break
    with lock:
        return {k: services[k] for k in sorted(services)}


def _summary(state: dict[str, Any]) -> str:
    parts = []
    for sub, val in sorted(state.items()):
        if isinstance(val, dict):
            if "fsm_state" in val:
                parts.append(f"{sub}: {val['fsm_state']}")
            elif "state" in val and isinstance(val["state"], str):
                parts.append(f"{sub}: {val['state']}")
            elif "severity" in val:
                parts.append(f"{sub}: {val['severity']}{'' if val.get('active') else ' (clear)'}")
            else:
                parts.append(sub)
        else:
            parts.append(f"{sub}: {val}")
    return ", ".join(parts)


def cmd_status(args: argparse.Namespace) -> int:
    cfg = bus_config(args)
    bus = BlockingBus(cfg, service=None, client_id=f"status-{uuid.uuid4().hex[:8]}")
    if not bus.start(wait=5):
        print(f"cannot reach the broker at {cfg.host}:{cfg.port}", file=sys.stderr)
        bus.stop()
        return 2
    services = collect_status(bus, args.wait)
    bus.stop()
    if args.json:
        print(json.dumps(services, indent=2, sort_keys=True))
        return 0
    if not services:
        print("no service has announced itself on this broker")
        return 1
    width = max(len(s) for s in services)
    for name, entry in services.items():
        online = {True: "online", False: "OFFLINE", None: "-"}[entry["online"]]
        print(f"{name:<{width}}  {online:<7}  {_summary(entry['state'])}")
    return 0


def build_payload(raw: str, cid: str, user: str | None, deadline: float | None = None,
                  via: str | None = None) -> bytes:  # fmt: skip
    """Wrap the user's payload in a JSON object with an id (and the time after which we no
    longer wait for it); malformed JSON is sent as typed, so the service says what is wrong."""
    text = raw.strip()
    extra: dict[str, Any] = {"id": cid}
    if deadline is not None:
        extra["deadline"] = deadline
    if user:
        extra["user"] = user
    if via:
        extra["via"] = via
    if not text:
        return json.dumps(extra).encode()
    try:
        obj = json.loads(text)
    except json.JSONDecodeError:
        if text[0] in '{["':
            return text.encode()
        return json.dumps({**extra, "value": text}).encode()
    if isinstance(obj, dict):
        return json.dumps({**obj, **extra}).encode()
    return json.dumps({**extra, "value": obj}).encode()


def os_user() -> str | None:
    """Who runs the command, as the operating system knows them."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # a container's uid with no passwd entry
        return None


class Presence:
    """Whether a service is on the bus, from its retained `<service>/online`: a command to a
    service that is not there is answered at once with what to do, not after its timeout."""

    def __init__(self, bus: BlockingBus, service: str):
        self.service = service
        self.said: str | None = None
        self._got = threading.Event()
        bus.subscribe(f"{service}/online", self._on)

    def _on(self, msg: Message) -> None:
        self.said = msg.text.strip().lower()
        self._got.set()

    def problem(self, args: argparse.Namespace, wait: float = 2.0) -> tuple[str, bool] | None:
        """Why the service cannot answer, and whether that is certain (None: it says it is
        online). Not certain: a name of no family of ours, which may be another stack's
        service (the reference backends announce nothing) and may still answer."""
        self._got.wait(wait)
        if self.said == "true":
            return None
        if self.said is not None:
            return (f"'{self.service}' is offline (its {self.service}/online says "
                    f"{self.said}): is its process running? `trackerdcs status` shows the "
                    "others"), True  # fmt: skip
        return absent(args, self.service)


def absent(args: argparse.Namespace, service: str) -> tuple[str, bool]:
    """What to tell someone whose command went to a service that never announced itself."""
    from trackerdcs.core import peers
    from trackerdcs.core.registry import families

    cfg = bus_config(args)
    where = f"on the broker at {cfg.host}:{cfg.port} (nothing said {service}/online)"
    fam = next((f for f in families().values() if f.topic_root == service), None)
    if getattr(args, "config", None):
        stand = load_or_exit(args.config)
        names = sorted(n for f in families() if (n := peers.service_name(stand, f)))
        if service not in names:
            add = f": add a `{fam.name}:` section (README, The stand file)" if fam else ""
            return (f"{args.config} runs no '{service}' service{add}; it runs "
                    f"{', '.join(names) or 'none'}"), fam is not None  # fmt: skip
        return f"'{service}' of {args.config} is not {where}: is the stand up?", True
    if fam is not None:
        return (
            f"no service '{service}' {where}: `trackerdcs status` lists the services "
            f"there; a stand runs it when its file has a `{fam.name}:` section"
        ), True
    return f"no service '{service}' {where}", False


def cmd_cmd(args: argparse.Namespace) -> int:
    cfg = bus_config(args)
    cid = uuid.uuid4().hex[:12]
    raw = build_payload(args.payload, cid, args.user or os_user(), time.time() + args.timeout + 5,
                        "cli")  # fmt: skip
    replies: list[dict[str, Any]] = []
    got = threading.Event()

    def on_reply(msg: Message) -> None:
        try:
            reply = msg.json()
        except ValueError:
            return
        if not isinstance(reply, dict) or msg.retain:
            return
        if reply.get("id") == cid or (
            reply.get("id") is None and reply.get("command") == args.name
        ):
            replies.append(reply)
            got.set()

    bus = BlockingBus(cfg, service=None, client_id=f"cmd-{cid}")
    bus.subscribe(f"{args.service}/reply", on_reply)
    presence = Presence(bus, args.service)
    if not bus.start(wait=5):
        print(f"cannot reach the broker at {cfg.host}:{cfg.port}", file=sys.stderr)
        bus.stop()
        return 2
    if (problem := presence.problem(args)) is not None:
        why, certain = problem
        if certain:
            bus.stop()
            print(why, file=sys.stderr)
            return 3
        # perhaps a service of another stack: say at once what is known, then wait for it
        print(f"{why}; sending anyway, waiting {args.timeout:g} s for a reply", file=sys.stderr)
    time.sleep(0.05)  # let the SUBACK arrive before the command can be answered
    bus.publish(f"{args.service}/cmd/{args.name}", raw, qos=1)
    ok = got.wait(args.timeout)
    bus.stop()
    if not ok:
        print(
            f"no reply from '{args.service}' within {args.timeout:.0f} s "
            f"(is it online? try: trackerdcs status)",
            file=sys.stderr,
        )
        return 3
    reply = replies[0]
    print(json.dumps(reply, indent=2, sort_keys=True))
    if not reply.get("ok"):
        print(
            f"{'refused' if reply.get('refused') else 'error'}: {reply.get('error')}",
            file=sys.stderr,
        )
        return 1
    return 0


def cmd_health(args: argparse.Namespace) -> int:
    """The service's retained `<service>/online`, read with its own account (in the pod a
    container holds only its own password)."""
    from trackerdcs.cli.common import load_or_exit
    from trackerdcs.core import topics

    stand = load_or_exit(args.config)
    bus = BlockingBus(stand.bus.account(args.service, stand.base_dir))
    said: list[str] = []
    got = threading.Event()

    def on_msg(msg: Message) -> None:
        said.append(msg.text.strip().lower())
        got.set()

    bus.subscribe(topics.online(args.service), on_msg)
    try:
        if not bus.start(wait=args.timeout):
            print(f"{args.service}: broker not reached: {bus.last_error}", file=sys.stderr)
            return 1
        got.wait(args.timeout)
    finally:
        bus.stop()
    if said and said[-1] == "true":
        return 0
    print(f"{args.service}: {'says ' + said[-1] if said else 'no availability'}", file=sys.stderr)
    return 1
