"""Moving the simulated RunController to a free port (tests run stands side by side)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def relocate(section: dict[str, Any], free_port: Callable[[], int], **_: Any) -> None:
    host = str(section.get("middleware", "127.0.0.1:5000")).rpartition(":")[0] or "127.0.0.1"
    section["middleware"] = f"{host}:{free_port()}"
