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


def test_a_command_flood_neither_delays_safety_nor_is_dropped_silently(julabo) -> None:
    """Issue 11 item 15: a flood of commands delayed the chiller and safety's own commands
    by more than 30 s. Safety's go first; beyond a bounded queue the rest are refused at
    once ("busy"), each with a reply."""
    js = julabo("tcp")
    p = js.probe
    mark = p.mark()
    flood = 150
    # like every command sent by the web or the CLI, they carry a deadline: what is still
    # queued after it is refused unexecuted, so the end of the flood is quick
    deadline = time.time() + 4
    for i in range(flood):
        body = {"id": f"flood-{i}", "user": "someone", "setpoint": 1, "temp": 20.0 + i % 5,
                "deadline": deadline}  # fmt: skip
        p.publish("julabo/cmd/setWT", json.dumps(body).encode())
    reply = p.bus.request("julabo", "stop", None, timeout=10, user="safety")
    assert reply["ok"], reply

    def flood_replies() -> list[dict]:
        return [json.loads(m.payload) for m in p.messages[mark:] if m.topic == "julabo/reply"
                and json.loads(m.payload)["id"].startswith("flood-")]  # fmt: skip

    # safety's command was answered while most of the flood was still waiting
    assert len(flood_replies()) < flood // 2
    busy = [r for r in flood_replies() if r.get("refused") and "busy" in r["error"]]
    assert busy, "a full queue refuses at once, with a reason"
    # and every one of the flood gets its reply, in the end
    p.wait_for("julabo/reply", lambda m: len(flood_replies()) >= flood, timeout=30, since=mark)
