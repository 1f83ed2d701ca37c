"""The event log's own rules (`storage/events.py`), on a fake clock."""

from __future__ import annotations

import json

from trackerdcs.storage.events import NO_REPLY_AFTER, EventLog


def texts(points) -> list[str]:
    return [p.value for p in points]


def test_a_command_without_reply_is_an_event_once_it_is_late() -> None:
    now = [1000.0]
    log = EventLog(lambda: now[0])
    assert log.feed("julabo/cmd/start", json.dumps({"id": "x", "user": "bo"}).encode()) == []
    assert log.sweep() == []
    now[0] += NO_REPLY_AFTER + 1
    late = log.sweep()
    assert texts(late) == [f"no reply within {NO_REPLY_AFTER:g} s to a command (x) by bo"]
    assert dict(late[0].tags)["service"] == "julabo" and late[0].ts == 1000.0
    assert log.sweep() == []  # said once


def test_what_was_already_so_when_the_recorder_started_is_no_event() -> None:
    log = EventLog(lambda: 5.0)
    alarm = {"name": "dcs.ch1.trip", "source": "dcs", "severity": "MAJOR", "current": "MAJOR",
             "message": "trip", "acknowledged": False}  # fmt: skip
    assert log.feed("alarms/dcs.ch1.trip", json.dumps(alarm).encode(), retained=True) == []
    assert log.feed("dcs/online", b"true", retained=True) == []
    assert log.feed("dcs/channel/1", b'{"module": "M1", "fsm_state": "ERROR"}') == []
    # then a change is
    ack = {**alarm, "acknowledged": True}
    assert texts(log.feed("alarms/dcs.ch1.trip", json.dumps(ack).encode())) == [
        "dcs.ch1.trip acknowledged"
    ]
    assert texts(log.feed("dcs/online", b"false")) == ["dcs OFFLINE"]


def test_an_alarm_raised_while_we_listen_names_its_module() -> None:
    log = EventLog(lambda: 5.0)
    log.feed("dcs/channel/3", b'{"module": "M3", "fsm_state": "HV_ON"}')
    alarm = {"name": "dcs.ch3.trip", "source": "dcs", "severity": "MAJOR", "current": "MAJOR",
             "message": "channel 3 (M3): HV: tripped", "acknowledged": False,
             "ts": 7.0}  # fmt: skip
    (p,) = log.feed("alarms/dcs.ch3.trip", json.dumps(alarm).encode())
    assert p.value == "MAJOR dcs.ch3.trip: channel 3 (M3): HV: tripped" and p.ts == 7.0
    assert dict(p.tags) == {"kind": "alarm", "level": "error", "module": "M3", "service": "dcs"}
