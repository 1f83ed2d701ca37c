"""Issue 11 item 14: an IOC frozen by SIGSTOP kept its CA connections for 40 s while the
CAEN service republished its last values with a fresh `ts` and `connected: true`. The
read-back watchdog must see it within seconds and make every value unknown."""

from __future__ import annotations

import time

from tests.caen.conftest import CaenStand
from trackerdcs.testing.faults import frozen


def test_a_frozen_ioc_is_seen_in_seconds_and_its_last_values_are_not_current(caen) -> None:
    cs: CaenStand = caen()
    p = cs.probe
    assert p.command("dcs", "switch/lv/1", "on")["ok"]
    cs.channel(1, "LV_ON")
    assert cs.ioc.proc is not None
    mark = p.mark()
    t0 = time.monotonic()
    with frozen(cs.ioc.proc):
        ch = p.wait_json("dcs/channel/1", lambda c: not c["connected"], timeout=10, since=mark)
        seen_after = time.monotonic() - t0
        assert ch["fsm_state"] == "DISCONNECTED"
        assert ch["lv_vMon"] is None and ch["lv_status"] is None  # no frozen value shown
        alarm = p.wait_json("alarms/dcs.ioc", lambda a: a["active"], timeout=5, since=mark)
        assert alarm["severity"] == "INVALID" and "not answering" in alarm["message"]
        # the periodic full republish (heartbeat 2 s) does not bring the old values back
        again = p.mark()
        ch = p.wait_json("dcs/channel/1", lambda c: True, timeout=5, since=again)
        assert ch["connected"] is False and ch["lv_vMon"] is None
        # and nothing can be switched on a mainframe nobody can read
        reply = p.command("dcs", "switch/lv/2", "on", timeout=10)
        assert not reply["ok"] and "DISCONNECTED" in reply["error"]
    print(f"frozen IOC seen after {seen_after:.1f} s")
    back = p.mark()
    ch = cs.channel(1, "LV_ON", timeout=15, since=back)
    assert ch["connected"] and ch["lv_vMon"] is not None  # re-read, not assumed
    p.wait_json("alarms/dcs.ioc", lambda a: not a["active"], timeout=10, since=back)
    # the refused LV on was not queued for later either (a frozen IOC runs queued puts)
    assert {"pv": cs.pv(0, 1, "Pw"), "value": 1} not in [
        {"pv": put["pv"], "value": put["value"]} for put in cs.puts()
    ]
