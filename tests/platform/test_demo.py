"""The whole simulated stand, as `trackerdcs demo` runs it (moved to free ports)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from trackerdcs.testing.demo import DEMO_SERVICES, demo_bus, demo_copy, running_demo, wait_online
from trackerdcs.testing.probe import Probe


@pytest.mark.timeout(180)
def test_demo_comes_up_restarts_a_killed_service_and_stops_cleanly(tmp_path: Path) -> None:
    config = demo_copy(tmp_path / "stand")
    cfg = demo_bus(config)
    log = tmp_path / "demo.log"
    with running_demo(config, tmp_path / "state", log) as proc:
        started = time.monotonic()
        view = wait_online(cfg, DEMO_SERVICES, timeout=60)
        assert all(view.values()), f"not online: {view}\n{log.read_text()[-3000:]}"
        # a start where all is well is quiet: no alarm latched, nothing that reads like an
        # error (caRepeater not found, a broker traceback) — past safety's start-up window
        with Probe(cfg) as p:
            p.wait_json("safety/status", lambda s: time.monotonic() - started > 15, 40)
            alarms = {m.topic: m.json() for m in p.messages if m.topic.startswith("alarms/")}
        raised = {t: a["message"] for t, a in alarms.items() if a["severity"] != "OK"}
        assert not raised, raised
        words = ("Traceback", " ERROR ", "couldn't be located")
        noisy = [line for line in log.read_text().splitlines() if any(w in line for w in words)]
        assert not noisy, noisy[:10]

        res = subprocess.run(
            [sys.executable, "-m", "trackerdcs", "status", "--port", str(cfg.port), "--json"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        status = json.loads(res.stdout)
        for svc in DEMO_SERVICES:
            assert status[svc]["online"] is True, svc

        with Probe(cfg) as p:
            procs = p.wait_json("supervisor/processes", lambda s: True)["processes"]
            pid = procs["julabo"]["pid"]
            start = p.mark()
            os.kill(pid, signal.SIGKILL)
            p.wait_for("julabo/online", lambda m: m.text == "false", timeout=10, since=start)
            # the new process announcing itself: not the retained `true` the probe may still
            # be receiving from before the kill
            gone = p.mark()
            p.wait_for("julabo/online", lambda m: m.text == "true" and not m.retain, timeout=30,
                       since=gone)  # fmt: skip
            restarted = p.wait_json(
                "supervisor/processes",
                lambda s: s["processes"]["julabo"]["restarts"] == 1,
                timeout=10,
                since=start,
            )
            assert restarted["processes"]["julabo"]["pid"] != pid

            start = p.mark()
            proc.send_signal(signal.SIGINT)
            assert proc.wait(60) == 0
            offline = {
                m.topic.split("/")[0]
                for m in p.messages[start:]
                if m.topic.endswith("/online") and m.text == "false"
            }
    # every service said goodbye itself (the broker stops last, after them)
    assert set(DEMO_SERVICES) - {"supervisor"} <= offline, log.read_text()[-3000:]
