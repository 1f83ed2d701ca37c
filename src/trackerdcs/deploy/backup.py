"""`trackerdcs backup` / `trackerdcs restore`: a stand's state in one dated archive.

What goes in, while the stand runs:
- every SQLite database of the state folder (historian, run store, audit log, …) through
  SQLite's online backup API: a consistent snapshot, whatever the writers are doing;
- every other file of the state folder (users, alarm memory, the recorder's disk buffer);
- InfluxDB through `influxd backup -portable` (its RPC port; in the pod, inside the
  InfluxDB container);
- the deployment's folder: secrets, the generated files.

Two layouts: a stand run on this host (`trackerdcs up`: its state folder) or the pod
(`deploy up`: the named volumes `<pod>-state`, `-nodered`, `-grafana`, `-mosquitto`, each
saved like a folder, and `-influxdb` through InfluxDB's own backup). The pod layout is taken
when the stand has a `deploy` section and its state volume exists. A pod is restored while
it is stopped, into new volumes; InfluxDB's part is staged in its volume and restored by the
InfluxDB container at its next start (before it accepts any login, so nothing writes first).

The archive (`<stand>-<UTC time>.tar.gz`) has a `manifest.json`: each file's size and
SHA-256, and per historian series its point count, so that a restore is checked against
what was saved, not against hope. `--keep N` deletes the oldest archives beyond N.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trackerdcs import __version__
from trackerdcs.config.model import StandBase
from trackerdcs.deploy import podman
from trackerdcs.deploy.pod import deploy_config, folder

SKIP = (".lock", "-wal", "-shm", "-journal", ".tmp")
MANIFEST = "manifest.json"
INFLUX_STAGED = "restore"  # in the InfluxDB volume: restored by the container at its start


class BackupError(RuntimeError):
    pass


@dataclass
class Source:
    """A folder to save under its name in the archive (`state`, `deploy`)."""

    name: str
    path: Path


def _sha(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _is_sqlite(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read(16) == b"SQLite format 3\x00"
    except OSError:
        return False


def _copy_sqlite(src: Path, dst: Path) -> None:
    """The online backup API: pages copied under a read transaction, restarted if a writer
    changes the database meanwhile (in steps, so that writers are not held up)."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    source = sqlite3.connect(f"file:{src}?mode=ro", uri=True, timeout=30)
    target = sqlite3.connect(dst)
    try:
        source.backup(target, pages=1024)
        target.execute("PRAGMA journal_mode=DELETE")  # one file in the archive
    finally:
        target.close()
        source.close()


def series_counts(db: Path) -> dict[str, int]:
    """Points per series of a trackerdcs SQLite historian (empty for other databases)."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master")}
        if not {"series", "points", "texts"} <= tables:
            return {}
        out: dict[str, int] = {}
        for table in ("points", "texts"):
            q = (
                f"SELECT s.key, COUNT(*) FROM {table} p JOIN series s ON s.id = p.series "
                "GROUP BY s.key"
            )
            for key, n in con.execute(q):
                out[key] = out.get(key, 0) + int(n)
        return out
    finally:
        con.close()


def sources(stand: StandBase) -> list[Source]:
    """The stand's state folder and, if made, its deployment folder."""
    out = [Source("state", stand.data_dir)]
    dep = folder(stand)
    if dep.exists() and dep != stand.data_dir:
        out.append(Source("deploy", dep))
    return out


@dataclass
class Layout:
    """Where a stand keeps its state: folders on this host, or the pod's volumes."""

    kind: str  # "host" or "pod"
    sources: list[Source]


def layout(stand: StandBase) -> Layout:
    if stand.section("deploy") is not None and shutil.which("podman"):
        try:
            vols = {p: podman.volume(stand, p) for p in podman.VOLUMES if p != "influxdb"}
        except podman.PodError:
            vols = {}
        if vols.get("state") is not None:
            found = [Source(n, p) for n, p in vols.items() if p is not None]
            return Layout("pod", [*found, Source("deploy", folder(stand))])
    return Layout("host", sources(stand))


