"""The runs service from a shell: `trackerdcs runs ...` (calibration runs, the run store),
`trackerdcs iv ...` (IV scans) and `trackerdcs sequence ...` (recipes)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from trackerdcs.cli.client import Presence, os_user
from trackerdcs.cli.common import add_bus_options, bus_config


def register(commands: Any, sim: Any) -> None:
    p = commands.add_parser("runs", help="calibration runs: start, stop, list, show, export")
    _common(p)
    sub = p.add_subparsers(dest="action", required=True)
    s = sub.add_parser("start", help="start a run (refused with the reason if not ready)")
    s.add_argument("calibration", help="Ph2_ACF tag, e.g. calibration, pedenoise")
    s.add_argument("--modules", nargs="*", help="module names or channel ids (default all)")
    s.add_argument("--note", default="")
    sub.add_parser("stop", help="stop the run (recorded as aborted)")
    sub.add_parser("abort", help="abort the run now (recorded as aborted)")
    sub.add_parser("list", help="the latest runs")
    for name in ("show", "export"):
        x = sub.add_parser(name, help="a run's document" + (" as JSON" if name == "export" else ""))
        x.add_argument("id", type=int)
        if name == "export":
            x.add_argument("--output", "-o", default="-", help="file (default stdout)")
    c = sub.add_parser("csv", help="an IV scan's curves in the labs' CSV, one file per module")
    c.add_argument("id", type=int)
    c.add_argument("--dir", "-d", default=".", help="folder for <module>_IV_run<id>.csv")
    c.add_argument("--station", default="", help="station name for the header")
    p.set_defaults(func=cmd_runs)
    _register_iv(commands)
    _register_sequence(commands)


def _common(p: argparse.ArgumentParser) -> None:
    add_bus_options(p)
    p.add_argument("--service", default="runs", help="the runs service's topic root")
    p.add_argument("--user", default=None, help="operator name recorded with the run (default: "
                   "the OS user running the command)")  # fmt: skip
    p.add_argument("--timeout", type=float, default=30.0)


def _register_iv(commands: Any) -> None:
    p = commands.add_parser("iv", help="IV scans: start, stop, csv")
    _common(p)
    sub = p.add_subparsers(dest="action", required=True)
    s = sub.add_parser("start", help="scan every module's HV channel in parallel")
    s.add_argument("--stop", type=float, required=True, help="V")
    s.add_argument("--step", type=float, required=True, help="V")
    s.add_argument("--compliance", type=float, required=True, help="µA: software current limit")
    s.add_argument("--start", type=float, default=0.0, help="V (default 0)")
    s.add_argument("--settle", type=float, default=1.0, help="s after the read-back (default 1)")
    s.add_argument("--readings", type=int, default=3, help="averaged per step (default 3)")
    s.add_argument("--breakdown-factor", type=float, default=5.0)
    s.add_argument("--end-voltage", type=float, default=0.0, help="V every channel ends at")
    s.add_argument("--modules", nargs="*", help="module names or channel ids (default all)")
    s.add_argument("--note", default="")
    s.add_argument("--follow", action="store_true", help="print the steps until the scan ends")
    sub.add_parser("stop", help="stop the scan (every channel ramps down)")
    c = sub.add_parser("csv", help="a scan's curves in the labs' CSV, one file per module")
    c.add_argument("id", type=int)
    c.add_argument("--dir", "-d", default=".", help="folder for <module>_IV_run<id>.csv")
    c.add_argument("--station", default="", help="station name for the header")
    p.set_defaults(func=cmd_iv)


def _register_sequence(commands: Any) -> None:
    p = commands.add_parser("sequence", help="recipes: start, pause, resume, abort, status")
    _common(p)
    sub = p.add_subparsers(dest="action", required=True)
    s = sub.add_parser("start", help="run a recipe (a local YAML file, or a name in the "
                       "service's recipes folder)")  # fmt: skip
    s.add_argument("recipe")
    s.add_argument("--note", default="")
    s.add_argument("--follow", action="store_true", help="print the steps until it ends")
    sub.add_parser("pause", help="hold at the end of the current step")
    r = sub.add_parser("resume", help="go on after a pause or a restart")
    r.add_argument("--from-step", type=int, default=None, help="re-start at this step")
    a = sub.add_parser("abort", help="stop now: the modules are switched off")
    a.add_argument("--reason", default=None)
    st = sub.add_parser("status", help="the sequence now")
    st.add_argument("--follow", action="store_true", help="keep printing until it ends")
    sub.add_parser("recipes", help="the recipes the service offers")
    sh = sub.add_parser("show", help="a sequence's steps and their outcome")
    sh.add_argument("id", type=int)
    p.set_defaults(func=cmd_sequence)


def _ask(args: argparse.Namespace, name: str, payload: Any) -> tuple[int, Any]:
    """(exit code, result): 0 with the result, else the code after printing why."""
    from trackerdcs.core.blocking import BlockingBus

    cfg = bus_config(args)
    bus = BlockingBus(cfg, service=None)
    presence = Presence(bus, args.service)
    if not bus.start(wait=5):
        print(f"cannot reach the broker at {cfg.host}:{cfg.port}", file=sys.stderr)
        bus.stop()
        return 2, None
    if (problem := presence.problem(args)) is not None:
        bus.stop()
        print(problem[0], file=sys.stderr)
        return 3, None
    try:
        reply = bus.request(args.service, name, payload, args.timeout,
                            user=args.user or os_user())  # fmt: skip
    except TimeoutError:
        print(f"no reply from '{args.service}' within {args.timeout:g} s", file=sys.stderr)
        return 3, None
    finally:
        bus.stop()
    if not reply.get("ok"):
        print(f"{'refused' if reply.get('refused') else 'error'}: {reply.get('error')}",
              file=sys.stderr)  # fmt: skip
        return 1, None
    return 0, reply.get("result") or {}


def _follow(args: argparse.Namespace, topic: str, line: Any, done: Any) -> int:
    """Print `line(state)` on every change of a retained state until `done(state)`."""
    import queue

    from trackerdcs.core.blocking import BlockingBus
    from trackerdcs.core.bus import Message

    q: queue.Queue[dict[str, Any]] = queue.Queue()

    def on(msg: Message) -> None:
        try:
            q.put(msg.json())
        except ValueError:
            pass

    bus = BlockingBus(bus_config(args), service=None)
    bus.subscribe(f"{args.service}/{topic}", on)
    if not bus.start(wait=5):
        print("cannot reach the broker", file=sys.stderr)
        bus.stop()
        return 2
    last = ""
    try:
        while True:
            state = q.get()
            text = line(state)
            if text != last:
                print(text, flush=True)
                last = text
            if done(state):
                return 0 if state.get("state") in ("done", "idle") else 1
    except KeyboardInterrupt:
        return 130
    finally:
        bus.stop()


def cmd_iv(args: argparse.Namespace) -> int:
    if args.action == "csv":
        code, doc = _ask(args, f"show/{args.id}", None)
        return code or _write_csv(doc, args)
    if args.action == "stop":
        code, result = _ask(args, "stop", {"reason": None})
        return code
    body = {"start": args.start, "stop": args.stop, "step": args.step, "settle": args.settle,
            "readings": args.readings, "compliance": args.compliance,
            "breakdown_factor": args.breakdown_factor, "end_voltage": args.end_voltage,
            "modules": args.modules or None, "note": args.note}  # fmt: skip
    code, result = _ask(args, "iv/start", body)
    if code:
        return code
    print(f"IV scan {result['id']}: {result['steps']} steps on {', '.join(result['modules'])}")
    if not args.follow:
        return 0
    return _follow(args, "status",
                   lambda s: f"{s.get('state')} step {s.get('steps_done')} {s.get('step') or ''}",
                   lambda s: s.get("run") != result["id"])  # fmt: skip


def _seq_line(s: dict[str, Any]) -> str:
    if s.get("id") is None:
        return "no sequence"
    cycle = f" cycle {s['cycle']}" if s.get("cycle") else ""
    eta = f", ≥{s['eta']:.0f} s to go" if s.get("eta") is not None else ""
    why = f" — {s['reason']}" if s.get("reason") else ""
    return (f"sequence {s['id']} ({s['name']}) {s['state']}: step {s['step_no']}/{s['total']}"
            f"{cycle} {s['step']}{eta}{why}")  # fmt: skip


def cmd_sequence(args: argparse.Namespace) -> int:
    from pathlib import Path

    payload: Any = None
    name = f"sequence/{args.action}"
    if args.action == "start":
        local = Path(args.recipe)
        payload = {"recipe": args.recipe, "note": args.note}
        if local.is_file():  # the operator's own file: its text goes with the command
            payload = {"recipe": local.name, "text": local.read_text(), "note": args.note}
    elif args.action == "resume":
        payload = {"from_step": args.from_step}
    elif args.action == "abort":
        payload = {"reason": args.reason}
    elif args.action == "show":
        name = f"show/{args.id}"
    code, result = _ask(args, name, payload)
    if code:
        return code
    if args.action == "recipes":
        if not result["recipes"]:
            print(f"no recipes in {result['folder']} (the service's runs.recipes)")
        for r in result["recipes"]:
            what = (f"INVALID: {r['error']}" if "error" in r
                    else f"{r['name']} ({r['steps']} steps) {r['description']}")  # fmt: skip
            print(f"{r['file']:<24} {what}")
        return 0
    if args.action == "show":
        for st in result.get("steps", []):
            print(f"{st['index'] + 1:>3}. {st['cycle']:<5} {st['label']:<36} {st['status']:<11} "
                  f"{st['reason']}")  # fmt: skip
        for e in result.get("events", []):
            print(f"     {e['event']}: {e['detail']}")
        return 0
    if args.action == "status":
        print(_seq_line(result))
        if not args.follow:
            return 0
    elif args.action == "start":
        print(f"sequence {result['id']} ({result['name']}): {result['steps']} steps on "
              f"{', '.join(result['modules'])}")  # fmt: skip
        if not args.follow:
            return 0
    else:
        print(json.dumps(result))
        return 0
    live = ("running", "pausing", "paused", "aborting")
    return _follow(args, "sequence", _seq_line, lambda s: s.get("state") not in live)


def cmd_runs(args: argparse.Namespace) -> int:
    name, payload = args.action, None
    if args.action == "start":
        payload = {"calibration": args.calibration, "modules": args.modules or None,
                   "note": args.note}  # fmt: skip
    elif args.action in ("show", "export", "csv"):
        name = f"show/{args.id}"
    code, result = _ask(args, name, payload)
    if code:
        return code
    if args.action == "list":
        runs = result.get("runs", [])
        if not runs:
            print("no runs yet")
        for r in runs:
            print(_run_line(r))
        return 0
    if args.action == "csv":
        return _write_csv(result, args)
    text = json.dumps(result, indent=2, sort_keys=True)
    if args.action == "export" and args.output != "-":
        with open(args.output, "w") as fh:
            fh.write(text + "\n")
    else:
        print(text)
    return 0


def _when(ts: Any) -> str:
    """A run's time as an operator reads it: UTC, to the second."""
    from datetime import UTC, datetime

    if not isinstance(ts, int | float):
        return "-"
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _run_line(r: dict[str, Any]) -> str:
    """One line of `runs list`: id, start (UTC), status, what, Ph2_ACF's run number, who."""
    number = f"Ph2_ACF run {r['run_number']}" if r.get("run_number") is not None else (
        "" if r.get("kind") == "iv" else "no Ph2_ACF run number")  # fmt: skip
    who = f"by {r['operator']}" if r.get("operator") else ""
    why = f"— {r['reason']}" if r.get("reason") else ""
    parts = [f"{r['id']:>5}", _when(r.get("start")), f"{r['status']:<8}",
             f"{r.get('calibration') or r.get('kind') or '':<16}", number,
             ", ".join(r.get("modules") or []), who, why]  # fmt: skip
    return "  ".join(p for p in parts if p)


def _write_csv(doc: dict[str, Any], args: argparse.Namespace) -> int:
    from pathlib import Path

    from trackerdcs.runs import iv

    if doc.get("kind") != "iv":
        print(f"run {doc.get('id')} is not an IV scan", file=sys.stderr)
        return 1
    out = Path(args.dir)
    out.mkdir(parents=True, exist_ok=True)
    for cid, curve in sorted(doc.get("curves", {}).items()):
        points = [iv.Point.from_dict(p) for p in curve["points"]]
        extra = {"run": str(doc["id"]), "status": curve["status"]}
        if curve.get("reason"):
            extra["reason"] = curve["reason"]
        header = iv.Header(curve["module"], args.station, cid, doc.get("start"), extra)
        path = out / f"{curve['module']}_IV_run{doc['id']}.csv"
        path.write_text(iv.to_csv(points, header))
        print(path)
    return 0
