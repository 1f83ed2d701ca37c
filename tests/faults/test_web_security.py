"""Issue 11, security of the web UI, on the running demo with Debian's Chromium:
same-site request forgery, sessions after logout, roles changed while running, password
guessing, who may read the audit log and the API description, odd command paths, and the
permissions of the files that hold secrets."""

from __future__ import annotations

import http.server
import os
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.web.conftest import Demo
from trackerdcs.testing.mosquitto import free_port

EVIL = """<!doctype html><title>win a prize</title><script>
const dcs = "%(url)s";
async function attack() {
  // what a hostile page on another port of the same host can do in the operator's browser
  await fetch(dcs + "/api/cmd/julabo/stop", {method: "POST", mode: "no-cors",
      credentials: "include", headers: {"Content-Type": "text/plain"}, body: "null"});
  await fetch(dcs + "/api/cmd/julabo/stop", {method: "POST", mode: "no-cors",
      credentials: "include", headers: {"Content-Type": "application/json"}, body: "null"});
  const ws = new WebSocket(dcs.replace("http", "ws") + "/ws");
  ws.onmessage = () => { document.title = "leaked"; };
  ws.onclose = () => { if (document.title !== "leaked") document.title = "done"; };
}
attack();
</script>"""


@pytest.fixture
def evil_site(demo: Demo, tmp_path: Path) -> Iterator[str]:
    (tmp_path / "index.html").write_text(EVIL % {"url": demo.url})

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **kw):
            super().__init__(*a, directory=str(tmp_path), **kw)

        def log_message(self, *a) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/index.html"
    server.shutdown()


def test_a_page_on_another_port_cannot_command_or_watch_the_stand(
    demo: Demo, login, evil_site: str
) -> None:
    page = login("operator")  # the operator is logged in, in this browser
    mark = demo.probe.mark()
    page.goto(evil_site)
    page.wait_for_function("document.title === 'done' || document.title === 'leaked'")
    assert page.title() == "done"  # the WebSocket was refused: no live state leaked
    # a command the UI itself sends is still seen on the bus, the forged ones never were
    page.goto(demo.url)
    page.wait_for_selector("#main-view:not([hidden])")
    sent = [m.topic for m in demo.probe.messages[mark:] if m.topic.startswith("julabo/cmd/")]
    assert sent == []
    audit = page.evaluate("fetch('/api/audit?limit=20').then(r => r.json())")
    assert not any(a["command"] == "stop" and a["service"] == "julabo" for a in audit)


def _client(demo: Demo) -> httpx.Client:
    return httpx.Client(base_url=demo.url, timeout=20, headers={"Origin": demo.url})


def _login(c: httpx.Client, user: str, password: str | None = None) -> httpx.Response:
    return c.post("/api/login", json={"username": user, "password": password or user})


def test_a_session_ends_at_logout_even_for_a_copied_cookie(demo: Demo) -> None:
    with _client(demo) as c:
        assert _login(c, "viewer").status_code == 200
        copied = dict(c.cookies)
        assert c.get("/api/me").status_code == 200
        assert c.post("/api/logout", json={}).status_code == 200
    with httpx.Client(base_url=demo.url, cookies=copied, timeout=20) as thief:
        r = thief.get("/api/me")
        assert r.status_code == 401 and "log in again" in r.json()["detail"]


def _users_add(demo: Demo, name: str, role: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "trackerdcs", "users", "--config", str(demo.config), "add", name,
         "--role", role, "--password-stdin"],
        input=f"{name}-pw\n", text=True, check=True, timeout=60, capture_output=True,
        env={**os.environ, "TRACKERDCS_STATE_DIR": str(demo.state)},
    )  # fmt: skip


def test_a_role_changed_while_the_ui_runs_takes_effect_at_once(demo: Demo) -> None:
    _users_add(demo, "shift", "operator")
    with _client(demo) as c:
        assert _login(c, "shift", "shift-pw").json()["role"] == "operator"
        _users_add(demo, "shift", "viewer")
        assert c.get("/api/me").json()["role"] == "viewer"
        r = c.post("/api/cmd/julabo/stop", json={})
        assert r.status_code == 403 and "operator role" in r.json()["detail"]


def test_password_guessing_is_slowed_down(demo: Demo) -> None:
    with _client(demo) as c:
        codes = [_login(c, "expert", "guess").status_code for _ in range(6)]
        assert codes[:5] == [401] * 5
        assert codes[5] == 429  # even the right password waits out the minute now
        r = _login(c, "expert")
        assert r.status_code == 429 and "try again in" in r.json()["detail"]
        assert _login(c, "operator").status_code == 200  # other users are not locked out


def test_the_audit_log_and_api_description_need_a_login_and_the_role(demo: Demo) -> None:
    with httpx.Client(base_url=demo.url, timeout=20) as anonymous:
        assert anonymous.get("/api/docs").status_code == 401
        assert anonymous.get("/api/openapi.json").status_code == 401
    with _client(demo) as viewer:
        _login(viewer, "viewer")
        assert viewer.get("/api/docs").status_code == 200
        assert viewer.get("/api/audit").status_code == 403
    with _client(demo) as operator:
        _login(operator, "operator")
        assert operator.get("/api/audit").status_code == 200


def test_wildcards_in_a_command_path_are_a_clear_error(demo: Demo) -> None:
    with _client(demo) as c:
        _login(c, "operator")
        for path in ("/api/cmd/dcs/switch/%2B", "/api/cmd/dcs/switch/%23", "/api/cmd/dcs/a//b"):
            r = c.post(path, json="on")
            assert r.status_code == 400 and "not a command name" in r.json()["detail"], path
        r = c.post("/api/cmd/%2B/refresh", json={})
        assert r.status_code == 404 and "no service" in r.json()["detail"]


def test_files_with_secrets_are_readable_by_their_owner_only(demo: Demo) -> None:
    for name in ("audit.sqlite", "web-secret", "web-sessions.sqlite", "users.yaml"):
        mode = stat.S_IMODE((demo.state / name).stat().st_mode)
        assert mode & 0o077 == 0, f"{name} has mode {mode:o}"
