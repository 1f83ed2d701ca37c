from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


@pytest.fixture
def spawn() -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """Start the dummy service as a real process; always reaped at the end."""
    procs: list[subprocess.Popen[bytes]] = []

    def start(config: Path, name: str = "dummy") -> subprocess.Popen[bytes]:
        p = subprocess.Popen(
            [sys.executable, str(HERE / "dummy_service.py"), str(config), name],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        procs.append(p)
        return p

    yield start
    for p in procs:
        if p.poll() is None:
            p.terminate()
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(5)
