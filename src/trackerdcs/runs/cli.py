"""`trackerdcs runs start|stop|abort|list|show N|export N`: the runs service from a shell."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from trackerdcs.cli.common import add_bus_options, bus_config


def register(commands: Any, sim: Any) -> None:
    p = commands.add_parser("runs", help="calibration runs: start, stop, list, show, export")
    add_bus_options(p)
    p.add_argument("--service", default="runs", help="the runs service's topic root")
    p.add_argument("--user", default=None, help="operator name recorded with the run")
    p.add_argument("--timeout", type=float, default=30.0)
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


def cmd_runs(args: argparse.Namespace) -> int:
    from trackerdcs.core.blocking import BlockingBus

    cfg = bus_config(args)
    name, payload = args.action, None
    if args.action == "start":
        payload = {"calibration": args.calibration, "modules": args.modules or None,
                   "note": args.note}  # fmt: skip
    elif args.action in ("show", "export", "csv"):
        name = f"show/{args.id}"
    bus = BlockingBus(cfg, service=None)
    if not bus.start(wait=5):
        print(f"cannot reach the broker at {cfg.host}:{cfg.port}", file=sys.stderr)
        bus.stop()
        return 2
    try:
        reply = bus.request(args.service, name, payload, args.timeout, user=args.user)
    except TimeoutError:
        print(f"no reply from '{args.service}' within {args.timeout:g} s", file=sys.stderr)
        return 3
    finally:
        bus.stop()
    if not reply.get("ok"):
        print(f"{'refused' if reply.get('refused') else 'error'}: {reply.get('error')}",
              file=sys.stderr)  # fmt: skip
        return 1
    result: Any = reply.get("result") or {}
    if args.action == "list":
        for r in result.get("runs", []):
            print(f"{r['id']:>5}  {r['status']:<8} {r['calibration']:<24} run {r['run_number']}"
                  f"  {', '.join(r['modules'])}  {r['reason'] or ''}")  # fmt: skip
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
