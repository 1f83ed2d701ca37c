"""Users and roles: viewer (read only), operator (control), expert (limits, configuration).
Passwords are stored as argon2 hashes in a YAML file."""

from __future__ import annotations

import os
from pathlib import Path

import yaml
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

ROLES = ("viewer", "operator", "expert")
_hasher = PasswordHasher()


def rank(role: str) -> int:
    return ROLES.index(role) if role in ROLES else -1


class Users:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.users: dict[str, dict[str, str]] = {}
        self._mtime: float | None = None
        self.reload()

    def reload(self) -> None:
        """Read the file again if it changed (`trackerdcs users add` while the UI runs)."""
        try:
            mtime = self.path.stat().st_mtime_ns
        except FileNotFoundError:
            return
        if mtime != self._mtime:
            data = yaml.safe_load(self.path.read_text()) or {}
            self.users = dict(data.get("users") or {})
            self._mtime = mtime

    def role(self, name: str) -> str | None:
        self.reload()
        u = self.users.get(name)
        return u["role"] if u is not None else None

    def add(self, name: str, password: str, role: str) -> None:
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}")
        if len(password) < 4:
            raise ValueError("password too short")
        self.users[name] = {"role": role, "hash": _hasher.hash(password)}
        self.save()

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(yaml.safe_dump({"users": self.users}, sort_keys=True))
        os.chmod(tmp, 0o600)
        tmp.replace(self.path)

    def check(self, name: str, password: str) -> str | None:
        """The user's role if the password is right, else None."""
        self.reload()
        u = self.users.get(name)
        if u is None:
            _hasher.hash(password)  # same cost whether or not the user exists
            return None
        try:
            _hasher.verify(u["hash"], password)
        except (VerificationError, InvalidHashError):
            return None
        return u["role"]
