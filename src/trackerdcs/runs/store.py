"""The run store: one document per run (calibration, IV curve, sequence), failed runs too.

Two backends behind one interface: SQLite in the state dir (the default; the document is
JSON beside a few indexed columns) and MongoDB (production; collection `test_runs`, the
run id as `_id`). Documents are plain JSON: UTC epoch seconds for every time.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from trackerdcs.config.model import StandBase


class RunStore(Protocol):
    def next_id(self) -> int: ...

    def save(self, doc: dict[str, Any]) -> None:
        """Insert or replace the document with this `id`."""

    def get(self, run_id: int) -> dict[str, Any] | None: ...

    def recent(self, limit: int = 50) -> list[dict[str, Any]]:
        """Newest first."""

    def unfinished(self) -> list[dict[str, Any]]:
        """Runs whose status is not final (a service stopped during them)."""

    def close(self) -> None: ...


FINAL = ("done", "failed", "aborted")


class SqliteRunStore:
    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("CREATE TABLE IF NOT EXISTS runs (id INTEGER PRIMARY KEY, "
                        "start REAL, status TEXT, doc TEXT NOT NULL)")  # fmt: skip
        self._lock = threading.Lock()

    def next_id(self) -> int:
        with self._lock:
            row = self.db.execute("SELECT MAX(id) FROM runs").fetchone()
        return int(row[0] or 0) + 1

    def save(self, doc: dict[str, Any]) -> None:
        with self._lock:
            self.db.execute("INSERT OR REPLACE INTO runs VALUES (?,?,?,?)",
                            (doc["id"], doc.get("start"), doc.get("status"),
                             json.dumps(doc)))  # fmt: skip

    def get(self, run_id: int) -> dict[str, Any] | None:
        with self._lock:
            row = self.db.execute("SELECT doc FROM runs WHERE id = ?", (run_id,)).fetchone()
        return json.loads(row[0]) if row else None

    def recent(self, limit: int = 50) -> list[dict[str, Any]]:
        with self._lock:
            rows = self.db.execute("SELECT doc FROM runs ORDER BY id DESC LIMIT ?",
                                   (limit,)).fetchall()  # fmt: skip
        return [json.loads(r[0]) for r in rows]

    def unfinished(self) -> list[dict[str, Any]]:
        with self._lock:
            rows = self.db.execute("SELECT doc FROM runs WHERE status NOT IN (?,?,?)",
                                   FINAL).fetchall()  # fmt: skip
        return [json.loads(r[0]) for r in rows]

    def close(self) -> None:
        self.db.close()


class MongoRunStore:
    def __init__(self, url: str, client: Any = None):
        import pymongo

        self.client = client or pymongo.MongoClient(url, serverSelectionTimeoutMS=5000,
                                                    tz_aware=True)  # fmt: skip
        db = urlsplit(url).path.strip("/") or "trackerdcs"
        self.runs = self.client[db]["test_runs"]

    def next_id(self) -> int:
        last = self.runs.find_one(sort=[("_id", -1)])
        return int(last["_id"]) + 1 if last else 1

    def save(self, doc: dict[str, Any]) -> None:
        self.runs.replace_one({"_id": doc["id"]}, {**doc, "_id": doc["id"]}, upsert=True)

    def get(self, run_id: int) -> dict[str, Any] | None:
        doc = self.runs.find_one({"_id": run_id})
        return _plain(doc) if doc else None

    def recent(self, limit: int = 50) -> list[dict[str, Any]]:
        return [_plain(d) for d in self.runs.find().sort("_id", -1).limit(limit)]

    def unfinished(self) -> list[dict[str, Any]]:
        return [_plain(d) for d in self.runs.find({"status": {"$nin": list(FINAL)}})]

    def close(self) -> None:
        self.client.close()


def _plain(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k != "_id"}


def open_run_store(stand: StandBase, url: str) -> RunStore:
    """`sqlite:///PATH` (relative to the state dir) or `mongodb://HOST:PORT/DB`."""
    scheme = url.split(":", 1)[0]
    if scheme == "sqlite":
        path = Path(url.split("sqlite:///", 1)[1])
        return SqliteRunStore(path if path.is_absolute() else stand.data_dir / path)
    if scheme in ("mongodb", "mongodb+srv"):
        return MongoRunStore(url)
    raise ValueError(f"run store must be sqlite:///PATH or mongodb://HOST/DB, got {url!r}")
