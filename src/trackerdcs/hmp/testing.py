"""Test and benchmark helpers for the HMP family."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def relocate(section: dict[str, Any], free_port: Callable[[], int], **_: Any) -> None:
    """The simulated supply on a free TCP port, and the service reaching it there."""
    section["host"] = "127.0.0.1"
    section["port"] = free_port()
