"""Issue 11 item 7: a web command that timed out while the broker was down ran 14 s later
when it came back. A command carries the time after which its sender no longer waits; a
service refuses it after that. Here the replay: a command sent again once it has expired."""

from __future__ import annotations

import json
import time

from trackerdcs.testing.probe import Probe


def test_an_expired_command_is_refused_and_changes_nothing(write_stand, spawn,
                                                           probe: Probe) -> None:  # fmt: skip
    path, _ = write_stand("")
    spawn(path, "dum7")
    probe.wait_for("dum7/online", lambda m: m.text == "true")
    assert probe.command("dum7", "set", 5)["ok"]  # through bus.request: carries a deadline
    mark = probe.mark()
    stale = {"id": "old-1", "value": 42, "ts": time.time() - 20, "deadline": time.time() - 10}
    probe.publish("dum7/cmd/set", json.dumps(stale).encode())
    reply = probe.wait_json("dum7/reply", lambda r: r["id"] == "old-1", since=mark)
    assert reply["refused"] and "expired" in reply["error"]
    assert probe.command("dum7", "ping")["ok"]  # everything before it has been handled
    assert probe.latest["dum7/state"].json()["value"] == 5.0


def test_a_json_command_nested_100000_deep_gets_a_reply(write_stand, spawn, probe: Probe) -> None:
    """Issue 11 item 15: such a command got no reply (the parser's recursion error)."""
    path, _ = write_stand("")
    spawn(path, "dum8")
    probe.wait_for("dum8/online", lambda m: m.text == "true")
    mark = probe.mark()
    probe.publish("dum8/cmd/set", b'{"a":' * 100_000 + b"1" + b"}" * 100_000)
    reply = probe.wait_json("dum8/reply", lambda r: r["command"] == "set", since=mark)
    assert reply["ok"] is False and "nested too deeply" in reply["error"]
    assert probe.command("dum8", "ping")["ok"]  # and the service is still there
