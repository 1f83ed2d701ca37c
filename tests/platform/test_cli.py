"""`trackerdcs status` and `trackerdcs cmd` as an operator uses them."""

from __future__ import annotations

import json
import subprocess
import sys

from trackerdcs.cli.client import build_payload


def _cli(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "trackerdcs", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_cmd_prints_reply_and_exit_code(write_stand, spawn, probe) -> None:
    path, _ = write_stand("")
    spawn(path, "clidum")
    probe.wait_for("clidum/online", lambda m: m.text == "true")

    ok = _cli("cmd", "-c", str(path), "clidum", "set", "12")
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["result"] == {"value": 12.0}

    refused = _cli("cmd", "-c", str(path), "clidum", "set", "1000")
    assert refused.returncode == 1
    assert "refused: value 1000.0 above the limit 100" in refused.stderr

    malformed = _cli("cmd", "-c", str(path), "clidum", "set", '{"value": 1')
    assert malformed.returncode == 1
    reply = json.loads(malformed.stdout)
    assert reply["ok"] is False and "malformed JSON" in reply["error"]


def test_cmd_times_out_when_nobody_answers(write_stand) -> None:
    path, _ = write_stand("")
    res = _cli("cmd", "-c", str(path), "--timeout", "1", "nobody", "ping")
    assert res.returncode == 3
    assert "no reply from 'nobody'" in res.stderr


def test_a_command_for_a_service_the_stand_does_not_run_says_so_at_once(write_stand) -> None:
    """Issue 26: `sequence recipes` on a stand without a runs service waited 30 s for a
    reply that could not come. A service of ours always says `<svc>/online`: without it the
    answer is at once (a command waiting its full --timeout would outlast the 60 s bound)."""
    path, _ = write_stand("")
    for args in (("sequence", "-c", str(path), "--timeout", "300", "recipes"),
                 ("runs", "-c", str(path), "--timeout", "300", "list"),
                 ("cmd", "-c", str(path), "--timeout", "300", "julabo", "refresh")):  # fmt: skip
        res = _cli(*args, timeout=60)
        assert res.returncode == 3, (args, res.stderr)
        family = "runs" if args[0] != "cmd" else "julabo"
        assert f"runs no '{family}' service: add a `{family}:` section" in res.stderr, res.stderr
    # without a stand file: what the broker knows
    bare = _cli("runs", *_bus(path), "--timeout", "300", "list", timeout=60)
    assert bare.returncode == 3
    assert "no service 'runs' on the broker" in bare.stderr
    assert "a `runs:` section" in bare.stderr


def _bus(path) -> list[str]:
    """The broker of a stand file as options (a person without the file)."""
    from trackerdcs.config import load_stand

    bus = load_stand(path).bus
    return ["--port", str(bus.port), "--username", bus.username,
            "--password-file", str(bus.password_file)]  # fmt: skip


def test_status_lists_online_and_offline(write_stand, spawn, probe) -> None:
    path, _ = write_stand("")
    alive = spawn(path, "stat1")
    dead = spawn(path, "stat2")
    probe.wait_for("stat1/online", lambda m: m.text == "true")
    probe.wait_for("stat2/online", lambda m: m.text == "true")
    dead.terminate()
    dead.wait(10)
    probe.wait_for("stat2/online", lambda m: m.text == "false")
    res = _cli("status", "-c", str(path))
    assert res.returncode == 0, res.stderr
    lines = {line.split()[0]: line for line in res.stdout.splitlines()}
    assert "online" in lines["stat1"] and "READY" in lines["stat1"]
    assert "OFFLINE" in lines["stat2"]
    as_json = json.loads(_cli("status", "-c", str(path), "--json").stdout)
    assert as_json["stat1"]["online"] is True
    assert as_json["stat1"]["state"]["state"]["value"] == 0.0
    assert alive.poll() is None


def test_status_without_broker_says_so(tmp_path) -> None:
    from trackerdcs.testing.mosquitto import free_port

    res = _cli("status", "--port", str(free_port()), timeout=30)
    assert res.returncode == 2
    assert "cannot reach the broker" in res.stderr


def test_build_payload_keeps_malformed_json_for_the_service() -> None:
    assert build_payload('{"a": ', "x", None) == b'{"a":'
    assert json.loads(build_payload("on", "x", "ana")) == {"id": "x", "user": "ana", "value": "on"}
    assert json.loads(build_payload('{"temp": 3}', "x", None)) == {"temp": 3, "id": "x"}
