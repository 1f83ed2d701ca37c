"""The audit log: every command sent from the UI, who sent it, when, and what came back."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from trackerdcs.web.security import private_file


class AuditLog:
    def __init__(self, path: Path):
        private_file(path)  # who did what is nobody else's business on the machine
        self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS audit (ts REAL, user TEXT, role TEXT, service TEXT, "
            "command TEXT, payload TEXT, ok INTEGER, error TEXT)"
        )
        self._lock = threading.Lock()

    def record(self, user: str, role: str, service: str, command: str, payload: Any,
               ok: bool | None, error: str | None) -> int:  # fmt: skip
        """A row; `ok` None means sent, outcome not (yet) known. Returns its id."""
        with self._lock:
            cur = self.db.execute(
                "INSERT INTO audit VALUES (?,?,?,?,?,?,?,?)",
                (time.time(), user, role, service, command, json.dumps(payload),
                 None if ok is None else int(ok), error),
            )  # fmt: skip
            return int(cur.lastrowid or 0)

    def outcome(self, row: int, ok: bool | None, error: str | None) -> None:
        with self._lock:
            self.db.execute("UPDATE audit SET ok = ?, error = ? WHERE rowid = ?",
                            (None if ok is None else int(ok), error, row))  # fmt: skip

    def recent(self, limit: int = 200) -> list[dict[str, Any]]:
        with self._lock:
            rows = self.db.execute(
                "SELECT ts, user, role, service, command, payload, ok, error FROM audit "
                "ORDER BY ts DESC LIMIT ?", (limit,),
            ).fetchall()  # fmt: skip
        keys = ("ts", "user", "role", "service", "command", "payload", "ok", "error")
        return [dict(zip(keys, r, strict=True)) for r in rows]
