"""What stands between a browser and the stand: server-side sessions, the same-origin check,
and a brake on password guessing.

- A session is a random id kept server-side (SQLite in the state dir, mode 0600) and signed
  into the cookie: logout deletes it, so a copied cookie dies with it. The role is read from
  the users file at every request, so a role changed or a user removed with
  `trackerdcs users` takes effect at once in the running service.
- A request that changes anything must come from the UI's own origin (the `Origin` header,
  which browsers send and pages cannot forge) and carry JSON: a page on another port of the
  same host is same-site (SameSite cookies go along) but not same-origin, and a no-cors
  form or `text/plain` POST cannot set `Content-Type: application/json`.
- After `max_failures` wrong passwords in `window` s for one user name (or five times as
  many from one address: a lab may sit behind one NAT address), logins are refused for the
  rest of the window.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
import threading
import time
from collections import defaultdict, deque
from pathlib import Path
from urllib.parse import urlsplit


def private_file(path: Path) -> None:
    """Create `path` readable by its owner only (or make it so)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
    os.chmod(path, 0o600)


def same_origin(origin: str | None, host: str | None, allowed: list[str]) -> bool:
    """True when a request's Origin is the UI itself (or a configured front end). A client
    that sends no Origin is not a browser page (curl, scripts): nothing to forge with."""
    if origin is None:
        return True
    if origin in allowed:
        return True
    return host is not None and urlsplit(origin).netloc == host


class Sessions:
    def __init__(self, path: Path, max_age: float):
        private_file(path)
        self.max_age = max_age
        self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.db.execute("CREATE TABLE IF NOT EXISTS sessions (sid TEXT PRIMARY KEY, "
                        "user TEXT NOT NULL, created REAL NOT NULL)")  # fmt: skip
        self._lock = threading.Lock()

    def open(self, user: str) -> str:
        sid = secrets.token_urlsafe(24)
        with self._lock:
            self.db.execute("DELETE FROM sessions WHERE created < ?", (time.time() - self.max_age,))
            self.db.execute("INSERT INTO sessions VALUES (?,?,?)", (sid, user, time.time()))
        return sid

    def user(self, sid: str) -> str | None:
        with self._lock:
            row = self.db.execute("SELECT user, created FROM sessions WHERE sid = ?",
                                  (sid,)).fetchone()  # fmt: skip
        if row is None or time.time() - row[1] > self.max_age:
            return None
        return str(row[0])

    def close(self, sid: str) -> None:
        with self._lock:
            self.db.execute("DELETE FROM sessions WHERE sid = ?", (sid,))


class LoginThrottle:
    def __init__(self, max_failures: int = 5, window: float = 60.0):
        self.max_failures = max_failures
        self.window = window
        self._fails: dict[str, deque[float]] = defaultdict(deque)

    def _recent(self, key: str, now: float) -> deque[float]:
        q = self._fails[key]
        while q and now - q[0] > self.window:
            q.popleft()
        return q

    def wait(self, address: str, user: str) -> float:
        """Seconds before another attempt is allowed (0: go ahead)."""
        now = time.monotonic()
        limits = ((f"addr:{address}", 5 * self.max_failures), (f"user:{user}", self.max_failures))
        waits = [
            self.window - (now - q[0])
            for key, limit in limits
            if len(q := self._recent(key, now)) >= limit
        ]
        return max(waits, default=0.0)

    def failed(self, address: str, user: str) -> None:
        now = time.monotonic()
        for key in (f"addr:{address}", f"user:{user}"):
            self._recent(key, now).append(now)

    def succeeded(self, user: str) -> None:
        self._fails.pop(f"user:{user}", None)
