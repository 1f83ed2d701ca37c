"""The audit log: every command sent from the UI, who sent it, when, and what came back."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any


class AuditLog:
    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS audit (ts REAL, user TEXT, role TEXT, service TEXT, "
            "command TEXT, payload TEXT, ok INTEGER, error TEXT)"
        )
        self._lock = threading.Lock()

    def record(self, user: str, role: str, service: str, command: str, payload: Any,
               ok: bool | None, error: str | None) -> None:  # fmt: skip
        with self._lock:
            self.db.execute(
                "INSERT INTO audit VALUES (?,?,?,?,?,?,?,?)",
                (time.time(), user, role, service, command, json.dumps(payload),
                 None if ok is None else int(ok), error),
            )  # fmt: skip

    def recent(self, limit: int = 200) -> list[dict[str, Any]]:
        with self._lock:
            rows = self.db.execute(
                "SELECT ts, user, role, service, command, payload, ok, error FROM audit "
                "ORDER BY ts DESC LIMIT ?", (limit,),
            ).fetchall()  # fmt: skip
        keys = ("ts", "user", "role", "service", "command", "payload", "ok", "error")
        return [dict(zip(keys, r, strict=True)) for r in rows]
