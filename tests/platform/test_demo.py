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
    # one stand, one state (issue 26): another stand file of the same folder, whose state
    # holds a latched alarm, is none of this demo's business
    other = tmp_path / "stand" / "other.yaml"
    other.write_text(config.read_text())
    latched = {"name": "safety.dewpoint", "source": "safety", "severity": "MAJOR",
               "current": "OK", "message": "the other stand's", "acknowledged": False}  # fmt: skip
    (tmp_path / "stand" / "var" / "other" / "alarms").mkdir(parents=True)
    (tmp_path / "stand" / "var" / "other" / "alarms" / "safety.json").write_text(
        json.dumps([latched])
    )
    own = tmp_path / "stand" / "var" / "demo"  # demo.yaml's own state: var/<file name>
    with running_demo(config, None, log) as proc:
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
        assert f"data in {own}" in log.read_text()
        assert (own / "history.sqlite").exists() and "restored" not in log.read_text()
        series = subprocess.run([sys.executable, "-m", "trackerdcs", "query", "-c", str(config),
                                 "series", "--match", "coldbox"], capture_output=True,
                                text=True, timeout=60)  # fmt: skip
        assert series.returncode == 0 and "coldbox" in series.stdout, series.stderr
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

        # the busy stand's broker hands a client what it subscribed to and nothing else (the
        # embedded broker sent every retained topic matching anyone's filter): a plain paho
        # client, which keeps whatever arrives, beside a probe and the web service on '#'
        with Probe(cfg):
            got = _only(cfg, "runs/status", seconds=3)
        assert got and set(got) == {"runs/status"}, sorted(set(got))[:10]

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


def _only(cfg: BusConfig, topic: str, seconds: float) -> list[str]:
    """Every topic a client subscribed to `topic` alone receives within `seconds`."""
    import threading

    import paho.mqtt.client as mqtt

    got: list[str] = []
    subscribed = threading.Event()
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="only-one-topic")
    c.on_message = lambda _c, _u, m: got.append(m.topic)
    c.on_connect = lambda cl, *_: cl.subscribe(topic, 1)
    c.on_subscribe = lambda *_: subscribed.set()
    c.connect(cfg.host, cfg.port, keepalive=30)
    c.loop_start()
    try:
        assert subscribed.wait(10), "no SUBACK"
        time.sleep(seconds)  # a window in which the busy stand publishes everything else
    finally:
        c.loop_stop()
        c.disconnect()
    return got


def readme_lines() -> list[tuple[int, str]]:
    """Every shell line of the README's ```bash / ```sh blocks, with its line number, in
    order, as a person would copy it (comments are left on: the shell drops them)."""
    out: list[tuple[int, str]] = []
    inside = False
    for no, line in enumerate(README.read_text(encoding="utf-8").splitlines(), 1):
        if line.startswith("```"):
            inside = not inside and line.strip() in ("```bash", "```sh")
            continue
        if inside and line.strip() and not line.lstrip().startswith("#"):
            out.append((no, line.strip()))
    return out


# lines that cannot run against the demo here, and where they are run instead
ELSEWHERE = {
    "./scripts/test": "the suite itself (this test is one of its tests)",
    "trackerdcs deploy ": "the production pod: podman, built images and its own stand file; "
    "tests/deploy/test_pod.py runs deploy build, up, status and down on one",
    "trackerdcs secrets ": "the pod's secrets: tests/deploy/test_pod.py runs secrets init",
}
# the demo at time scale 10 (simulators, sequencer waits and safety's chiller grace ten times
# faster): three minutes of the first shift in 18 s, past safety's chiller grace (120 s / 10)
TIME_SCALE = 10
FIRST_SHIFT_HOLD = 180 / TIME_SCALE


