"""Each storage test runs twice: on the embedded SQLite historian and on a real InfluxDB."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from trackerdcs.testing.influx import Influx


@pytest.fixture(scope="session")
def influx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Influx]:
    db = Influx(tmp_path_factory.mktemp("influx")).start()
    db.export_password()
    yield db
    db.stop()


@pytest.fixture(params=["sqlite", "influx"])
def storage_yaml(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"storage:\n  historian: sqlite:///{tmp_path / 'history.sqlite'}\n"
    db: Influx = request.getfixturevalue("influx")
    return db.storage_yaml(f"t{uuid.uuid4().hex[:8]}")
