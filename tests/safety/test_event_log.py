"""Issue 16: what safety did stays on record. A dew-point ACTION is provoked, acknowledged
and cleared; the event log (the recorder's `events` measurement, read with `trackerdcs
query events`) still shows the interlock, the safe-off and each channel switched off, with
times and reasons, and a command typed at the CLI names its OS user."""

from __future__ import annotations

import getpass
import json
import subprocess
import sys
import time
from pathlib import Path

from tests.safety.conftest import open_safety_stand
from tests.safety.test_interlocks import margin_humidity


def cli(path: Path, command: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "trackerdcs", command, "--config", str(path),
                           *args], capture_output=True, text=True, timeout=60)  # fmt: skip


def test_the_event_log_keeps_what_safety_did_after_the_alarm_is_gone(
    write_stand, own_mosquitto, tmp_path: Path
) -> None:
    storage = (f"storage:\n  historian: sqlite:///{tmp_path / 'history.sqlite'}\n"
               "recorder: {flush_interval: 0.2}\n")  # fmt: skip
    t0 = time.time()
    with open_safety_stand(write_stand, own_mosquitto, tmp_path, storage, ("recorder",)) as st:
        p = st.probe
        p.wait_for("recorder/online", lambda m: m.payload == b"true", timeout=20)
        for what in ("switch/lv", "switch/hv"):
            done = cli(st.path, "cmd", "dcs", what, "on")
            assert done.returncode == 0, done.stderr
            st.caen_state("LV_ON" if what == "switch/lv" else "HV_ON")
        mark = p.mark()
        st.set_sensor(humidity=margin_humidity(2.0))
        st.caen_state("LV_OFF", since=mark)
        mark = p.mark()
        st.set_sensor(humidity=None)
        st.safety(lambda s: s["state"] == "OK", since=mark)
        p.wait_json("alarms/safety.dewpoint", lambda a: a["current"] == "OK", since=mark)
        assert st.cmd("safety", "ack", {"alarm": "safety.dewpoint"})["ok"]
        p.wait_json("alarms/safety.dewpoint", lambda a: a["severity"] == "OK", since=mark)
        assert p.command("recorder", "flush", timeout=20)["ok"]

    out = cli(st.path, "query", "events", "--start=-10m", "--format", "json")
    assert out.returncode == 0, out.stderr
    events = sorted(json.loads(out.stdout), key=lambda e: e["ts"])
    log = "\n".join(f"{e['ts'] - t0:7.3f} {e['kind']:9} {e.get('module', ''):3} {e['text']}"
                    for e in events)  # fmt: skip
    print(log)

    def first(pred) -> dict:
        hit = [e for e in events if pred(e)]
        assert hit, f"not in the event log:\n{log}"
        assert all(t0 < e["ts"] < time.time() for e in hit)
        return hit[0]

    me = getpass.getuser()
    cli_cmd = first(lambda e: e["kind"] == "command" and "switch/hv on" in e["text"])
    assert cli_cmd["user"] == me and f"by {me} (cli): done" in cli_cmd["text"]
    action = first(lambda e: e["kind"] == "interlock" and "dewpoint" in e["text"]
                   and "→ ACTION" in e["text"])  # fmt: skip
    assert "margin 2.0 K" in action["text"] and action["level"] == "error"
    safe_off = first(lambda e: e["kind"] == "command" and e["service"] == "dcs"
                     and e["user"] == "safety" and "safe_off" in e["text"])  # fmt: skip
    assert safe_off["text"].endswith(": done") and "dew" in safe_off["text"]
    assert safe_off["ts"] >= action["ts"]
    for module in ("M1", "M2"):
        hv_off = first(lambda e, m=module: e["kind"] == "state" and e["module"] == m
                       and "HV_ON →" in e["text"])  # fmt: skip
        lv_off = first(lambda e, m=module: e["kind"] == "state" and e["module"] == m
                       and "→ LV_OFF" in e["text"] and e["ts"] > action["ts"])  # fmt: skip
        assert hv_off["ts"] >= safe_off["ts"] - 1 and lv_off["ts"] >= hv_off["ts"]
        assert "safe" in lv_off["text"].lower() or "interlock" in lv_off["text"], lv_off
    first(lambda e: e["kind"] == "alarm" and e["text"].startswith("MAJOR safety.dewpoint"))
    # the condition had gone: the acknowledgement clears the latched alarm
    first(lambda e: e["kind"] == "alarm" and e["text"] == "safety.dewpoint back to normal "
          "(latched MAJOR until acknowledged)")  # fmt: skip
    first(lambda e: e["kind"] == "alarm"
          and e["text"] == "safety.dewpoint acknowledged and cleared")  # fmt: skip
