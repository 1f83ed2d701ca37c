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

# The longest files first: xdist hands files to the two workers in collection order, and a
# five-minute file collected near the end ran alone while the other worker sat idle. Longest
# first, the two end together (measured per file with --durations=0).
FIRST = ("tests/runs/test_runs.py", "tests/platform/test_demo.py",
         "tests/runs/test_sequence_stands.py",
         "tests/deploy/test_pod.py", "tests/runs/test_sequence_coldroom.py",
         "tests/storage/test_recorder.py")  # fmt: skip


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        path = item.nodeid.split("::", 1)[0]
        return FIRST.index(path) if path in FIRST else len(FIRST)

    items.sort(key=rank)  # stable: the rest keep their order, a file's tests stay together


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
