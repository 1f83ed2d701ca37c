"""Reading a secret (a password file): its content, and a warning when others may read it."""

from __future__ import annotations

import logging
import stat
from pathlib import Path

log = logging.getLogger("trackerdcs.config")


def read_secret(path: Path) -> str:
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning("%s can be read by other users (mode %o): chmod 600 %s",
                    path, stat.S_IMODE(mode), path)  # fmt: skip
    return path.read_text(encoding="utf-8").strip()
