"""Soak: a 40-module stand under a fault every minute, for 30 minutes.

Real Mosquitto (password file, no anonymous, persistence on as in production), real
InfluxDB 1.x (SQLite when influxd is missing), every device simulated, every service a real
process. Every `--fault-every` s the next fault of FAULTS is injected (trackerdcs.testing
.faults), the stand is left to recover, and the modules are powered up again when safety
allows it, so that safe-offs happen under load.

Measured, independent of the services:
- unsafe samples: every second, LV Status and HV VMon of every channel are read over
  Channel Access straight from the (simulated) mainframe; HV above 5 V with LV off is unsafe;
- lost points: a counter published at 10 Hz on `soak/counter`; every value the broker
  delivered to an independent subscriber must be in the historian at the end;
- RSS and open fds of every process every 10 s (first and last sample of each process
  life of at least 10 minutes, and the slope);
- every service online at the end, and a reply to `ping` from each.

Run: python benchmarks/soak.py [--minutes 30] [--modules 40] [--fault-every 60]
Prints JSON (and writes it to --out when given).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from trackerdcs.caen.testing import channel_map_yaml
from trackerdcs.config import load_stand
from trackerdcs.core import peers
from trackerdcs.testing import faults
from trackerdcs.testing.influx import Influx
from trackerdcs.testing.mosquitto import Mosquitto, free_port
from trackerdcs.testing.probe import Probe
from trackerdcs.testing.processes import StandProcesses

HV_OFF_V = 5.0


def stand_body(modules: int, prefix: str, ca_port: int, julabo_port: int) -> str:
    lines = [
        "caen:",
        f"  prefix: {prefix}",
        "  simulate: true",
        f"  ca_server_port: {ca_port}",
        "  watchdog: {timeout: 6}",
        "  hv_off_timeout: 30",
        "  global:",
        "    lv: {V0Set: 10.5, I0Set: 3.0}",
        "    hv: {V0Set: 100.0, I0Set: 10.0, RUp: 50.0, RDWn: 50.0, PDwn: Ramp}",
        "  channels:",
        channel_map_yaml(modules),
    ]
    lines += [
        "julabo:",
        "  simulate: true",
        f"  port: socket://127.0.0.1:{julabo_port}",
        f"  sim_tcp: 127.0.0.1:{julabo_port}",
        "sensors:",
        "  simulate: true",
        "  sim: {period: 1.0}",
        "  sensors:",
        f"    - {{name: room, kind: ambient, temp_topic: {prefix}/a/t, humi_topic: {prefix}/a/h}}",
        f"    - {{name: box, kind: coldbox, temp_topic: {prefix}/b/t, humi_topic: {prefix}/b/h}}",
        "safety:",
        "  heartbeat_period: 1",
        "  stale: {warning: 10, action: 20}",
        "  chiller: {enabled: false}",
        "recorder: {flush_interval: 0.5, retry: 1}",
    ]
    return "\n".join(lines) + "\n"


class Stand:
    def __init__(self, tmp: Path, modules: int):
        self.tmp = tmp
        self.modules = modules
        self.broker = Mosquitto(tmp / "mosquitto", persistence=True).start()
        self.influx: Influx | None = None
        if Influx.available():
            self.influx = Influx(tmp / "influx").start()
            self.influx.export_password()
            storage = self.influx.storage_yaml("soak")
        else:
            storage = "storage:\n  historian: sqlite:///history.sqlite\n"
        self.prefix = f"soak{uuid.uuid4().hex[:4]}"
        self.ca_port = free_port()
        body = stand_body(modules, self.prefix, self.ca_port, free_port())
        self.path = tmp / "stand.yaml"
        self.path.write_text(
            f"state_dir: {tmp / 'var'}\n" + self.broker.bus_yaml() + storage + body
        )
        self.stand = load_stand(self.path)
        self.procs = StandProcesses(self.path, self.stand, tmp)
        self.services = [
            peers.service_name(self.stand, n) or n
            for n, s in self.procs.specs.items()
            if s.kind == "service"
        ]
        self.procs.start(*self.procs.specs)
        self.probe = Probe(self.stand.bus).__enter__()
        self.forger = faults.Forger(self.probe)

    def stop(self) -> None:
        self.procs.stop()
        self.probe.__exit__()
        if self.influx:
            self.influx.stop()
        self.broker.stop()

    def cmd(self, service: str, name: str, payload: object = None) -> dict[str, Any]:
        try:
            return self.probe.command(service, name, payload, timeout=10)
        except TimeoutError as exc:
            return {"ok": False, "error": str(exc)}

    def power_up(self) -> bool:
        """LV then HV on every module, if safety allows (it may not, just after a fault)."""
        mark = self.probe.mark()
        if not self.cmd("dcs", "switch/lv", "on").get("ok"):
            return False
        try:
            self.probe.wait_json("dcs/status", lambda s: s["fsm_state"] == "LV_ON", 30, mark)
        except TimeoutError:
            pass
        return bool(self.cmd("dcs", "switch/hv", "on").get("ok"))

    def restart(self, name: str) -> None:
        self.procs.start(name)

    def crash_and_restart(self, name: str, label: str, pause: float) -> str:
        """SIGKILL, then started again after `pause` s (as `up` would, a little later)."""
        faults.crash(self.procs.procs.pop(name))
        time.sleep(pause)
        self.restart(name)
        return f"{label} SIGKILL, restarted after {pause:g} s"


# -- the faults, one per minute in turn ---------------------------------------------------
def broker_restart(st: Stand) -> str:
    with faults.down(st.broker, 5.0):
        pass
    return "broker stopped 5 s"


def kill_caen(st: Stand) -> str:
    return st.crash_and_restart("caen", "CAEN service", 2)


def freeze_ioc(st: Stand) -> str:
    with faults.frozen(st.procs.procs["sim-caen"]):
        time.sleep(10)
    return "IOC SIGSTOP 10 s"


def historian_outage(st: Stand) -> str:
    if st.influx is None:
        return "historian outage skipped (SQLite)"
    with faults.down(st.influx, 20.0):
        pass
    return "InfluxDB stopped 20 s"


def kill_recorder(st: Stand) -> str:
    return st.crash_and_restart("recorder", "recorder", 2)


def freeze_safety(st: Stand) -> str:
    with faults.frozen(st.procs.procs["safety"]):
        time.sleep(10)  # longer than CAEN's watchdog (6 s): it goes safe alone
    return "safety SIGSTOP 10 s"


def hostile_messages(st: Stand) -> str:
    f = st.forger
    reading = {"name": "box", "kind": "coldbox", "temperature": 20.0, "humidity": 5.0,
               "dewpoint": -25.0}  # fmt: skip
    f.forge("sensors/box", reading, age=-3600)  # from the future
    f.nan("sensors/box", {**reading, "ts": time.time()})
    f.forge("safety/status", {"state": "OK", "message": "", "interlocks": {}}, age=86400,
            retain=True)  # fmt: skip
    if "dcs/status" in st.probe.latest:
        f.replay("dcs/status")
    f.raw("dcs/cmd/switch/hv", b'{"value": "on", "deadline": 1}')  # expired
    f.raw("dcs/cmd/switch/lv", b"\xff\xfe not json")
    f.forge("soak/poison", {"x": float("nan"), "y": 1.0})
    st.probe.bus.clear_retained("safety/status")
    return "forged, future, NaN, replayed and expired messages"


def kill_sensors(st: Stand) -> str:
    return st.crash_and_restart("sensors", "sensors service", 3)


def kill_julabo(st: Stand) -> str:
    return st.crash_and_restart("julabo", "Julabo service", 2)


FAULTS = [broker_restart, kill_caen, freeze_ioc, historian_outage, kill_recorder,
          freeze_safety, hostile_messages, kill_sensors, kill_julabo]  # fmt: skip


# -- independent watchers -----------------------------------------------------------------
class UnsafeWatch(threading.Thread):
    """Reads the mainframe itself over CA every second: HV up with LV off is unsafe."""

    def __init__(self, st: Stand):
        super().__init__(daemon=True)
        self.st = st
        self.samples = 0
        self.unreadable = 0
        self.unsafe: list[dict[str, Any]] = []
        self.stop = threading.Event()
        os.environ.update({"EPICS_CA_ADDR_LIST": "127.0.0.1", "EPICS_CA_AUTO_ADDR_LIST": "NO",
                           "EPICS_CA_SERVER_PORT": str(st.ca_port)})  # fmt: skip

    def run(self) -> None:
        import warnings

        import epics

        warnings.filterwarnings("ignore", module="epics")  # a frozen IOC's timeouts, counted

        chans = self.st.stand.caen.channels
        base = self.st.prefix
        lv = [f"{base}:{c.lv.board:02d}:{c.lv.chan:03d}:Status" for c in chans.values()]
        hv = [f"{base}:{c.hv.board:02d}:{c.hv.chan:03d}:VMon" for c in chans.values()]
        pvs = [epics.PV(n, auto_monitor=False) for n in lv + hv]
        for pv in pvs:
            pv.wait_for_connection(5)
        n = len(lv)
        while not self.stop.wait(1.0):
            values = []
            for pv in pvs:
                v = pv.get(timeout=0.5, use_monitor=False)
                if v is None:
                    break
                values.append(v)
            if len(values) < len(pvs):
                self.unreadable += 1  # IOC frozen or restarting: this sample says nothing
                continue
            self.samples += 1
            for i in range(n):
                lv_on = int(values[i]) & 1
                volts = abs(float(values[n + i]))
                if volts > HV_OFF_V and not lv_on:
                    self.unsafe.append({"t": time.time(), "channel": i + 1, "hv": volts})


class Counter(threading.Thread):
    def __init__(self, st: Stand):
        super().__init__(daemon=True)
        self.st = st
        self.stop = threading.Event()
        self.n = 0
        self.delivered: set[int] = set()
        st.probe.bus.subscribe("soak/counter", self._seen)

    def _seen(self, msg: Any) -> None:
        self.delivered.add(int(json.loads(msg.payload)["n"]))

    def run(self) -> None:
        while not self.stop.wait(0.1):
            self.st.probe.publish("soak/counter", {"n": self.n, "ts": time.time()})
            self.n += 1


def proc_stats(pid: int) -> tuple[float, int] | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        rss = next(int(x.split()[1]) for x in status.splitlines() if x.startswith("VmRSS"))
        return rss / 1024.0, len(os.listdir(f"/proc/{pid}/fd"))
    except (OSError, StopIteration):
        return None


class Resources(threading.Thread):
    def __init__(self, st: Stand):
        super().__init__(daemon=True)
        self.st = st
        self.stop = threading.Event()
        self.lives: dict[tuple[str, int], list[tuple[float, float, int]]] = {}

    def run(self) -> None:
        while not self.stop.wait(10.0):
            for name, proc in list(self.st.procs.procs.items()):
                s = proc_stats(proc.pid)
                if s is not None:
                    self.lives.setdefault((name, proc.pid), []).append((time.time(), *s))

    def report(self, min_life: float = 600.0) -> dict[str, Any]:
        out = {}
        for (name, _pid), rows in self.lives.items():
            life = rows[-1][0] - rows[0][0]
            if life < min_life:
                continue
            # skip the first 2 minutes: imports, caches and buffers settle
            settled = [r for r in rows if r[0] - rows[0][0] >= 120] or rows
            t0, rss0, fd0 = settled[0]
            t1, rss1, fd1 = settled[-1]
            hours = max(t1 - t0, 1.0) / 3600
            out[name] = {
                "life_min": round(life / 60, 1),
                "rss_mb": [round(rss0, 1), round(rss1, 1)],
                "rss_mb_per_h": round((rss1 - rss0) / hours, 2),
                "fds": [fd0, fd1],
            }
        return out


def historian_counter(st: Stand, since: float) -> set[int]:
    from trackerdcs.storage.historian import open_historian

    h = open_historian(st.stand)
    try:
        return {int(v) for _t, v in h.raw("soak.counter,service=soak:n", since, time.time() + 60)}
    finally:
        h.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=30)
    ap.add_argument("--modules", type=int, default=40)
    ap.add_argument("--fault-every", type=float, default=60)
    ap.add_argument("--out", type=Path)
    ap.add_argument("--faults", nargs="*", help="only these faults (function names)")
    ap.add_argument("--keep", type=Path, help="run in this folder and keep it (logs)")
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # stop the stand on the way out

    faults_list = [f for f in FAULTS if not args.faults or f.__name__ in args.faults]
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="trackerdcs-soak-") as d:
        st = Stand(args.keep or Path(d), args.modules)
        try:
            st.probe.wait_json("dcs/status", lambda s: s["fsm_state"] == "LV_OFF", 60)
            st.probe.wait_json("safety/status", lambda s: s["state"] == "OK", 60)
            unsafe_w, counter, res = UnsafeWatch(st), Counter(st), Resources(st)
            watchers: list[UnsafeWatch | Counter | Resources] = [unsafe_w, counter, res]
            for w in watchers:
                w.start()
            st.power_up()
            log: list[dict[str, Any]] = []
            started = time.time()
            t_end = time.monotonic() + args.minutes * 60
            i = 0
            while time.monotonic() < t_end:
                fault = faults_list[i % len(faults_list)]
                t0 = time.monotonic()
                what = fault(st)
                log.append({"t": round(time.time(), 1), "fault": what})
                print(f"[{i}] {what}", file=sys.stderr, flush=True)
                # recover: safety OK again, then power up (retry while it refuses)
                while time.monotonic() - t0 < args.fault_every * 0.8:
                    if st.power_up():
                        break
                    time.sleep(3)
                i += 1
                time.sleep(max(0.0, args.fault_every - (time.monotonic() - t0)))
            for w in watchers:
                w.stop.set()
            time.sleep(2)
            online = {s: st.probe.latest.get(f"{s}/online") for s in st.services}
            pings = {s: bool(st.cmd(s, "ping").get("ok")) for s in st.services}
            st.cmd("recorder", "flush")
            stored = historian_counter(st, started - 60)
            lost = sorted(counter.delivered - stored)
            result = {
                "minutes": args.minutes,
                "modules": args.modules,
                "faults_injected": len(log),
                "historian": "influxdb" if st.influx else "sqlite",
                "unsafe_samples": len(unsafe_w.unsafe),
                "unsafe_first": unsafe_w.unsafe[:5],
                "unsafe_seconds": sorted({round(u["t"]) for u in unsafe_w.unsafe}),
                "ca_samples": unsafe_w.samples,
                "ca_samples_unreadable": unsafe_w.unreadable,
                "counter_published": counter.n,
                "counter_delivered": len(counter.delivered),
                "counter_stored": len(stored),
                "lost_points": len(lost),
                "lost_first": lost[:10],
                "online_at_end": {s: (m.text if m else None) for s, m in online.items()},
                "ping_at_end": pings,
                "resources": res.report(min(300.0, args.minutes * 60 / 3)),
                "faults": log,
            }
        finally:
            st.stop()
    text = json.dumps(result, indent=1)
    if args.out:
        args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
