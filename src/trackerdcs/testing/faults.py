"""Fault injection on a running stand, shared by the fault tests, the fuzz test and the soak
benchmark: what a power cut, a crash, a hung process, a broker or historian restart and a
hostile client do to a stand, each as one call.

Processes are the `subprocess.Popen`s the caller started (StandProcesses, SimIOC, Mosquitto,
Influx); messages go out through a `Probe`, which also remembers what it saw (for replays).
"""

from __future__ import annotations

import json
import math
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol

from trackerdcs.testing.probe import Probe


class Restartable(Protocol):
    def stop(self) -> None: ...

    def start(self) -> Any: ...


def freeze(proc: subprocess.Popen[bytes]) -> None:
    """SIGSTOP: the process keeps its sockets and answers nothing (a hung IOC, a stuck VM)."""
    proc.send_signal(signal.SIGSTOP)


def thaw(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGCONT)


@contextmanager
def frozen(proc: subprocess.Popen[bytes]) -> Iterator[None]:
    freeze(proc)
    try:
        yield
    finally:
        thaw(proc)


def crash(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL (a power cut for that process: no cleanup, no last will sent by itself)."""
    proc.kill()
    proc.wait(10)


@contextmanager
def down(part: Restartable, seconds: float = 0.0) -> Iterator[None]:
    """A broker or historian stopped for the block (at least `seconds`), then started again
    on the same port and data."""
    part.stop()
    t0 = time.monotonic()
    try:
        yield
    finally:
        time.sleep(max(0.0, seconds - (time.monotonic() - t0)))
        part.start()


class Forger:
    """A hostile or broken client on the bus: forged, replayed, future-dated, NaN messages."""

    def __init__(self, probe: Probe):
        self.probe = probe

    def forge(self, topic: str, payload: dict[str, Any], age: float = 0.0,
              retain: bool = False) -> dict[str, Any]:  # fmt: skip
        """`payload` dated `age` s ago (negative: in the future)."""
        body = {**payload, "ts": time.time() - age}
        self.probe.publish(topic, body, retain=retain)
        return body

    def replay(self, topic: str, retain: bool = False) -> bytes:
        """The last message seen on `topic`, sent again as it was (old ts and all)."""
        msg = self.probe.latest[topic]
        self.probe.bus.publish(topic, msg.payload, retain=retain)
        return msg.payload

    def nan(self, topic: str, payload: dict[str, Any], retain: bool = False) -> str:
        """Every number of `payload` as NaN (JSON has no NaN; Python's json writes it)."""
        text = json.dumps({k: math.nan if isinstance(v, float) else v for k, v in payload.items()})
        self.probe.bus.publish(topic, text.encode(), retain=retain)
        return text

    def raw(self, topic: str, data: bytes, retain: bool = False) -> None:
        self.probe.bus.publish(topic, data, retain=retain)
