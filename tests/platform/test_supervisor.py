"""`trackerdcs up` machinery: restart of dead services, ordered shutdown, one log stream."""

from __future__ import annotations

import io
import os
import signal
import sys
import threading
import time
from pathlib import Path

from trackerdcs.runtime.plan import ProcessSpec, plan
from trackerdcs.runtime.supervisor import Supervisor

HERE = Path(__file__).resolve().parent


def _spec(config: Path, name: str) -> ProcessSpec:
    return ProcessSpec(
        name, [sys.executable, str(HERE / "dummy_service.py"), str(config), name], "service"
    )


def _run(sup: Supervisor) -> threading.Thread:
    t = threading.Thread(target=sup.run, daemon=True)
    t.start()
    return t


def test_killed_service_goes_offline_and_is_restarted(write_stand, probe) -> None:
    path, _ = write_stand("")
    out = io.StringIO()
    sup = Supervisor([_spec(path, "sup1"), _spec(path, "sup2")], out=out, backoff_max=2)
    t = _run(sup)
    try:
        probe.wait_for("sup1/online", lambda m: m.text == "true", timeout=15)
        probe.wait_for("sup2/online", lambda m: m.text == "true", timeout=15)
        victim = sup.children[0].proc
        assert victim is not None
        start = probe.mark()
        os.kill(victim.pid, signal.SIGKILL)
        # keepalive is 2 s in the test stand; the broker sees the dead socket at once
        probe.wait_for("sup1/online", lambda m: m.text == "false", timeout=6, since=start)
        probe.wait_for("sup1/online", lambda m: m.text == "true", timeout=15, since=start)
        assert sup.children[0].restarts == 1
        assert sup.children[0].proc is not None and sup.children[0].proc.pid != victim.pid
        assert sup.children[1].restarts == 0
    finally:
        sup.stop()
        t.join(30)
    assert not t.is_alive()
    assert all(c.proc is not None and c.proc.poll() is not None for c in sup.children)


def test_shutdown_is_ordered_and_clean(write_stand, probe) -> None:
    path, _ = write_stand("")
    out = io.StringIO()
    sup = Supervisor([_spec(path, "ord1"), _spec(path, "ord2")], out=out)
    t = _run(sup)
    probe.wait_for("ord1/online", lambda m: m.text == "true", timeout=15)
    probe.wait_for("ord2/online", lambda m: m.text == "true", timeout=15)
    start = probe.mark()
    sup.stop()
    t.join(30)
    offline = [
        m.topic for m in probe.messages[start:] if m.topic.endswith("/online") and m.text == "false"
    ]
    assert offline[:2] == ["ord2/online", "ord1/online"]  # reverse start order
    assert [c.proc.returncode for c in sup.children if c.proc] == [0, 0]
    # one stream, each line tagged with the process name
    lines = out.getvalue().splitlines()
    assert any(line.startswith("ord1 | ") for line in lines)
    assert any(line.startswith("ord2 | ") for line in lines)


def test_crash_loop_backs_off(tmp_path: Path) -> None:
    spec = ProcessSpec("crasher", [sys.executable, "-c", "raise SystemExit(3)"], "service")
    sup = Supervisor([spec], out=io.StringIO(), backoff_max=4)
    t = _run(sup)
    time.sleep(4.0)
    sup.stop()
    t.join(10)
    # 1 s, 2 s, then 4 s between attempts: no more than 3 restarts in 4 s
    assert 1 <= sup.children[0].restarts <= 3


def test_demo_plan_order() -> None:
    from trackerdcs.cli.stand import demo_file
    from trackerdcs.config import load_stand

    stand = load_stand(demo_file())
    names = [s.name for s in plan(stand, demo_file())]
    assert names[0] == "broker"
    assert names.index("sim-caen") < names.index("caen")
    assert names.index("safety") < names.index("caen")
    assert names[-1] == "web"
