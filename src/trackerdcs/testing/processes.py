"""Run the processes of a stand (simulators, services) one by one, for tests and benchmarks:
unlike the supervisor, a killed process stays dead until the test starts it again."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

from trackerdcs.config.model import Stand
from trackerdcs.runtime.plan import ProcessSpec, plan


def stop_process(proc: subprocess.Popen[bytes] | None, timeout: float = 10.0) -> None:
    """SIGTERM, wait, SIGKILL if it will not go; always reaped (no zombie is left)."""
    if proc is None:
        return
    if proc.poll() is None:
        proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


class StandProcesses:
    """`with StandProcesses(...).start(*names) as procs:` stops them all at the end."""

    def __init__(self, path: Path, stand: Stand, logdir: Path):
        self.specs: dict[str, ProcessSpec] = {s.name: s for s in plan(stand, path)}
        self.logdir = logdir
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, *names: str) -> StandProcesses:
        for name in names:
            spec = self.specs[name]
            with open(self.logdir / f"{name}.log", "ab") as out:
                self.procs[name] = subprocess.Popen(
                    spec.argv, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **spec.env}
                )
        return self

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        proc = self.procs.pop(name)
        proc.send_signal(sig)
        proc.wait(10)

    def alive(self, name: str) -> bool:
        p = self.procs.get(name)
        return p is not None and p.poll() is None

    def stop(self) -> None:
        for name in reversed(list(self.procs)):
            stop_process(self.procs.pop(name))

    def __enter__(self) -> StandProcesses:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()  # whatever it started, stopped and reaped
