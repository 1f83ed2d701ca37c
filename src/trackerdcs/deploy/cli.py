"""`trackerdcs deploy ...`: deployment files generated from the stand file."""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from typing import TYPE_CHECKING, Any

from trackerdcs.cli.common import load_or_exit
from trackerdcs.deploy.images import IMAGES

if TYPE_CHECKING:
    from trackerdcs.config.model import StandBase


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

    b = sub.add_parser("build", help="build the pod's images locally (mmdebstrap, podman)")
    b.add_argument("images", nargs="*", choices=[[], *IMAGES], metavar="IMAGE",
                   help=f"some of {', '.join(IMAGES)} (default: all)")  # fmt: skip
    b.add_argument("--tag", default="latest")
    b.add_argument("--source", default=None, help="trackerdcs checkout (default: this one)")
    b.add_argument("--rebuild", action="store_true", help="build even the images that are "
                   "current (same inputs as the last build)")  # fmt: skip
    b.add_argument("--rebuild-base", action="store_true", help="make the Debian base again")
    b.add_argument("--check", action="store_true", help="build nothing: exit 1 naming the "
                   "images that are missing or not current")  # fmt: skip
    b.add_argument("--mirror", default=None, help="Debian mirror for the base")
    b.set_defaults(func=cmd_build)
    k = sub.add_parser("kube", help="write the pod (kube YAML, compose, Grafana, Node-RED, "
                       "Mosquitto) into the deployment folder")  # fmt: skip
    k.add_argument("--config", "-c", required=True)
    k.set_defaults(func=cmd_kube)
    for verb, what in (("up", "start the pod (`podman play kube`)"),
                       ("down", "stop and remove the pod (its volumes stay)"),
                       ("status", "the pod's containers and their health")):  # fmt: skip
        v = sub.add_parser(verb, help=what)
        v.add_argument("--config", "-c", required=True)
        v.set_defaults(func=cmd_pod, verb=verb)

    bk = commands.add_parser("backup", help="the stand's state, history, secrets in one archive")
    bk.add_argument("--config", "-c", required=True)
    bk.add_argument("--out", default=None, help="folder (default: deploy.backups.dir)")
    bk.add_argument("--keep", type=int, default=None, help="archives kept (deploy.backups.keep)")
    bk.add_argument("--influx-rpc", default="127.0.0.1:8088", help="InfluxDB's backup port")
    bk.set_defaults(func=cmd_backup)
    rs = commands.add_parser("restore", help="an archive of `trackerdcs backup` into an empty "
                             "deployment")  # fmt: skip
    rs.add_argument("archive")
    rs.add_argument("--config", "-c", required=True)
    rs.add_argument("--influx-rpc", default="127.0.0.1:8088")
    rs.add_argument("--force", action="store_true", help="write over existing files")
    rs.set_defaults(func=cmd_restore)

    s = commands.add_parser("secrets", help="the deployment's passwords, keys and certificates")
    ss = s.add_subparsers(dest="action", required=True)
    si = ss.add_parser("init", help="make every missing secret (never replaces one)")
    si.add_argument("--config", "-c", required=True)
    si.add_argument("--tls-name", action="append", default=[],
                    help="another host name the broker is reached by (repeatable)")  # fmt: skip
    si.set_defaults(func=cmd_secrets)
    sr = ss.add_parser("rotate", help="a new value for one secret; restart the pod after")
    sr.add_argument("name", help="e.g. mqtt/caen, web/operator, influx/grafana, tls")
    sr.add_argument("--config", "-c", required=True)
    sr.set_defaults(func=cmd_secrets)


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


