"""Test and benchmark helpers for the switchbox family."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any


def relocate(section: dict[str, Any], free_port: Callable[[], int], **_: Any) -> None:
    """The simulated box's pty at a path of its own (copies of a stand side by side)."""
    section["port"] = str(Path(tempfile.gettempdir()) / f"trackerdcs-sb-{free_port()}.tty")
