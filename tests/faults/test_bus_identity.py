"""Issue 11 item 5 and the bus trust model: any client publishing `safety/heartbeat` kept
the CAEN watchdog quiet while the real safety service was frozen, and any account could
command `dcs` claiming `user: "expert"`. With per-service accounts and the generated ACL,
the broker (not the payload) says who may publish what."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.safety.conftest import STAND
from trackerdcs.config import load_stand
from trackerdcs.config.model import StandBase
from trackerdcs.deploy.mqtt_accounts import write
from trackerdcs.testing.faults import frozen
from trackerdcs.testing.mosquitto import Mosquitto, free_port
from trackerdcs.testing.probe import Probe
from trackerdcs.testing.processes import StandProcesses


@dataclass
class Secured:
    stand: StandBase
    accounts: Path
    procs: StandProcesses
    probe: Probe  # the admin account

    def as_account(self, name: str) -> Probe:
        cfg = self.stand.bus.model_copy(update={
            "username": name, "password_file": self.accounts / f"{name}.password"})  # fmt: skip
        return Probe(cfg).__enter__()


@pytest.fixture
def secured(tmp_path: Path) -> Iterator[Secured]:
    prefix = f"i{uuid.uuid4().hex[:6]}"
    body = STAND.format(prefix=prefix, ca_port=free_port(), put_log=tmp_path / "puts.jsonl")
    draft = tmp_path / "draft.yaml"
    draft.write_text(f"state_dir: {tmp_path / 'var'}\n" + body)
    accounts = tmp_path / "accounts"
    write(load_stand(draft), accounts)
    broker = Mosquitto(tmp_path / "mosquitto", accounts=accounts).start()
    path = tmp_path / "stand.yaml"
    path.write_text(f"state_dir: {tmp_path / 'var'}\n" + broker.bus_yaml() + body)
    stand = load_stand(path)
    procs = StandProcesses(path, stand, tmp_path)
    probe = Probe(stand.bus).__enter__()
    try:
        procs.start("sim-caen", "sim-sensors", "safety", "sensors", "caen")
        probe.wait_json("dcs/status", lambda s: s["fsm_state"] == "LV_OFF", timeout=30)
        probe.wait_json("safety/status", lambda s: s["state"] == "OK", timeout=20)
        yield Secured(stand, accounts, procs, probe)
    finally:
        procs.stop()
        probe.__exit__()
        broker.stop()


def test_a_forged_heartbeat_does_not_hide_a_frozen_safety_service(secured: Secured) -> None:
    st = secured
    assert st.probe.command("dcs", "switch/lv", "on", timeout=15)["ok"]
    st.probe.wait_json("dcs/status", lambda s: s["fsm_state"] == "LV_ON", timeout=20)
    forger = st.as_account("sensors")  # a real account of the stand, not safety's
    stop = threading.Event()

    def forge() -> None:
        while not stop.wait(0.3):
            now = time.time()
            forger.publish("safety/heartbeat", {"state": "OK", "ts": now})
            forger.publish("safety/status", {"state": "OK", "message": "", "interlocks": {},
                                             "ts": now})  # fmt: skip

    threading.Thread(target=forge, daemon=True).start()
    mark = st.probe.mark()
    try:
        with frozen(st.procs.procs["safety"]):
            # CAEN's watchdog (4 s) is not fooled: it takes the safe state alone
            st.probe.wait_json("dcs/status", lambda s: s["fsm_state"] == "LV_OFF", timeout=20,
                               since=mark)  # fmt: skip
            forged = [m for m in st.probe.messages[mark:] if m.topic == "safety/heartbeat"]
            assert forged == []  # the broker dropped every one of them
    finally:
        stop.set()
        forger.__exit__()


def test_only_the_accounts_allowed_to_command_can_command(secured: Secured) -> None:
    st = secured
    intruder = st.as_account("sensors")
    try:
        mark = st.probe.mark()
        intruder.publish("dcs/cmd/switch/lv", {"id": "x1", "value": "on", "user": "expert"})
        # the broker refused it: nothing reached the CAEN service (no reply), while a command
        # from an account allowed to command is answered
        assert st.probe.command("dcs", "ping", timeout=10)["ok"]
        assert not any(m.topic == "dcs/cmd/switch/lv" for m in st.probe.messages[mark:])
        assert not any(m.topic == "dcs/reply" and b'"x1"' in m.payload
                       for m in st.probe.messages[mark:])  # fmt: skip
    finally:
        intruder.__exit__()