def _entry(saved: Path, original: os.stat_result | None = None) -> dict[str, Any]:
    """A file's line in the manifest: the saved copy's size and checksum, the original's
    mode and owner (restored with it)."""
    entry: dict[str, Any] = {"size": saved.stat().st_size, "sha256": _sha(saved), "mode": 0o600}
    if original is not None:
        entry.update(mode=original.st_mode & 0o777, uid=original.st_uid, gid=original.st_gid)
    return entry


def _save_folder(src: Source, into: Path, files: dict[str, Any], counts: dict[str, Any],
                 exclude: tuple[Path, ...]) -> None:  # fmt: skip
    for path in sorted(src.path.rglob("*")):
        if not path.is_file() or path.name.endswith(SKIP):
            continue
        if any(path.is_relative_to(x) for x in exclude):
            continue
        rel = f"{src.name}/{path.relative_to(src.path)}"
        dst = into / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        if _is_sqlite(path):
            _copy_sqlite(path, dst)
            got = series_counts(dst)
            if got:
                counts[rel] = got
        else:
            shutil.copy2(path, dst)
        files[rel] = _entry(dst, path.stat())


def _influx(stand: StandBase, into: Path, rpc: str) -> dict[str, Any] | None:
    url = stand.storage.historian
    if not url.startswith(("influxdb://", "influxdbs://")):
        return None
    db = url.rsplit("/", 1)[-1]
    if shutil.which("influxd") is None:
        raise BackupError("the historian is InfluxDB and `influxd` (for `influxd backup`) is not "
                          "on this host: apt-get install influxdb")  # fmt: skip
    target = into / "influxdb"
    r = subprocess.run(["influxd", "backup", "-portable", "-database", db, "-host", rpc,
                        str(target)], capture_output=True, text=True, timeout=3600)  # fmt: skip
    if r.returncode != 0:
        raise BackupError(f"influxd backup: {r.stderr.strip()[-500:]}")
    return {"database": db, "rpc": rpc}


def _influx_pod(stand: StandBase, into: Path, tag: str) -> dict[str, Any]:
    """`influxd backup -portable` inside the pod's InfluxDB container, into its volume, then
    moved into the archive's folder."""
    d = deploy_config(stand)
    vol = podman.volume(stand, "influxdb")
    if vol is None or not podman.running(stand):
        raise BackupError(f"pod {d.pod} is not running: InfluxDB is saved by its running "
                          "server (`trackerdcs deploy up` first)")  # fmt: skip
    staged = f".backup-{tag}"
    try:
        podman.podman("exec", f"{d.pod}-influxdb", "influxd", "backup", "-portable",
                      "-database", d.influxdb_db, "-host", "127.0.0.1:8088",
                      f"/var/lib/influxdb/{staged}", timeout=3600)  # fmt: skip
        shutil.move(vol / staged, into / "influxdb")
    except podman.PodError as exc:
        raise BackupError(f"InfluxDB in the pod: {exc}") from exc
    finally:
        shutil.rmtree(vol / staged, ignore_errors=True)
    return {"database": d.influxdb_db, "container": f"{d.pod}-influxdb"}


def backup(stand: StandBase, out: Path, keep: int | None = None,
           influx_rpc: str = "127.0.0.1:8088") -> Path:  # fmt: skip
    """Write one archive into `out`; returns its path."""
    out.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    name = f"{stand.stand.name}-{now:%Y%m%dT%H%M%S}.{now.microsecond // 1000:03d}Z"
    files: dict[str, Any] = {}
    counts: dict[str, Any] = {}
    lay = layout(stand)
    with tempfile.TemporaryDirectory(prefix="trackerdcs-backup-", dir=out) as tmp:
        root = Path(tmp) / name
        root.mkdir()
        for src in lay.sources:
            _save_folder(src, root, files, counts, exclude=(out.resolve(),))
        if lay.kind == "pod":
            influx: dict[str, Any] | None = _influx_pod(stand, root, name)
        else:
            influx = _influx(stand, root, influx_rpc)
        if influx:
            for path in sorted((root / "influxdb").rglob("*")):
                if path.is_file():
                    files[str(path.relative_to(root))] = _entry(path)
        manifest = {
            "stand": stand.stand.name, "created": now.isoformat(), "trackerdcs": __version__,
            "layout": lay.kind, "sources": {s.name: str(s.path) for s in lay.sources},
            "influxdb": influx, "files": files, "series_counts": counts,
        }  # fmt: skip
        (root / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True))
        archive = out / f"{name}.tar.gz"
        partial = archive.with_suffix(".partial")
        with tarfile.open(partial, "w:gz") as tar:
            tar.add(root, arcname=name)
        partial.chmod(0o600)  # it holds the secrets
        partial.replace(archive)
    if keep:
        prune(out, stand.stand.name, keep)
    return archive