def _free(port: int) -> bool:
    import socket

    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _fresh_copy(dest: Path) -> Path:
    """The project as a new user gets it: tracked and untracked-but-not-ignored files."""
    root = README.parent
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=root,
                           capture_output=True, text=True, check=True).stdout.split()  # fmt: skip
    for name in files:
        if (root / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            (dest / name).write_bytes((root / name).read_bytes())
            (dest / name).chmod((root / name).stat().st_mode)
    return dest


def _hold_first_shift(p: Probe, seconds: float) -> None:
    """LV and HV on for `seconds`: the stand stays safe — no ACTION, no alarm latched."""
    p.wait_json("dcs/status", lambda s: s["fsm_state"] == "HV_ON", timeout=60)
    start = p.mark()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(5)
        bad = [(m.topic, m.text) for m in p.messages[start:]
               if (m.topic == "safety/status" and m.json().get("state") == "ACTION")
               or (m.topic.startswith("alarms/") and m.json().get("severity") != "OK")]  # fmt: skip
        assert not bad, bad[:3]
    assert p.latest["dcs/status"].json()["fsm_state"] == "HV_ON"


@pytest.mark.timeout(720)
def test_the_readme_as_written_in_a_fresh_copy(tmp_path: Path) -> None:
    """Issues 16 and 26: a fresh copy of the project (no venv, no state), the README's first
    command typed as written (its own venv, the pinned packages, the demo on its default
    ports), then every other shell line of the README in order, in the same folder, each
    answering without error — the first shift (LV on, HV on) held three minutes at time scale
    (TRACKERDCS_TIME_SCALE, as `--time-scale`) with no ACTION and no alarm. The packages come
    from pip's cache when the suite's install filled it."""
    import httpx

    lines = readme_lines()
    assert lines[0][1] == "./scripts/demo", lines[0]  # the README changed: look at this test
    assert _free(1883) and _free(8080), "the demo's default ports 1883/8080 are taken here"
    copy = _fresh_copy(tmp_path / "trackerdcs")
    log = tmp_path / "first-command.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHON"))}
    env["PATH"] = ":".join(p for p in env["PATH"].split(":") if "/.venv/" not in p)
    env["TRACKERDCS_TIME_SCALE"] = str(TIME_SCALE)
    with open(log, "wb") as out:
        proc = subprocess.Popen(["bash", "-c", lines[0][1]], cwd=copy, stdout=out, env=env,
                                stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    ran: list[str] = []
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

        # the other lines, in a shell of the same folder (bare `trackerdcs`: the venv's)
        shell = {**env, "PATH": f"{copy / '.venv' / 'bin'}:{env['PATH']}"}
        with Probe(cfg) as p:
            for no, line in lines[1:]:
                why = next((w for k, w in ELSEWHERE.items() if line.startswith(k)), None)
                if why:
                    continue
                r = subprocess.run(["bash", "-c", line], cwd=copy, env=shell, text=True,
                                   capture_output=True, timeout=300)  # fmt: skip
                said = r.stdout + r.stderr
                assert r.returncode == 0, f"README.md:{no}: {line}\n{said[-2000:]}"
                words = ("Traceback", " INFO ", "error:", "None")
                noisy = [x for x in said.splitlines() if any(w in x for w in words)]
                assert not noisy, f"README.md:{no}: {line}: {noisy[:5]}"
                ran.append(line)
                if "switch/hv on" in line:
                    _hold_first_shift(p, FIRST_SHIFT_HOLD)
                if line.startswith(".venv/bin/trackerdcs runs list"):
                    user = subprocess.run(["id", "-un"], capture_output=True, text=True).stdout
                    assert f"by {user.strip()}" in said and "Ph2_ACF run " in said, said
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C in the terminal
        try:
            code = proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            raise
    assert any("switch/hv on" in x for x in ran) and any("runs list" in x for x in ran), ran
    text = log.read_text(errors="replace")
    # a normal start and Ctrl-C: no error, and no warning of ours either (pip's own about
    # this machine's package index start with "WARNING:")
    words = ("Traceback", " ERROR ", " WARNING ", "couldn't be located", "error:")
    noisy = [x for x in text.splitlines() if any(w in x for w in words)]
    assert not noisy, noisy[:10]
    assert code == 0, text[-2000:]
    assert _free(1883) and _free(8080)  # everything it started is gone