def cmd_build(args: argparse.Namespace) -> int:
    from pathlib import Path

    from trackerdcs.deploy import images

    missing = images.have_tools()
    if missing:
        print(
            f"deploy build: missing {', '.join(missing)} "
            "(apt-get install podman runc uidmap mmdebstrap nodejs npm)",
            file=sys.stderr,
        )
        return 1
    names = list(args.images or IMAGES)
    source = Path(args.source) if args.source else None
    try:
        if args.check:
            old = images.stale(names, args.tag, source)
            if old:
                print(f"not current: {', '.join(old)} (trackerdcs deploy build "
                      f"{' '.join(names)})", file=sys.stderr)  # fmt: skip
                return 1
            print(f"current: {', '.join(names)}")
            return 0
        t0 = time.monotonic()
        images.build(names, args.tag, source, args.rebuild_base, args.mirror,
                     say=lambda line: print(line, flush=True), rebuild=args.rebuild)  # fmt: skip
        print(f"deploy build: {time.monotonic() - t0:.0f} s")
    except images.BuildError as exc:
        print(f"deploy build: {exc}", file=sys.stderr)
        return 1
    return 0


def cmd_kube(args: argparse.Namespace) -> int:
    return 0 if _write_pod(load_or_exit(args.config), args.config) else 1


def _write_pod(stand: StandBase, config: str) -> bool:
    """The pod's files, written if the secrets are there (else the reason is printed)."""
    from trackerdcs.core.registry import NotInPod
    from trackerdcs.deploy import pod

    out = pod.folder(stand)
    if not (out / "secrets" / "mqtt" / "passwd").exists():
        print(f"deploy kube: no secrets in {out / 'secrets'}: run `trackerdcs secrets init "
              f"-c {config}` first", file=sys.stderr)  # fmt: skip
        return False
    try:
        written = pod.write(stand)
    except NotInPod as exc:
        print(f"deploy kube: {stand.source}: {exc}", file=sys.stderr)
        return False
    for path in written:
        print(path)
    return True


def cmd_pod(args: argparse.Namespace) -> int:
    from trackerdcs.deploy import podman

    stand = load_or_exit(args.config)
    try:
        if args.verb == "up":
            if not _write_pod(stand, args.config):
                return 1  # no secrets yet: the reason is printed, nothing is started
            podman.up(stand)
            print(podman.status_text(stand))
        elif args.verb == "down":
            podman.down(stand)
        else:
            print(podman.status_text(stand))
    except podman.PodError as exc:
        print(f"deploy {args.verb}: {exc}", file=sys.stderr)
        return 1
    return 0


def cmd_secrets(args: argparse.Namespace) -> int:
    from trackerdcs.deploy import pod, secrets

    stand = load_or_exit(args.config)
    root = pod.folder(stand) / "secrets"
    try:
        if args.action == "init":
            made = secrets.init(stand, root, args.tls_name)
        else:
            made = secrets.rotate(stand, root, args.name)
    except (KeyError, RuntimeError, OSError, subprocess.CalledProcessError) as exc:
        print(f"secrets: {exc}", file=sys.stderr)
        return 1
    for m in made:
        print(f"made {root / m}")
    print(f"{len(made)} new; secrets in {root} (mode 0700; back it up, never commit it)")
    return 0


def cmd_backup(args: argparse.Namespace) -> int:
    from trackerdcs.deploy import backup, pod

    stand = load_or_exit(args.config)
    d = pod.deploy_config(stand)
    out = stand.path(args.out or d.backups.dir)
    try:
        archive = backup.backup(stand, out, args.keep or d.backups.keep, args.influx_rpc)
    except (backup.BackupError, OSError) as exc:
        print(f"backup: {exc}", file=sys.stderr)
        return 1
    m = backup.read_manifest(archive)
    print(f"{archive} ({len(m['files'])} files, {archive.stat().st_size / 1e6:.1f} MB)")
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    from pathlib import Path

    from trackerdcs.deploy import backup

    stand = load_or_exit(args.config)
    try:
        m = backup.restore(stand, Path(args.archive), args.influx_rpc, force=args.force)
    except (backup.BackupError, OSError) as exc:
        print(f"restore: {exc}", file=sys.stderr)
        return 1
    print(f"restored {len(m['files'])} files of {m['stand']} saved {m['created']}")
    return 0