def prune(out: Path, stand: str, keep: int) -> list[Path]:
    archives = sorted(out.glob(f"{stand}-*.tar.gz"))
    gone = archives[:-keep] if keep < len(archives) else []
    for a in gone:
        a.unlink()
    return gone


def read_manifest(archive: Path) -> dict[str, Any]:
    with tarfile.open(archive, "r:gz") as tar:
        for m in tar.getmembers():
            if m.name.endswith("/" + MANIFEST) and m.name.count("/") == 1:
                fh = tar.extractfile(m)
                assert fh is not None
                return dict(json.loads(fh.read()))
    raise BackupError(f"{archive}: no {MANIFEST}: not a trackerdcs backup")


def verify(root: Path, manifest: dict[str, Any]) -> None:
    for rel, info in manifest["files"].items():
        path = root / rel
        if not path.exists():
            raise BackupError(f"{rel} is missing from the archive")
        if _sha(path) != info["sha256"]:
            raise BackupError(f"{rel}: checksum differs: the archive is damaged")


def restore(
    stand: StandBase,
    archive: Path,
    influx_rpc: str = "127.0.0.1:8088",
    targets: dict[str, Path] | None = None,
    force: bool = False,
) -> dict[str, Any]:
    """Unpack into an empty deployment: the state folder (and deployment folder) must hold
    no data yet, unless `force`. InfluxDB (running, empty of that database) gets its backup
    through `influxd restore -portable`. Returns the manifest."""
    manifest = read_manifest(archive)
    pod = manifest.get("layout") == "pod"
    parts = {rel.split("/", 1)[0] for rel in manifest["files"]}
    if not pod:
        parts.discard("influxdb")  # restored through influxd below, not as files
    if pod and podman.running(stand):
        raise BackupError(f"pod {deploy_config(stand).pod} is running: a restore goes into "
                          "a stopped deployment (`trackerdcs deploy down`)")  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="trackerdcs-restore-") as tmp:
        with tarfile.open(archive, "r:gz") as tar:
            tar.extractall(tmp, filter="data")
        root = next(Path(tmp).iterdir())
        verify(root, manifest)
        # the pod's volumes are made once the archive is known good
        dest = ({p: podman.new_volume(stand, p) for p in parts - {"deploy"}} if pod
                else {s.name: s.path for s in sources(stand)})  # fmt: skip
        dest.setdefault("deploy", folder(stand))
        dest.update(targets or {})
        for name in parts:
            if name not in dest:
                raise BackupError(f"the archive has '{name}' and this stand has no place for it")
            there = dest[name]
            busy = [p for p in there.rglob("*") if p.is_file() and not p.name.endswith(SKIP)] \
                if there.exists() else []  # fmt: skip
            if busy and not force:
                raise BackupError(
                    f"{there} is not empty ({len(busy)} files): restore goes into "
                    "an empty deployment (stop it and move the folder away)"
                )
        for rel, info in manifest["files"].items():
            name, _, sub = rel.partition("/")
            if name == "influxdb":
                if not pod:
                    continue
                sub = f"{INFLUX_STAGED}/{sub}"
            target = dest[name] / sub
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(root / rel, target)
            target.chmod(info.get("mode", 0o600))
            if "uid" in info and os.geteuid() == 0:
                os.chown(target, info["uid"], info["gid"])
        for secrets_dir in dest["deploy"].glob("secrets"):
            for d in [secrets_dir, *secrets_dir.rglob("*")]:
                if d.is_dir():
                    d.chmod(0o700)
        if manifest.get("influxdb") and not pod:
            r = subprocess.run(["influxd", "restore", "-portable", "-host", influx_rpc,
                                str(root / "influxdb")], capture_output=True, text=True,
                               timeout=3600)  # fmt: skip
            if r.returncode != 0:
                raise BackupError(f"influxd restore: {r.stderr.strip()[-500:]}")
    return manifest
