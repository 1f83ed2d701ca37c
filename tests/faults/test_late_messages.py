"""Issue 11 item 9: after a broker restart, QoS 1 messages queued during the outage arrived
after the fresh state that followed them. Every consumer ignores a message older (by its own
`ts`) than the one it has from the same source; safety's case is in test_stale_inputs."""

from __future__ import annotations

import time

from tests.julabo.conftest import JulaboStand
from trackerdcs.core.bus import Message
from trackerdcs.power.guard import PowerGuard
from trackerdcs.testing.faults import Forger
from trackerdcs.web.live import LiveState

GUARD = """  dewpoint_guard: {margin: 3.0}
sensors:
  sensors:
    - {name: box, kind: coldbox, temp_topic: LATE/temp, humi_topic: LATE/humi}
"""


def _reading(dewpoint: float) -> dict:
    return {"name": "box", "kind": "coldbox", "temperature": 20.0, "humidity": 50.0,
            "dewpoint": dewpoint}  # fmt: skip


def test_the_chiller_dewpoint_guard_is_not_fooled_by_a_late_older_reading(julabo) -> None:
    js: JulaboStand = julabo("tcp", extra=GUARD)
    forger = Forger(js.probe)
    forger.forge("sensors/box", _reading(12.0))  # the humid air now
    forger.forge("sensors/box", _reading(-20.0), age=5.0)  # queued in the outage, late
    reply = js.probe.command("julabo", "setWT", {"setpoint": 1, "temp": 5.0}, timeout=10)
    assert not reply["ok"]
    assert "below dew point 12.0" in reply["error"]


def _msg(topic: str, payload: dict) -> Message:
    import json

    return Message(topic, json.dumps(payload).encode(), False)


def test_the_web_shows_the_newest_state_not_the_last_delivered() -> None:
    live = LiveState()
    now = time.time()
    live.on_message(_msg("dcs/status", {"fsm_state": "HV_ON", "ts": now}))
    live.on_message(_msg("dcs/status", {"fsm_state": "HV_RAMP", "ts": now - 3}))
    assert live.snapshot()["dcs/status"]["fsm_state"] == "HV_ON"
    # a forged state dated tomorrow is shown but does not freeze the display
    live.on_message(_msg("dcs/status", {"fsm_state": "LV_OFF", "ts": now + 86400}))
    live.on_message(_msg("dcs/status", {"fsm_state": "HV_ON", "ts": now + 1}))
    assert live.snapshot()["dcs/status"]["fsm_state"] == "HV_ON"


def test_a_power_service_takes_the_newest_safety_status() -> None:
    guard = PowerGuard(4.0, "safety/heartbeat")
    now = time.time()
    guard.on_safety_status(_msg("safety/status", {"state": "ACTION", "message": "dew", "ts": now}))
    guard.on_safety_status(_msg("safety/status", {"state": "OK", "message": "", "ts": now - 1}))
    assert guard.interlock.state == "ACTION"
