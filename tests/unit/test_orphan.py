"""A supervised child whose orderly stop hangs still ends once its supervisor is gone.

A stand-in supervisor (a plain Python process) starts a child that ignores SIGTERM and then
sleeps as if its shutdown hung; the supervisor is SIGKILLed. Without the watch the child would
live on with the stand lock."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from trackerdcs.runtime.orphan import SUPERVISOR_ENV
from trackerdcs.runtime.pids import alive

CHILD = textwrap.dedent("""
    import os, signal, subprocess, sys, time
    from trackerdcs.runtime.orphan import SUPERVISOR_ENV, watch_parent
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # an orderly stop that never ends
    watch_parent(grace=1.0, period=0.1)
    told = SUPERVISOR_ENV in os.environ
    grandchild = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    print(os.getpid(), grandchild.pid, told, flush=True)
    time.sleep(120)
""")

SUPERVISOR = textwrap.dedent("""
    import os, subprocess, sys, time
    env = {**os.environ, SUPERVISOR_ENV: str(os.getpid())}
    subprocess.Popen([sys.executable, "-c", CHILD], env=env, start_new_session=True)
    time.sleep(120)
""")


def test_a_child_that_hangs_after_its_supervisor_died_is_ended_with_its_group(
    tmp_path: Path,
) -> None:
    code = f"SUPERVISOR_ENV = {SUPERVISOR_ENV!r}\nCHILD = {CHILD!r}\n{SUPERVISOR}"
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    sup = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=env)
    pids: list[int] = []
    try:
        assert sup.stdout is not None
        child, grandchild, told = sup.stdout.readline().split()
        pids = [int(child), int(grandchild)]
        time.sleep(1.5)  # longer than the grace: with the supervisor alive nothing happens
        assert all(alive(pid) for pid in pids)
        sup.send_signal(signal.SIGKILL)
        sup.wait(10)
        deadline = time.monotonic() + 15
        while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert [pid for pid in pids if alive(pid)] == []
        assert told == "False"  # the child's own children are not told they are supervised
        stacks = (tmp_path / f"trackerdcs-orphan-{child}.txt").read_text()
        assert "<module>" in stacks  # where the main thread hung, left behind
    finally:
        sup.kill()
        sup.wait(10)
        for pid in pids:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
