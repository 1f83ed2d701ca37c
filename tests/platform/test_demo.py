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

from trackerdcs.config.bus import BusConfig
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


README = Path(__file__).parents[2] / "README.md"


def _first_command() -> str:
    """The README's first command, as a person would copy it."""
    text = README.read_text(encoding="utf-8")
    block = text.split("```bash\n", 1)[1].split("```", 1)[0]
    (line,) = [x for x in block.splitlines() if x.strip() and not x.startswith("#")]
    return line.strip()


def _free(port: int) -> bool:
    import socket

    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@pytest.mark.timeout(420)
def test_the_readmes_first_command_as_written_in_a_fresh_copy(tmp_path: Path) -> None:
    """Issue 16: a fresh copy of the project (no venv, no state), the README's first command
    typed as written (its own venv, the pinned packages, the demo on its default ports);
    the web UI answers where the command said, nothing reads like an error, Ctrl-C stops
    it. The packages come from pip's cache when the suite's own install filled it."""
    import httpx

    command = _first_command()
    assert command == "./scripts/demo", command  # the README changed: look at this test
    assert _free(1883) and _free(8080), "the demo's default ports 1883/8080 are taken here"
    root = README.parent
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=root,
                           capture_output=True, text=True, check=True).stdout.split()  # fmt: skip
    copy = tmp_path / "trackerdcs"
    for name in files:
        if (root / name).is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            (copy / name).write_bytes((root / name).read_bytes())
            (copy / name).chmod((root / name).stat().st_mode)
    log = tmp_path / "first-command.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHON"))}
    env["PATH"] = ":".join(p for p in env["PATH"].split(":") if "/.venv/" not in p)
    with open(log, "wb") as out:
        proc = subprocess.Popen(["bash", "-c", command], cwd=copy, stdout=out, env=env,
                                stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 360
        page = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                page = httpx.get("http://127.0.0.1:8080/", timeout=2)
                me = httpx.get("http://127.0.0.1:8080/api/me", timeout=2)
                if page.status_code == 200 and me.status_code == 401:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(1)
        text = log.read_text(errors="replace")
        assert page is not None and page.status_code == 200, text[-3000:]
        assert "http://127.0.0.1:8080/" in text and "mqtt://127.0.0.1:1883" in text, text
        assert (copy / ".venv" / "bin" / "trackerdcs").exists()
        cfg = BusConfig(host="127.0.0.1", port=1883)
        view = wait_online(cfg, DEMO_SERVICES, timeout=60)
        assert all(view.values()), view
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C in the terminal
        try:
            code = proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            raise
    text = log.read_text(errors="replace")
    # a normal start and Ctrl-C: no error, and no warning of ours either (pip's own about
    # this machine's package index start with "WARNING:")
    words = ("Traceback", " ERROR ", " WARNING ", "couldn't be located", "error:")
    noisy = [x for x in text.splitlines() if any(w in x for w in words)]
    assert not noisy, noisy[:10]
    assert code == 0, text[-2000:]
    assert _free(1883) and _free(8080)  # everything it started is gone
