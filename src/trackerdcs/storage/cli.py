"""`trackerdcs query`: series list, raw ranges and downsampled ranges, as CSV or JSON."""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
from datetime import datetime
from typing import Any

from trackerdcs.cli.common import load_or_exit

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
        from datetime import UTC

        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


def register(commands: Any, sim: Any) -> None:
    p = commands.add_parser("query", help="read the historian: series, raw or downsampled")
    p.add_argument("--config", "-c", required=True, help="stand file (its storage section)")
    sub = p.add_subparsers(dest="what", required=True)
    s = sub.add_parser("series", help="list series names")
    s.add_argument("--match", default="", help="only names containing this")
    for name, helptext in (("raw", "every point in a range"),
                           ("buckets", "N buckets of min/mean/max")):  # fmt: skip
        q = sub.add_parser(name, help=helptext)
        q.add_argument("series", nargs="+", help="MEASUREMENT[,TAG=VALUE...]:FIELD")
        q.add_argument("--start", default="-1h")
        q.add_argument("--end", default="now")
        q.add_argument("--format", choices=("csv", "json"), default="csv")
        if name == "buckets":
            q.add_argument("-n", type=int, default=100, help="number of buckets")
    p.set_defaults(func=cmd_query)


def cmd_query(args: argparse.Namespace) -> int:
    import time

    from trackerdcs.storage.historian import HistorianError, open_historian

    stand = load_or_exit(args.config)
    h = open_historian(stand)
    try:
        if args.what == "series":
            for name in h.series(args.match):
                print(name)
            return 0
        now = time.time()
        start, end = parse_time(args.start, now), parse_time(args.end, now)
        rows: list[dict[str, Any]] = []
        for key in args.series:
            if args.what == "raw":
                rows += [{"series": key, "ts": t, "value": v} for t, v in h.raw(key, start, end)]
            else:
                for b in h.buckets(key, start, end, args.n):
                    rows.append({"series": key, "ts": b.ts, "min": b.min, "mean": b.mean,
                                 "max": b.max, "count": b.count})  # fmt: skip
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
