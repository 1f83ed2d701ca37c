"""Start the simulated Julabo (pty or TCP) and the RFC 2217 bridge as real processes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from trackerdcs.testing.mosquitto import wait_port
from trackerdcs.testing.processes import stop_process


def relocate(section: dict[str, Any], free_port: Callable[[], int], **_: Any) -> None:
    """The simulator on a free TCP port, and the service reaching it there."""
    port = free_port()
    section["sim_tcp"] = f"127.0.0.1:{port}"
    section["port"] = f"socket://127.0.0.1:{port}"


class Proc:
    def __init__(self, argv: list[str], log: Path):
        self.argv = argv
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Proc:
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(self.argv, stdout=out, stderr=subprocess.STDOUT)
        return self

    def stop(self) -> None:
        stop_process(self.proc)
        self.proc = None

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(5)
            self.proc = None


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "trackerdcs", *args]


def sim_tcp(config: Path, host: str, port: int, log: Path) -> Proc:
    p = Proc(_cli("sim", "julabo", "--config", str(config), "--tcp", f"{host}:{port}"), log).start()
    wait_port(host, port)
    return p


def sim_pty(config: Path, link: Path, log: Path, timeout: float = 10.0) -> Proc:
    p = Proc(_cli("sim", "julabo", "--config", str(config), "--port", str(link)), log).start()
    deadline = time.monotonic() + timeout
    while not os.path.exists(link):
        if time.monotonic() > deadline:
            raise TimeoutError(f"simulator pty {link} did not appear")
        time.sleep(0.05)
    return p


def bridge(device: Path, port: int, log: Path, host: str = "127.0.0.1") -> Proc:
    p = Proc(_cli("serial-bridge", str(device), "--port", str(port), "--host", host), log)
    p.start()
    wait_port(host, port)
    return p
