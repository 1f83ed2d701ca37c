"""The simulated switchbox (`trackerdcs sim switchbox`): a pty symlinked at the stand's
`port` (the driver opens it as it would /dev/ttyUSB1) answering the box's lines, or, with
`port: socket://HOST:PORT`, the same lines over TCP (a pty cannot be shared between the
containers of a pod). Every relay starts off, as after a power cycle. `SIM:MUTE 1|0` makes
it stop/resume answering.
"""

from __future__ import annotations

import logging
import os
import select
import socket
import threading
import tty
from pathlib import Path

from trackerdcs.config.model import Stand
from trackerdcs.switchbox import protocol as p
from trackerdcs.switchbox.config import SwitchboxConfig

log = logging.getLogger("trackerdcs.sim.switchbox")


class Box:
    def __init__(self, relays: int):
        self.master = False
        self.channels = dict.fromkeys(range(1, relays + 1), False)
        self.muted = False

    def handle(self, line: str) -> str | None:
        text = line.strip()
        if text.upper().startswith("SIM:MUTE"):
            self.muted = text.split()[-1] == "1"
            return None
        if self.muted or not text:
            return None
        if text.upper() == p.STATUS:
            return p.format_status(self.master, self.channels)
        try:
            target, on = p.parse_command(text)
        except ValueError:
            return f"ERR unknown command {text}"
        if target == "LV":
            self.master = on
        elif int(target) in self.channels:
            self.channels[int(target)] = on
        else:
            return f"ERR no channel {target}"
        log.info("%s", text)
        return "OK"


class SwitchboxSimulator:
    def __init__(self, stand: Stand):
        cfg: SwitchboxConfig | None = stand.section("switchbox")
        assert cfg is not None
        self.cfg = cfg
        self.box = Box(cfg.relays)
        self.stop = threading.Event()

    def _answer(self, buf: bytes) -> tuple[bytes, bytes]:
        """(what is left of buf, the answers to its whole lines)."""
        out = b""
        while b"\n" in buf:
            raw, buf = buf.split(b"\n", 1)
            answer = self.box.handle(raw.decode("ascii", "replace"))
            if answer is not None:
                out += f"{answer}\n".encode()
        return buf, out

    def run(self) -> None:
        if self.cfg.port.startswith("socket://"):
            self._run_tcp()
        else:
            self._run_pty()

    def _run_tcp(self) -> None:
        host, _, port = self.cfg.port.removeprefix("socket://").rpartition(":")
        srv = socket.create_server((host or "127.0.0.1", int(port)))
        srv.settimeout(0.2)
        log.info("simulated switchbox on tcp %s", self.cfg.port)
        try:
            while not self.stop.is_set():
                try:
                    conn, _ = srv.accept()
                except TimeoutError:
                    continue
                with conn:  # one client at a time, as on a serial line
                    conn.settimeout(0.2)
                    buf = b""
                    while not self.stop.is_set():
                        try:
                            data = conn.recv(256)
                        except TimeoutError:
                            continue
                        except OSError:
                            break
                        if not data:
                            break
                        buf, out = self._answer(buf + data)
                        if out:
                            conn.sendall(out)
        finally:
            srv.close()

    def _run_pty(self) -> None:
        master, slave = os.openpty()
        tty.setraw(slave)
        path = Path(self.cfg.port)
        if path.is_symlink() or path.exists():
            path.unlink()
        path.symlink_to(os.ttyname(slave))
        log.info("simulated switchbox on %s -> %s", path, os.ttyname(slave))
        buf = b""
        try:
            while not self.stop.is_set():
                ready, _, _ = select.select([master], [], [], 0.2)
                if not ready:
                    continue
                buf, out = self._answer(buf + os.read(master, 256))
                if out:
                    os.write(master, out)
        finally:
            if path.is_symlink():
                path.unlink()
            os.close(master)
            os.close(slave)
