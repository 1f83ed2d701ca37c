"""Test and benchmark helpers for the MARTA family."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def relocate(section: dict[str, Any], free_port: Callable[[], int], **_: Any) -> None:
    """The simulated PLC on a free TCP port, and the service reaching it there."""
    section["host"] = "127.0.0.1"
    section["port"] = free_port()
