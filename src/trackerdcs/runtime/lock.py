"""One supervisor per stand: an exclusive lock file in the state dir.

The lock (flock) is also handed to every child, so it is held until the last process of the
stand has exited, not only the supervisor: a second `up` right after a crash waits for the
old services to be gone instead of running beside them (two CAEN services would each answer
every command, two IOCs would fight over the port).
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path


class StandRunning(RuntimeError):
    pass


class StandLock:
    def __init__(self, state_dir: Path):
        self.path = state_dir / "stand.lock"
        self.fd: int | None = None

    def acquire(self) -> StandLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 64).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise StandRunning(
                f"this stand is already running (supervisor pid {holder}, lock {self.path}), "
                "or its processes are still stopping; stop it first"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        os.set_inheritable(fd, True)
        self.fd = fd
        return self

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
