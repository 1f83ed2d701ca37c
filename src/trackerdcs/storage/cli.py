"""`trackerdcs query`: series list, raw ranges and downsampled ranges, as CSV or JSON."""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from trackerdcs.cli.common import load_or_exit
from trackerdcs.storage.events import TAGS
from trackerdcs.storage.points import parse_series

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_time(text: str, now: float) -> float:
    """`now`, `-1h` / `-30m` / `-7d`, epoch seconds, or ISO 8601 (UTC if no zone)."""
    text = text.strip()
    if text == "now":
        return now
    if m := re.fullmatch(r"-(\d+(?:\.\d+)?)([smhdw])", text):
        return now - float(m.group(1)) * UNITS[m.group(2)]
    try:
        return float(text)
    except ValueError:
        pass
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise SystemExit(f"cannot read time '{text}': use now, -1h, epoch or ISO 8601") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


def register(commands: Any, sim: Any) -> None:
    p = commands.add_parser(
        "query", help="read the historian: series, raw or downsampled",
        description="Without --config: the demo's history (./trackerdcs-demo, or --state-dir). "
        "A series is its full name (MEASUREMENT[,TAG=VALUE...]:FIELD) or a short one: "
        "`room:temperature`, `1:lv_iMon`, `channels,id=2:hv_vMon`, `lv_iMon` (every series of "
        "that field), words being the measurement or tag values.")  # fmt: skip
    p.add_argument("--config", "-c", default=None, help="stand file (its storage section)")
    p.add_argument("--state-dir", default=None, help="the data folder: without --config, the "
                   "packaged demo's (default ./trackerdcs-demo); with it, instead of the stand "
                   "file's own")  # fmt: skip
    sub = p.add_subparsers(dest="what", required=True)
    s = sub.add_parser("series", help="list series names")
    s.add_argument("--match", default="", help="only names containing this")
    for name, helptext in (("raw", "every point in a range"),
                           ("buckets", "N buckets of min/mean/max")):  # fmt: skip
        q = sub.add_parser(name, help=helptext)
        q.add_argument("series", nargs="+", help="full or short series name")
        q.add_argument("--start", default="-1h")
        q.add_argument("--end", default="now")
        q.add_argument("--format", choices=("csv", "json"), default="csv")
        if name == "buckets":
            q.add_argument("-n", type=int, default=100, help="number of buckets")
    e = sub.add_parser("events", help="the event log: commands, alarms, interlocks, states")
    e.add_argument("--start", default="-24h")
    e.add_argument("--end", default="now")
    for tag in TAGS:
        e.add_argument(f"--{tag}", default="", help=f"only events of this {tag}")
    e.add_argument("--limit", type=int, default=200, help="the newest this many")
    e.add_argument("--format", choices=("text", "json"), default="text")
    p.set_defaults(func=cmd_query)


def resolve(name: str, known: list[str]) -> list[str]:
    """The series a full or short name stands for (empty: none)."""
    if name in known:
        return [name]
    head, sep, fld = name.rpartition(":")
    if not sep:
        head, fld = "", name
    words = [w for w in head.split(",") if w]
    out = []
    for key in known:
        try:
            s = parse_series(key)
        except ValueError:
            continue
        if s.field != fld:
            continue
        names = {s.measurement, *s.tags.values(), *(f"{k}={v}" for k, v in s.tags.items())}
        if all(w in names for w in words):
            out.append(key)
    return out


def _stand(args: argparse.Namespace) -> Any:
    if args.config:
        if args.state_dir:
            os.environ["TRACKERDCS_STATE_DIR"] = str(Path(args.state_dir).resolve())
        return load_or_exit(args.config)
    from trackerdcs.cli.stand import DEMO_STATE, demo_file

    state = Path(args.state_dir or DEMO_STATE).resolve()
    if not state.is_dir():
        raise SystemExit(f"no --config given and no demo data in {state}: run `trackerdcs demo` "
                         "first, or name the stand file with --config")  # fmt: skip
    os.environ["TRACKERDCS_STATE_DIR"] = str(state)
    print(f"(the demo's history in {state})", file=sys.stderr)
    return load_or_exit(demo_file())


def cmd_query(args: argparse.Namespace) -> int:
    import time

    from trackerdcs.storage.historian import HistorianError, open_historian

    stand = _stand(args)
    try:
        h = open_historian(stand, create=False)
    except HistorianError as exc:
        print(f"query failed: {exc}", file=sys.stderr)
        return 1
    try:
        if args.what == "series":
            names = h.series(args.match)
            if not names:
                print(f"no series{' matching ' + repr(args.match) if args.match else ''} in the "
                      "historian yet", file=sys.stderr)  # fmt: skip
            for name in names:
                print(name)
            return 0
        now = time.time()
        start, end = parse_time(args.start, now), parse_time(args.end, now)
        if args.what == "events":
            where = {t: getattr(args, t) for t in TAGS if getattr(args, t)}
            events = h.events(start, end, where, args.limit)
            if not events:
                print(f"no events between {_iso(start)} and {_iso(end)}"
                      + (f" for {where}" if where else ""), file=sys.stderr)  # fmt: skip
            if args.format == "json":
                print(json.dumps([{"ts": ts, "text": text, **{t: tags.get(t, "") for t in TAGS}}
                                  for ts, tags, text in events]))  # fmt: skip
            for ts, tags, text in [] if args.format == "json" else reversed(events):
                level, kind = tags.get("level", ""), tags.get("kind", "")
                print(f"{_iso(ts, 'milliseconds')}  {level:<7} {kind:<9} {text}")
            return 0
        known = h.series("")
        keys: list[str] = []
        for name in args.series:
            found = resolve(name, known)
            if not found:
                close = [k for k in known if name.rpartition(":")[2] in k][:5]
                hint = f"; names like it: {', '.join(close)}" if close else ""
                print(f"no series '{name}' in the historian{hint} "
                      "(`trackerdcs query series` lists them)", file=sys.stderr)  # fmt: skip
                return 1
            if found != [name]:
                print(f"{name} -> {', '.join(found)}", file=sys.stderr)
            keys += found
        rows: list[dict[str, Any]] = []
        for key in keys:
            if args.what == "raw":
                got = [{"series": key, "ts": t, "value": v} for t, v in h.raw(key, start, end)]
            else:
                got = []
                for b in h.buckets(key, start, end, args.n):
                    got.append({"series": key, "ts": b.ts, "min": b.min, "mean": b.mean,
                                "max": b.max, "count": b.count})  # fmt: skip
            if not got:
                why = "values are stored when they change; try an earlier --start"
                print(f"{key}: no points between {_iso(start)} and {_iso(end)} ({why})",
                      file=sys.stderr)  # fmt: skip
            rows += got
    except (HistorianError, ValueError) as exc:
        print(f"query failed: {exc}", file=sys.stderr)
        return 1
    finally:
        h.close()
    if args.format == "json":
        json.dump(rows, sys.stdout)
        print()
    else:
        fields = ["series", "ts", "value"] if args.what == "raw" else [
            "series", "ts", "min", "mean", "max", "count"]  # fmt: skip
        w = csv.DictWriter(sys.stdout, fieldnames=fields)
        w.writeheader()
        w.writerows(rows)
    return 0


def _iso(ts: float, timespec: str = "seconds") -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec=timespec).replace("+00:00", "Z")
