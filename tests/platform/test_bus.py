"""The bus layer against a real Mosquitto: replies, availability, reconnection."""

from __future__ import annotations

import os
import signal

import pytest
from pydantic import BaseModel

from trackerdcs.core.blocking import BlockingBus
from trackerdcs.core.commands import BadCommand, Number, OnOff, parse
from trackerdcs.testing.probe import Probe


def test_every_command_gets_a_reply(write_stand, spawn, probe) -> None:
    path, _ = write_stand("")
    spawn(path, "dum1")
    probe.wait_for("dum1/online", lambda m: m.text == "true")

    ok = probe.command("dum1", "set", 42)
    assert ok["ok"] is True and ok["result"] == {"value": 42.0}
    state = probe.wait_json("dum1/state", lambda s: s["value"] == 42.0)
    assert state["ts"] > 0

    refused = probe.command("dum1", "set", 500)
    assert refused["ok"] is False and refused["refused"] is True
    assert "limit 100" in refused["error"]

    bad = probe.command("dum1", "set", "twelve")
    assert bad["ok"] is False and "must be a number" in bad["error"]

    unknown = probe.command("dum1", "fly")
    assert unknown["ok"] is False and "unknown command 'fly'" in unknown["error"]
    assert "set" in unknown["error"]  # tells the sender what exists

    crash = probe.command("dum1", "boom")
    assert crash["ok"] is False and "simulated bug" in crash["error"]

    wild = probe.command("dum1", "item/a/set")
    assert wild["ok"] is True and wild["result"] == {"item": "a"}

    # the service survived all of that
    assert probe.command("dum1", "ping")["ok"] is True


def test_malformed_json_reply_names_the_problem(write_stand, spawn, probe) -> None:
    path, _ = write_stand("")
    spawn(path, "dum2")
    probe.wait_for("dum2/online", lambda m: m.text == "true")
    start = probe.mark()
    probe.publish("dum2/cmd/set", b'{"value": 3,')
    reply = probe.wait_json("dum2/reply", lambda r: r["command"] == "set", since=start)
    assert reply["ok"] is False
    assert "malformed JSON" in reply["error"]
    probe.publish("dum2/cmd/set", b"\xff\xfe")
    reply = probe.wait_json("dum2/reply", lambda r: "UTF-8" in (r["error"] or ""), since=start)
    assert reply["ok"] is False


def test_retained_commands_are_not_executed(write_stand, spawn, probe) -> None:
    path, _ = write_stand("")
    probe.publish("dum3/cmd/set", "7", retain=True)
    try:
        spawn(path, "dum3")
        reply = probe.wait_json("dum3/reply", lambda r: r["command"] == "set")
        assert reply["ok"] is False and "retained" in reply["error"]
        state = probe.wait_json("dum3/state", lambda s: True)
        assert state["value"] == 0.0
    finally:
        probe.bus.clear_retained("dum3/cmd/set")


def test_killed_service_goes_offline_by_last_will(write_stand, spawn, probe) -> None:
    path, _ = write_stand("")
    proc = spawn(path, "dum4")
    probe.wait_for("dum4/online", lambda m: m.text == "true")
    start = probe.mark()
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(5)
    probe.wait_for("dum4/online", lambda m: m.text == "false", timeout=10, since=start)


def test_clean_stop_announces_offline(write_stand, spawn, probe) -> None:
    path, _ = write_stand("")
    proc = spawn(path, "dum5")
    probe.wait_for("dum5/online", lambda m: m.text == "true")
    start = probe.mark()
    proc.terminate()
    assert proc.wait(10) == 0
    probe.wait_for("dum5/online", lambda m: m.text == "false", timeout=5, since=start)


def test_broker_restart_reconnects_resubscribes_republishes(
    write_stand, spawn, own_mosquitto
) -> None:
    path, _ = write_stand("", broker=own_mosquitto)
    proc = spawn(path, "dum6")
    with Probe(own_mosquitto.bus_config()) as p:
        p.wait_for("dum6/online", lambda m: m.text == "true")
        assert p.command("dum6", "set", 5)["ok"]
    own_mosquitto.restart(down=1.0)  # no persistence: retained state is gone with it
    with Probe(own_mosquitto.bus_config()) as p:
        # state comes back without restarting the service...
        p.wait_for("dum6/online", lambda m: m.text == "true", timeout=15)
        state = p.wait_json("dum6/state", lambda s: s["value"] == 5.0, timeout=15)
        assert state["fsm_state"] == "READY"
        # ...and its command subscription too
        assert p.command("dum6", "set", 6, timeout=15)["result"] == {"value": 6.0}
    assert proc.poll() is None


def test_wrong_password_is_refused_not_silent(own_mosquitto) -> None:
    cfg = own_mosquitto.bus_config()
    cfg.password_file = None
    cfg.username = "intruder"
    bus = BlockingBus(cfg, service="x")
    try:
        assert bus.start(wait=2) is False
        assert bus.last_error is not None
    finally:
        bus.stop()


@pytest.mark.parametrize(
    ("raw", "value", "cid"),
    [
        (b"on", "on", None),
        (b"12.5", 12.5, None),
        (b'{"id": "a1", "value": 3}', 3, "a1"),
        (b'{"id": 7, "setpoint": 1, "temp": 20}', {"setpoint": 1, "temp": 20}, "7"),
        (b"", None, None),
    ],
)
def test_payload_forms(raw: bytes, value: object, cid: str | None) -> None:
    cmd = parse("x", raw)
    assert cmd.value == value and cmd.id == cid


def test_payload_models_reject_nan_text_and_missing_fields() -> None:
    with pytest.raises(BadCommand, match="finite"):
        parse("x", b"nan").model(Number)
    with pytest.raises(BadCommand, match="must be a number"):
        parse("x", b"twelve").model(Number)

    class SetWT(BaseModel):
        setpoint: int
        temp: float

    with pytest.raises(BadCommand, match="temp: Field required"):
        parse("x", b'{"setpoint": 1}').model(SetWT)
    assert parse("x", b"on").model(OnOff).value is True
    assert parse("x", b'{"state": "off"}').model(OnOff).value is False


def test_tls_connection_with_stand_file_ca(tmp_path) -> None:
    from trackerdcs.testing.mosquitto import Mosquitto

    broker = Mosquitto(tmp_path / "tls", tls=True).start()
    try:
        with Probe(broker.bus_config()) as p:
            bus = BlockingBus(broker.bus_config(), service="tlssvc")
            assert bus.start(wait=10)
            p.wait_for("tlssvc/online", lambda m: m.text == "true")
            bus.stop()
        plain = broker.bus_config()
        plain.tls = None  # a client that does not speak TLS gets nowhere
        bus = BlockingBus(plain, service="plain")
        assert bus.start(wait=2) is False
        bus.stop()
    finally:
        broker.stop()
