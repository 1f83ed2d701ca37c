"""`trackerdcs sim caen`: the simulated mainframe of a stand file; `trackerdcs import caen`:
a reference channel map (`example.yml`) as a stand-file section."""

from __future__ import annotations

import argparse
import signal
import sys
from typing import Any

from trackerdcs.cli.common import load_section_or_exit


def register(commands: Any, sim: Any) -> None:
    p = sim.add_parser("caen", help="simulated CAEN mainframe over Channel Access (caproto)")
    p.add_argument("--config", "-c", required=True, help="stand file (its caen section)")
    p.add_argument("--put-log", default=None, help="record client writes (JSON lines)")
    p.set_defaults(func=cmd_sim)
    imp = commands.add_parser("import", help="another stack's configuration as stand-file YAML")
    what = imp.add_subparsers(dest="what", required=True)
    c = what.add_parser("caen", help="the reference CAEN channel map (example.yml)")
    c.add_argument("file", help="the channel map (a `caen:` section, or the map alone)")
    c.set_defaults(func=cmd_import)


def cmd_import(args: argparse.Namespace) -> int:
    """Print the stand-file `caen:` section equivalent to a reference channel map: PV names
    for the settings, every setting in `settings:`, the same channel ids and modules."""
    import yaml

    from trackerdcs.caen.config import CaenConfig
    from trackerdcs.config.loader import ConfigError, read_yaml, validate

    try:
        data, node = read_yaml(args.file)
        section = data.get("caen", data) if isinstance(data, dict) else data
        if isinstance(data, dict) and "caen" in data:
            cfg = validate(CaenConfig, section, args.file, _child(node, "caen"))
        else:
            cfg = validate(CaenConfig, section, args.file, node)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    out = cfg.model_dump(by_alias=True, exclude_defaults=True,
                         exclude={"sim", "watchdog", "deadbands", "readback"})  # fmt: skip
    for side in ("lv", "hv"):
        if not out.get("global", {}).get(side):
            out.get("global", {}).pop(side, None)
    print(f"# from {args.file} (trackerdcs import caen)")
    print(yaml.safe_dump({"caen": out}, sort_keys=False, allow_unicode=True), end="")
    return 0


def _child(node: Any, key: str) -> Any:
    for k, v in getattr(node, "value", []):
        if getattr(k, "value", None) == key:
            return v
    return node


def cmd_sim(args: argparse.Namespace) -> int:
    stand = load_section_or_exit(args.config, "caen")
    if args.put_log:
        stand.caen.sim.put_log = args.put_log
    from trackerdcs.caen.simulator import serve

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    serve(stand.caen)
    return 0
