"""Session fixtures: a real, authenticated Mosquitto and helpers to write stand files."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from trackerdcs.config import Stand, load_stand
from trackerdcs.testing.mosquitto import Mosquitto
from trackerdcs.testing.probe import Probe


@pytest.fixture(scope="session")
def mosquitto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mosquitto]:
    broker = Mosquitto(tmp_path_factory.mktemp("mosquitto")).start()
    yield broker
    broker.stop()


@pytest.fixture
def own_mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    """A broker for one test only: for tests that stop or restart it."""
    broker = Mosquitto(tmp_path / "mosquitto").start()
    yield broker
    broker.stop()


@pytest.fixture
def probe(mosquitto: Mosquitto) -> Iterator[Probe]:
    with Probe(mosquitto.bus_config()) as p:
        yield p


@pytest.fixture
def write_stand(tmp_path: Path, mosquitto: Mosquitto) -> Callable[..., tuple[Path, Stand]]:
    """write_stand(body, broker=None) -> (path, Stand): a stand file with a `bus` section."""

    def write(body: str, broker: Mosquitto | None = None, name: str = "stand.yaml"):
        b = broker or mosquitto
        path = tmp_path / name
        path.write_text(f"state_dir: {tmp_path / 'var'}\n" + b.bus_yaml() + body)
        return path, load_stand(path)

    return write


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[dict]]]:
    """A real HTTP endpoint that keeps what is POSTed to it (notification tests)."""
    posts: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            posts.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}/hook", posts
    srv.shutdown()
