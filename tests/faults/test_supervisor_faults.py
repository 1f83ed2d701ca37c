"""Issue 11 item 11: killing only the supervisor left 9 orphans, and a second `up` then ran
two CAEN services (two replies per command), two safety services and a second IOC. Children
now die with their supervisor, and a stand cannot be started twice (lock in the state dir)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

from trackerdcs.runtime.pids import alive
from trackerdcs.testing.probe import Probe
from trackerdcs.testing.processes import stop_process

STAND = """
sensors:
  simulate: true
  sim: {period: 0.5}
  sensors:
    - {name: box, kind: coldbox, temp_topic: SUP/sensors/BME/temp, humi_topic: SUP/sensors/BME/humi}
"""


def _up(path: Path, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "trackerdcs", "up", str(path)],
        stdout=open(log, "ab"),
        stderr=subprocess.STDOUT,
    )


def test_children_die_with_their_supervisor_and_a_stand_runs_once(
    write_stand, probe: Probe, tmp_path: Path
) -> None:
    path, _ = write_stand(STAND)
    first = _up(path, tmp_path / "up1.log")
    try:
        procs = probe.wait_json(
            "supervisor/processes",
            lambda s: all(p["running"] for p in s["processes"].values()),
            timeout=30,
        )["processes"]
        pids = [p["pid"] for p in procs.values()]
        assert len(pids) == 2 and all(alive(pid) for pid in pids)
        probe.wait_for("sensors/online", lambda m: m.text == "true", timeout=20)

        second = subprocess.run(
            [sys.executable, "-m", "trackerdcs", "up", str(path)],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert second.returncode == 1
        assert "already running" in second.stderr and str(first.pid) in second.stderr

        first.send_signal(signal.SIGKILL)
        first.wait(10)
        deadline = time.monotonic() + 20
        while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
            time.sleep(0.1)
        left = [pid for pid in pids if alive(pid)]
        assert left == [], _who(left, tmp_path / "up1.log")  # no orphan left
        for pid in pids:  # ended by its own watch, not by its orderly stop: say where it hung
            stacks = Path(tempfile.gettempdir()) / f"trackerdcs-orphan-{pid}.txt"
            if stacks.exists():
                warnings.warn(f"orderly stop of {pid} hung:\n{stacks.read_text()}", stacklevel=1)

        # the lock went with the last of them: the stand starts again
        again = _up(path, tmp_path / "up2.log")
        try:
            mark = probe.mark()
            probe.wait_for("sensors/online", lambda m: m.text == "true", timeout=30, since=mark)
        finally:
            stop_process(again, 30)
        assert again.returncode == 0
    finally:
        stop_process(first)
        for pid in locals().get("pids", []):
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


def _who(pids: list[int], log: Path) -> str:
    """What a survivor is (seen once in CI, 1 run in 7: a child alive 20 s after its
    supervisor was killed): its command line, state and parent, and the supervisor's log."""
    out = []
    for pid in pids:
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            status = Path(f"/proc/{pid}/status").read_text().splitlines()
            keep = [line for line in status if line.startswith(("State", "PPid", "SigCgt",
                                                                "SigBlk", "SigIgn"))]  # fmt: skip
            out.append(f"{pid}: {cmd} {keep}")
        except OSError as exc:
            out.append(f"{pid}: {exc}")
    tail = log.read_text(errors="replace")[-3000:] if log.exists() else "(no log)"
    return "\n".join(out) + "\n--- supervisor log ---\n" + tail
