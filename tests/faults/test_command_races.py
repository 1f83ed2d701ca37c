"""Found by the soak benchmark: read-back lags a command. An HV on sent right after an LV
off was accepted (LV still read back on) and left HV up with LV off for good; a safe-off
right after an HV on took HV for down (not yet read back on) and switched LV off at once.
The CAEN service now also keeps its own last order until the IOC confirms it."""

from __future__ import annotations

import json
import threading
import time

from tests.caen.conftest import CaenStand


class Watch:
    """Every LV Status and HV VMon change of one channel, straight from the IOC."""

    def __init__(self, cs: CaenStand):
        import epics

        self.lock = threading.Lock()
        self.lv_on = True
        self.hv = 0.0
        self.unsafe: list[tuple[float, float]] = []
        self.pvs = [
            epics.PV(cs.pv(0, 0, "Status"), callback=self._lv, auto_monitor=True),
            epics.PV(cs.pv(12, 0, "VMon"), callback=self._hv, auto_monitor=True),
        ]
        for pv in self.pvs:
            assert pv.wait_for_connection(5)

    def _lv(self, value=None, **kw) -> None:  # type: ignore[no-untyped-def]
        with self.lock:
            self.lv_on = bool(int(value) & 1)
            self._check()

    def _hv(self, value=None, **kw) -> None:  # type: ignore[no-untyped-def]
        with self.lock:
            self.hv = abs(float(value))
            self._check()

    def _check(self) -> None:
        if not self.lv_on and self.hv > 5.0:
            self.unsafe.append((time.time(), self.hv))

    def close(self) -> None:
        for pv in self.pvs:
            pv.clear_callbacks()
            pv.disconnect()


def _send(cs: CaenStand, name: str, value: str, cid: str) -> None:
    cs.probe.publish(f"dcs/cmd/{name}", json.dumps({"id": cid, "value": value}).encode())


def _reply(cs: CaenStand, cid: str, since: int) -> dict:
    return cs.probe.wait_json("dcs/reply", lambda r: r["id"] == cid, 15, since)


def test_hv_on_right_after_lv_off_is_refused(caen) -> None:
    cs: CaenStand = caen()
    assert cs.probe.command("dcs", "switch/lv/1", "on")["ok"]
    cs.channel(1, "LV_ON")
    watch = Watch(cs)
    try:
        mark = cs.probe.mark()
        _send(cs, "switch/lv/1", "off", "race-lv")
        _send(cs, "switch/hv/1", "on", "race-hv")  # before the IOC has said LV is off
        assert _reply(cs, "race-lv", mark)["ok"]
        hv = _reply(cs, "race-hv", mark)
        assert not hv["ok"] and "LV is being switched off" in hv["error"], hv
        cs.channel(1, "LV_OFF", since=mark)
        time.sleep(1.0)  # the simulated mainframe updates at 10 Hz: a wrong HV on would show
        assert not [p for p in cs.puts() if p["pv"] == cs.pv(12, 0, "Pw") and p["value"] == 1]
        assert watch.unsafe == []
    finally:
        watch.close()


def test_safe_off_right_after_hv_on_waits_for_hv_to_come_down(caen) -> None:
    """The narrower race of the two (it needs the mainframe to act on the HV on between the
    two orders); this guards that LV off waits for the IOC to confirm HV off."""
    cs: CaenStand = caen(rdwn=30.0)
    assert cs.probe.command("dcs", "switch/lv/1", "on")["ok"]
    cs.channel(1, "LV_ON")
    watch = Watch(cs)
    try:
        mark = cs.probe.mark()
        _send(cs, "switch/hv/1", "on", "race-on")
        _send(cs, "safe_off", "", "race-off")  # before the IOC has said HV is on
        _reply(cs, "race-off", mark)
        cs.probe.wait_json("dcs/status", lambda s: s["sequence"] is None
                           and s["channels"]["1"] == "LV_OFF", 20, mark)  # fmt: skip
        time.sleep(0.5)
        assert watch.unsafe == [], watch.unsafe[:3]
    finally:
        watch.close()
