"""A supervised process never outlives its supervisor for long.

When the supervisor dies the kernel sends each child SIGTERM (PR_SET_PDEATHSIG) and the child
stops in order. If that orderly stop hangs (seen once in CI: a child alive 20 s after its
supervisor was SIGKILLed, cause not found), the stand lock it holds keeps the next `up` out
and the orphan keeps talking to the hardware. This watch ends the child and its process
group hard once its parent has been gone for `grace` seconds.
"""

from __future__ import annotations

import faulthandler
import logging
import os
import signal
import tempfile
import threading
import time
from pathlib import Path

log = logging.getLogger("trackerdcs.orphan")

SUPERVISOR_ENV = "TRACKERDCS_SUPERVISOR_PID"


def watch_parent(grace: float = 10.0, period: float = 0.5) -> threading.Thread | None:
    """Start the watch if the supervisor said who it is; its own children are not told."""
    told = os.environ.pop(SUPERVISOR_ENV, None)
    if not told or not told.isdigit():
        return None
    parent = int(told)
    if os.getppid() != parent:  # already orphaned between fork and here
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(period)
        time.sleep(grace)
        log.error("supervisor %d gone for %.0f s and still running: ending hard", parent, grace)
        _leave_stacks()
        if os.getpgrp() == os.getpid():  # our own group (start_new_session): take it all
            os.killpg(os.getpid(), signal.SIGKILL)
        os._exit(70)

    thread = threading.Thread(target=watch, name="parent-watch", daemon=True)
    thread.start()
    return thread


def _leave_stacks() -> None:
    """Where each thread hung, for whoever finds the log line (stdout went with the
    supervisor)."""
    path = Path(tempfile.gettempdir()) / f"trackerdcs-orphan-{os.getpid()}.txt"
    try:
        with path.open("w") as f:
            faulthandler.dump_traceback(file=f, all_threads=True)
    except OSError:
        pass
