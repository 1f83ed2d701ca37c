"""Issue 17, backups: `trackerdcs backup` while the recorder writes a flood, then a wipe and
`trackerdcs restore` into the empty deployment. The historian's points per series, the run
store, the users and the audit log come back identical; the archive taken under load is a
consistent snapshot (SQLite's online backup), checked against its own manifest."""

from __future__ import annotations

import io
import shutil
import sqlite3
import stat
import subprocess
import sys
import tarfile
import threading
import time
from pathlib import Path

import httpx
import pytest

from trackerdcs.config import load_stand
from trackerdcs.deploy import backup, secrets
from trackerdcs.runs.store import SqliteRunStore
from trackerdcs.testing.influx import Influx
from trackerdcs.testing.probe import Probe
from trackerdcs.web.audit import AuditLog
from trackerdcs.web.users import Users


def _rows(db: Path, q: str) -> list[tuple]:
    con = sqlite3.connect(db)
    try:
        return list(con.execute(q))
    finally:
        con.close()


def test_backup_under_load_wipe_and_restore_gives_everything_back(
    write_stand, tmp_path: Path
) -> None:
    path, stand = write_stand(
        "storage:\n  historian: sqlite:///history.sqlite\n"
        "recorder: {flush_interval: 0.2, deadbands: {'*': 0}}\n"
        f"deploy: {{folder: {tmp_path / 'production'}}}\n"
    )
    state = stand.data_dir
    secrets.init(stand, tmp_path / "production" / "secrets")
    runs = SqliteRunStore(state / "runs.sqlite")
    for i in range(1, 6):
        runs.save({"id": i, "start": time.time(), "status": "done", "tag": f"pedenoise-{i}"})
    Users(state / "users.yaml").add("alice", "a-long-password", "operator")
    audit = AuditLog(state / "audit.sqlite")
    for _ in range(20):
        audit.record("alice", "operator", "dcs", "switch/lv", "on", True, None)
    log = open(tmp_path / "recorder.log", "wb")  # noqa: SIM115 (the process writes it)
    proc = subprocess.Popen(
        [sys.executable, "-m", "trackerdcs", "run", "recorder", "-c", str(path)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    stop = threading.Event()
    out = tmp_path / "backups"
    try:
        with Probe(stand.bus) as p:
            p.wait_for("recorder/online", lambda m: m.text == "true", timeout=20)

            def flood() -> None:
                n = 0
                while not stop.is_set():
                    n += 1
                    for s in range(10):
                        p.publish(
                            f"sensors/s{s}",
                            {
                                "name": f"s{s}",
                                "temperature": 20 + n % 7 * 0.1,
                                "humidity": 40.0,
                                "ts": time.time(),
                            },
                        )
                    time.sleep(0.005)

            writer = threading.Thread(target=flood, daemon=True)
            writer.start()
            time.sleep(3)
            under_load = backup.backup(stand, out)  # the recorder writes all along
            time.sleep(1)
            stop.set()
            writer.join(10)
            assert p.command("recorder", "flush", timeout=30)["ok"]
    finally:
        stop.set()
        proc.terminate()
        proc.wait(20)
    audit.db.close()
    runs.db.close()

    # the archive taken under load: a consistent database whose counts are its manifest's
    loaded = backup.read_manifest(under_load)
    snap = tmp_path / "snapshot"
    backup.restore(stand, under_load, targets={"state": snap / "state", "deploy": snap / "deploy"})
    assert _rows(snap / "state" / "history.sqlite", "PRAGMA integrity_check") == [("ok",)]
    saved = loaded["series_counts"]["state/history.sqlite"]
    assert backup.series_counts(snap / "state" / "history.sqlite") == saved
    assert sum(saved.values()) > 100  # it was taken mid-flood, with data in it

    # the final archive, the deployment wiped, restored into the empty folders
    live = backup.series_counts(state / "history.sqlite")
    assert all(live[k] >= n for k, n in saved.items())
    before = {
        "runs": _rows(state / "runs.sqlite", "SELECT * FROM runs ORDER BY id"),
        "audit": _rows(state / "audit.sqlite", "SELECT * FROM audit ORDER BY rowid"),
        "users": (state / "users.yaml").read_text(),
        "secrets": {p.name: p.read_bytes() for p in (tmp_path / "production" / "secrets").rglob("*")
                    if p.is_file()},
    }  # fmt: skip
    final = backup.backup(stand, out)
    shutil.rmtree(state)
    shutil.rmtree(tmp_path / "production")
    stand = load_stand(path)
    r = subprocess.run([sys.executable, "-m", "trackerdcs", "restore", str(final), "-c", str(path)],
                       capture_output=True, text=True, timeout=120)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert backup.series_counts(state / "history.sqlite") == live
    assert _rows(state / "runs.sqlite", "SELECT * FROM runs ORDER BY id") == before["runs"]
    assert _rows(state / "audit.sqlite", "SELECT * FROM audit ORDER BY rowid") == before["audit"]
    assert (state / "users.yaml").read_text() == before["users"]
    restored = tmp_path / "production" / "secrets"
    assert {p.name: p.read_bytes() for p in restored.rglob("*") if p.is_file()} == before["secrets"]
    assert all(stat.S_IMODE(p.stat().st_mode) == (0o700 if p.is_dir() else 0o600)
               for p in [restored, *restored.rglob("*")])  # fmt: skip
    # a second restore over the restored deployment is refused: restore goes into empty ones
    restore = [sys.executable, "-m", "trackerdcs", "restore", str(final), "-c", str(path)]
    again = subprocess.run(restore, capture_output=True, text=True, timeout=120)
    assert again.returncode == 1 and "not empty" in again.stderr


def test_a_damaged_archive_is_refused_and_old_archives_are_pruned(
    write_stand, tmp_path: Path
) -> None:
    path, stand = write_stand("storage:\n  historian: sqlite:///history.sqlite\n")
    (stand.data_dir / "notes.txt").write_text("cold box leak check OK\n")
    out = tmp_path / "backups"
    archives = [backup.backup(stand, out, keep=2) for _ in range(4)]
    assert sorted(out.glob("*.tar.gz")) == archives[-2:]
    assert stat.S_IMODE(archives[-1].stat().st_mode) == 0o600  # it would hold the secrets
    # a flipped byte inside a saved file: the checksum catches it, nothing is written
    bad = tmp_path / "bad.tar.gz"
    with tarfile.open(archives[-1]) as src, tarfile.open(bad, "w:gz") as dst:
        for m in src.getmembers():
            data = src.extractfile(m).read() if m.isfile() else None  # type: ignore[union-attr]
            if data is not None and m.name.endswith("notes.txt"):
                data = data.replace(b"OK", b"KO")
            dst.addfile(m, None if data is None else io.BytesIO(data))
    shutil.rmtree(stand.data_dir)
    try:
        backup.restore(load_stand(path), bad)
        raise AssertionError("a damaged archive was restored")
    except backup.BackupError as exc:
        assert "checksum differs" in str(exc)
    assert not (stand.data_dir / "notes.txt").exists()


def _influx_counts(influx: Influx) -> dict[str, int]:
    r = httpx.post(f"{influx.url}/query", data={"q": "SELECT COUNT(*) FROM /.*/ GROUP BY *",
                   "db": "dcs"}, auth=(influx.username, influx.password), timeout=10)  # fmt: skip
    res = r.json()["results"][0]
    assert "error" not in res, res
    return {f"{s['name']} {s.get('tags')}": sum(v for v in s["values"][0][1:] if v)
            for s in res.get("series", [])}  # fmt: skip


def test_an_influxdb_historian_is_saved_and_restored_point_for_point(tmp_path: Path) -> None:
    """A stand on this host with InfluxDB as historian: `influxd backup -portable` through
    its RPC port into the archive, `influxd restore -portable` into another InfluxDB."""
    if not Influx.available():
        pytest.fail("influxd missing: ./scripts/test installs it")
    src, dst = Influx(tmp_path / "influx-a").start(), Influx(tmp_path / "influx-b").start()
    try:
        auth = (src.username, src.password)
        httpx.post(
            f"{src.url}/query", data={"q": "CREATE DATABASE dcs"}, auth=auth
        ).raise_for_status()
        now = int(time.time()) * 10**9
        lines = [f"channels,id={c},module=M{c} lv_vMon={10 + i / 100},hv_iMon={i} {now - i * 10**9}"
                 for c in range(1, 5) for i in range(500)]  # fmt: skip
        lines += [f"chiller internal_temp={-20 + i / 10},fsm_state=\"ON\" {now - i * 10**9}"
                  for i in range(300)]  # fmt: skip
        r = httpx.post(f"{src.url}/write", params={"db": "dcs"}, content="\n".join(lines),
                       auth=auth)  # fmt: skip
        assert r.status_code == 204, r.text
        saved = _influx_counts(src)
        assert sum(saved.values()) == 4 * 500 * 2 + 300 * 2
        path = tmp_path / "stand.yaml"
        url = f"influxdb://trackerdcs@127.0.0.1:{src.port}/dcs"
        path.write_text(f"state_dir: {tmp_path / 'var'}\nstorage:\n  historian: {url}\n")
        stand = load_stand(path)
        archive = backup.backup(stand, tmp_path / "b", influx_rpc=f"127.0.0.1:{src.rpc}")
        m = backup.read_manifest(archive)
        assert m["layout"] == "host" and m["influxdb"]["database"] == "dcs"
        assert [f for f in m["files"] if f.startswith("influxdb/")]
        places = {"state": tmp_path / "state-b", "deploy": tmp_path / "deploy-b"}
        backup.restore(stand, archive, influx_rpc=f"127.0.0.1:{dst.rpc}", targets=places)
        assert _influx_counts(dst) == saved
        # a second restore would mix histories: InfluxDB refuses, and the reason is given
        with pytest.raises(backup.BackupError, match="influxd restore"):
            backup.restore(stand, archive, influx_rpc=f"127.0.0.1:{dst.rpc}", targets=places,
                           force=True)  # fmt: skip
    finally:
        src.stop()
        dst.stop()
