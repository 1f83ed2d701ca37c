"""`trackerdcs up`: run every process of a stand, restart the ones that die, stop in order.

Children get their own session so a Ctrl-C in the terminal reaches only the supervisor,
which then stops them in reverse start order (consumers first, simulators and broker last).
If the supervisor itself dies (SIGKILL, OOM), the kernel sends every child SIGTERM
(PR_SET_PDEATHSIG); a child whose orderly stop then hangs is ended by its own watch
(`orphan.py`): no orphan keeps running beside the next `up`.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO

from trackerdcs.runtime.orphan import SUPERVISOR_ENV
from trackerdcs.runtime.plan import ProcessSpec

log = logging.getLogger("trackerdcs.supervisor")

PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def _die_with_parent(parent: int) -> Callable[[], None]:
    """Runs in the child between fork and exec (looked up beforehand: no import there)."""
    prctl = _libc.prctl

    def setup() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return setup


@dataclass
class Child:
    spec: ProcessSpec
    proc: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    restarts: int = 0
    backoff: float = 1.0
    next_start: float = 0.0
    readers: list[threading.Thread] = field(default_factory=list)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


class Supervisor:
    def __init__(
        self,
        specs: list[ProcessSpec],
        env: dict[str, str] | None = None,
        out: IO[str] | None = None,
        backoff_max: float = 30.0,
        stable_after: float = 30.0,
        stop_timeout: float = 15.0,
        on_change: Callable[[Supervisor], None] | None = None,
        keep_fds: tuple[int, ...] = (),
        before_broker: Callable[[], None] | None = None,
    ):
        self.children = [Child(s) for s in specs]
        self.env = {**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1",
                    SUPERVISOR_ENV: str(os.getpid())}  # fmt: skip
        self.out = out or sys.stdout
        self.backoff_max = backoff_max
        self.stable_after = stable_after
        self.stop_timeout = stop_timeout
        self.on_change = on_change
        self.keep_fds = keep_fds  # the stand lock: held until the last child exits
        # our own bus client goes before the embedded broker does (else it says it lost it)
        self.before_broker = before_broker
        self._stop = threading.Event()
        self._out_lock = threading.Lock()
        self.width = max((len(c.spec.name) for c in self.children), default=8)

    # -- output ----------------------------------------------------------------------------
    def emit(self, name: str, line: str) -> None:
        with self._out_lock:
            self.out.write(f"{name:<{self.width}} | {line.rstrip()}\n")
            self.out.flush()

    def _pump(self, name: str, stream: IO[bytes]) -> None:
        for raw in iter(stream.readline, b""):
            self.emit(name, raw.decode("utf-8", errors="replace"))
        stream.close()

    # -- process control -------------------------------------------------------------------
    def _start(self, child: Child) -> None:
        spec = child.spec
        child.proc = subprocess.Popen(
            spec.argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**self.env, **spec.env},
            start_new_session=True,
            pass_fds=self.keep_fds,
            preexec_fn=_die_with_parent(os.getpid()),
        )
        child.started = time.monotonic()
        t = threading.Thread(target=self._pump, args=(spec.name, child.proc.stdout), daemon=True)
        t.start()
        child.readers = [t]
        log.info("started %s (pid %d)", spec.name, child.proc.pid)
        if self.on_change:
            self.on_change(self)

    def _terminate(self, child: Child) -> None:
        proc = child.proc
        if proc is None:
            return
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(self.stop_timeout)
            except subprocess.TimeoutExpired:
                log.warning(
                    "%s did not stop in %.0f s: killing", child.spec.name, self.stop_timeout
                )
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)
        else:
            proc.wait()
        for t in child.readers:
            t.join(2)
        log.info("stopped %s (exit %s)", child.spec.name, proc.returncode)

    def start_all(self, settle: float = 0.3) -> None:
        for child in self.children:
            if self._stop.is_set():
                return
            self._start(child)
            # the broker must listen before clients try; others start without waiting
            if child.spec.kind in ("broker", "sim"):
                time.sleep(settle)

    def watch_once(self) -> None:
        now = time.monotonic()
        for child in self.children:
            proc = child.proc
            if proc is None or proc.poll() is None:
                if proc is not None and now - child.started > self.stable_after:
                    child.backoff = 1.0
                continue
            if child.next_start == 0.0:
                rc = proc.returncode
                child.next_start = now + child.backoff
                log.error(
                    "%s exited with %s; restarting in %.0f s", child.spec.name, rc, child.backoff
                )
                proc.wait()
                if self.on_change:
                    self.on_change(self)
            elif now >= child.next_start:
                child.restarts += 1
                child.backoff = min(child.backoff * 2, self.backoff_max)
                child.next_start = 0.0
                self._start(child)

    def stop(self) -> None:
        self._stop.set()

    def shutdown(self) -> None:
        first = [c for c in self.children if c.spec.stop_first]
        for child in first + [c for c in reversed(self.children) if c not in first]:
            if child.spec.kind == "broker" and self.before_broker is not None:
                self.before_broker()
            self._terminate(child)

    def run(self) -> int:
        """Start everything, watch until stop(), then stop in reverse order."""
        try:
            self.start_all()
            while not self._stop.wait(0.2):
                self.watch_once()
        finally:
            self.shutdown()
        return 0

    def status(self) -> dict[str, dict[str, object]]:
        return {
            c.spec.name: {
                "kind": c.spec.kind,
                "pid": c.proc.pid if c.proc else None,
                "running": c.running,
                "restarts": c.restarts,
            }
            for c in self.children
        }
