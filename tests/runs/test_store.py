"""The run store's two backends behave the same. SQLite is real; MongoDB cannot run on this
machine, so its backend runs against mongomock (an in-memory stand-in for pymongo's client):
this checks our use of the pymongo API, not a server."""

from __future__ import annotations

from pathlib import Path

import mongomock
import pytest

from trackerdcs.runs.store import MongoRunStore, RunStore, SqliteRunStore


@pytest.fixture(params=["sqlite", "mongo"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> RunStore:
    if request.param == "sqlite":
        return SqliteRunStore(tmp_path / "runs.sqlite")
    return MongoRunStore("mongodb://localhost/trackerdcs", client=mongomock.MongoClient())


def test_documents_are_kept_whole_newest_first_and_unfinished_ones_found(store) -> None:
    assert store.next_id() == 1
    doc = {"id": 1, "status": "running", "start": 100.0, "conditions": {"sensors": {}},
           "modules": [{"channel": "1", "module": "M1"}]}  # fmt: skip
    store.save(doc)
    assert store.unfinished() == [doc]
    store.save({**doc, "status": "failed", "reason": "ControlHub returned error code 3"})
    store.save({"id": 2, "status": "done", "start": 200.0, "modules": []})
    assert store.next_id() == 3
    assert [d["id"] for d in store.recent()] == [2, 1]
    assert store.get(1)["reason"] == "ControlHub returned error code 3"  # failed runs kept
    assert store.unfinished() == [] and store.get(9) is None
