"""Stale is never fresh: with the chiller's serial line and the CAEN IOC gone, the services
say DISCONNECTED and publish no number as current, and the recorder stores none; when they
come back, the values read from the hardware are published and stored again."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

from trackerdcs.caen.protocol import FIELDS
from trackerdcs.caen.testing import channel_map_yaml
from trackerdcs.storage.sqlite import SqliteHistorian
from trackerdcs.testing.mosquitto import free_port
from trackerdcs.testing.probe import Probe
from trackerdcs.testing.processes import StandProcesses

CHILLER_NUMBERS = ("status_code", "internal_temp", "external_temp", "power", "setpoint_1",
                   "used_setpoint")  # fmt: skip
SERVICE_STATE = {"online"}  # a service's own availability: not a device's value


def numbers(data: dict) -> dict:
    return {k: v for k, v in data.items() if isinstance(v, int | float) and k != "ts"
            and not isinstance(v, bool)}  # fmt: skip


def test_a_gone_chiller_and_ioc_publish_and_record_no_number_then_recover(
    write_stand, tmp_path: Path
) -> None:
    port = free_port()
    history = tmp_path / "history.sqlite"
    body = f"""
storage: {{historian: "sqlite:///{history}"}}
caen:
  simulate: true
  prefix: d{uuid.uuid4().hex[:5]}
  ca_server_port: {free_port()}
  watchdog: {{timeout: null}}
  channels:
{channel_map_yaml(2)}
julabo: {{simulate: true, port: "socket://127.0.0.1:{port}", sim_tcp: "127.0.0.1:{port}"}}
recorder: {{flush_interval: 0.2, keepalive: 2}}
"""
    path, stand = write_stand(body)
    procs = StandProcesses(path, stand, tmp_path)
    try:
        procs.start(*procs.specs)
        with Probe(stand.bus) as p:
            p.wait_json("dcs/status", lambda s: s["fsm_state"] == "LV_OFF", 60)
            p.wait_json("julabo/status", lambda s: s.get("internal_temp") is not None, 30)
            p.wait_for("recorder/online", lambda m: m.text == "true", 20)

            procs.kill("sim-julabo")
            procs.kill("sim-caen")
            p.wait_json("julabo/status", lambda s: s["fsm_state"] == "DISCONNECTED", 30)
            for cid in (1, 2):
                p.wait_json(f"dcs/channel/{cid}", lambda c: c["fsm_state"] == "DISCONNECTED", 30)
            gone = time.time()
            mark = p.mark()
            time.sleep(7)  # past a periodic republish (every 5 s) and a keep-alive
            assert p.command("recorder", "flush", timeout=20)["ok"]
            back_mark = p.mark()
            seen = [m for m in p.messages[mark:back_mark]]
            chiller = [m.json() for m in seen if m.topic == "julabo/status"]
            channels = [m.json() for m in seen if m.topic.startswith("dcs/channel")]
            assert chiller and channels  # they kept saying so
            for msg in chiller:
                assert msg["fsm_state"] == "DISCONNECTED"
                assert not [k for k in CHILLER_NUMBERS if msg.get(k) is not None], msg
            for msg in channels:
                assert msg["fsm_state"] == "DISCONNECTED" and msg["connected"] is False
                assert all(msg[f] is None for f in FIELDS), msg  # no number as current
            # and the recorder stored no value of theirs while they were gone
            h = SqliteHistorian(history)
            stored = {
                key: [v for t, v in h.raw(key, gone, time.time())]
                for key in h.series("")
                if key.split(",")[0] not in SERVICE_STATE
            }
            numeric = {k: v for k, v in stored.items()
                       if any(not isinstance(x, str) for x in v)}  # fmt: skip
            assert not numeric, numeric
            states = stored["chiller:fsm_state"]
            assert states and set(states) == {"DISCONNECTED"}

            # back: the true values, published and stored again
            procs.start("sim-julabo", "sim-caen")
            p.wait_json("julabo/status", lambda s: s.get("internal_temp") is not None, 60,
                        since=back_mark)  # fmt: skip
            for cid in (1, 2):
                ch = p.wait_json(f"dcs/channel/{cid}", lambda c: c["fsm_state"] == "LV_OFF", 60,
                                 since=back_mark)  # fmt: skip
                assert ch["lv_vMon"] is not None and ch["connected"] is True
            back = time.time()
            time.sleep(1)
            assert p.command("recorder", "flush", timeout=20)["ok"]
            key = next(k for k in h.series("channels,") if k.endswith(":lv_vMon") and "id=1" in k)
            assert h.raw(key, back - 5, time.time())
            assert h.raw("chiller:internal_temp", back - 5, time.time())
            h.close()
    finally:
        procs.stop()
