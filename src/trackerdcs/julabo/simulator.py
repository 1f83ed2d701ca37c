"""A simulated Julabo circulator speaking the RS232 protocol (PROTOCOLS.md §3).

Served on a real pty (the driver opens it like /dev/ttyUSB0) or on TCP. The bath follows
the active setpoint with a first-order lag, limited by the cooling/heating power; when
stopped it drifts back to ambient. Answers come after a response delay, like the hardware.

Simulator-only commands (not Julabo's) for tests and demos:
  SIM_ALARM <code>   raise an alarm (negative STATUS code); SIM_ALARM 0 clears it
  SIM_MANUAL <0|1>   front panel switched to MANUAL (1) or back to REMOTE (0)
  SIM_GARBLE <n>     the next n answers are line noise (a bad cable, a wrong baud rate)
  SIM_MUTE <0|1>     stop answering (1) or answer again (0), the connection staying open
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

from trackerdcs.julabo.config import JulaboConfig

log = logging.getLogger("trackerdcs.sim.julabo")

STATUS_TEXT = {0: "MANUAL STOP", 1: "MANUAL START", 2: "REMOTE STOP", 3: "REMOTE START"}


class Bath:
    def __init__(self, cfg: JulaboConfig):
        self.cfg = cfg
        self.sim = cfg.sim
        self.temp = self.sim.start_temp
        self.ext_temp = self.sim.start_temp
        self.setpoints = [20.0, 15.0, 10.0]
        self.selected = 0
        self.external = False
        self.running = self.sim.running
        self.manual = False
        self.alarm = 0
        self.mute = False
        self.garble = 0
        self.pressure = 1
        self.power = 0.0
        self._last = time.monotonic()
        self._lock = threading.Lock()

    def step(self) -> None:
        now = time.monotonic()
        dt = (now - self._last) * self.sim.time_scale
        self._last = now
        if dt <= 0:
            return
        s = self.sim
        if self.running and self.alarm == 0:
            want = (self.setpoints[self.selected] - self.temp) / s.tau  # K/s
            rate = max(-s.max_cooling / 60, min(s.max_heating / 60, want))
            self.power = round(
                100 * rate / (s.max_cooling / 60 if rate < 0 else s.max_heating / 60), 1
            )
        else:
            rate = (s.ambient - self.temp) / (4 * s.tau)
            self.power = 0.0
        self.temp += rate * dt
        self.ext_temp += (self.temp - self.ext_temp) * min(1.0, dt / 60)

    def status_code(self) -> int:
        if self.alarm:
            return self.alarm
        return (0 if self.manual else 2) + (1 if self.running else 0)

    def handle(self, line: str) -> str | None:
        """One command -> its answer (None: the unit answers nothing, as for OUT_)."""
        with self._lock:
            self.step()
            parts = line.strip().split()
            if not parts:
                return None
            cmd, args = parts[0].upper(), parts[1:]
            try:
                if cmd == "SIM_MUTE":
                    self.mute = args[0] == "1"
                    return None
                if cmd == "SIM_GARBLE":
                    self.garble = int(args[0])
                    return None
                if self.mute:
                    return None
                answer = self._dispatch(cmd, args)
            except (ValueError, IndexError):
                return None
            if answer is not None and self.garble > 0:
                self.garble -= 1
                return "\x15#?~\x7f"
            return answer

    def _dispatch(self, cmd: str, args: list[str]) -> str | None:
        if cmd == "VERSION":
            return "JULABO FP50-HE SIMULATED VER 1.0"
        if cmd == "STATUS":
            code = self.status_code()
            text = (
                self.cfg.alarm_codes.get(code, "ALARM").upper() if code < 0 else STATUS_TEXT[code]
            )
            return f"{code:03d} {text}" if code < 0 else f"{code:02d} {text}"
        reads = {
            "IN_PV_00": lambda: f"{self.temp:.2f}",
            "IN_PV_01": lambda: f"{self.power:.0f}",
            "IN_PV_02": lambda: f"{self.ext_temp:.2f}",
            "IN_SP_00": lambda: f"{self.setpoints[0]:.2f}",
            "IN_SP_01": lambda: f"{self.setpoints[1]:.2f}",
            "IN_SP_02": lambda: f"{self.setpoints[2]:.2f}",
            "IN_SP_07": lambda: str(self.pressure),
            "IN_MODE_01": lambda: str(self.selected),
            "IN_MODE_04": lambda: "1" if self.external else "0",
            "IN_MODE_05": lambda: "1" if self.running else "0",
        }
        if cmd in reads:
            return reads[cmd]()
        if cmd == "SIM_ALARM":
            self.alarm = int(args[0])
            if self.alarm:
                self.running = False
            return None
        if cmd == "SIM_MANUAL":
            self.manual = args[0] == "1"
            return None
        if self.manual or self.alarm:
            return None  # remote writes are ignored outside REMOTE mode
        if cmd in ("OUT_SP_00", "OUT_SP_01", "OUT_SP_02"):
            self.setpoints[int(cmd[-1])] = float(args[0])
        elif cmd == "OUT_SP_07":
            self.pressure = int(float(args[0]))
        elif cmd == "OUT_MODE_01":
            n = int(args[0])
            if 0 <= n <= 2:
                self.selected = n
        elif cmd == "OUT_MODE_04":
            self.external = args[0] == "1"
        elif cmd == "OUT_MODE_05":
            self.running = args[0] == "1"
        return None


def _serve_stream(
    bath: Bath, read: Callable[[], bytes], write: Callable[[bytes], object], delay: float
) -> None:
    buf = b""
    while True:
        chunk = read()
        if not chunk:
            return
        buf += chunk
        while b"\r" in buf:
            raw, buf = buf.split(b"\r", 1)
            line = bytes(b & 0x7F for b in raw).decode("ascii", "replace").strip("\n ")
            answer = bath.handle(line)
            if answer is not None:
                time.sleep(delay)
                write(answer.encode("ascii") + b"\r\n")


def serve_tcp(cfg: JulaboConfig, host: str, port: int, stop: threading.Event | None = None) -> None:
    bath = Bath(cfg)
    srv = socket.create_server((host, port), reuse_port=False)
    srv.settimeout(0.5)
    log.info("simulated Julabo on tcp://%s:%d", host, port)
    stop = stop or threading.Event()
    while not stop.is_set():
        try:
            conn, _ = srv.accept()
        except TimeoutError:
            continue
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def client(c: socket.socket = conn) -> None:
            with c, contextlib.suppress(OSError):
                _serve_stream(bath, lambda: c.recv(256), c.sendall, cfg.sim.response_delay)

        threading.Thread(target=client, daemon=True).start()
    srv.close()


def serve_pty(cfg: JulaboConfig, link: str) -> None:
    """A pty whose slave end is symlinked at `link` (like /dev/ttyUSB0)."""
    import tty

    bath = Bath(cfg)
    master, slave = os.openpty()
    tty.setraw(slave)
    name = os.ttyname(slave)
    path = Path(link)
    if path.is_symlink() or path.exists():
        path.unlink()
    path.symlink_to(name)
    log.info("simulated Julabo on %s -> %s", link, name)
    try:
        _serve_stream(bath, lambda: os.read(master, 256), lambda b: os.write(master, b),
                      cfg.sim.response_delay)  # fmt: skip
    except OSError:
        pass
    finally:
        if path.is_symlink():
            path.unlink()
