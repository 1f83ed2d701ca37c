"""`trackerdcs serial-bridge`: share a local serial port on the network with RFC 2217.

Replaces the reference stack's `stty` + `nc -lk` recipe: the remote client (pyserial
`rfc2217://host:port`) sets baud rate, parity and handshake itself. One client at a time, and
the newest takes over: a client that vanished without closing (a restarted container, a cut
cable) would otherwise hold the line until TCP gave up on it, and the service coming back
could not reach its chiller. Keepalive probes find such a peer within a minute anyway.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import termios
import threading

import serial
import serial.rfc2217

log = logging.getLogger("trackerdcs.bridge")


class Bridge:
    def __init__(self, device: str, host: str, port: int):
        self.device = device
        self.host = host
        self.port = port
        self.stop = threading.Event()
        # the client being served: its socket (closed to make way) and its thread
        self._active: tuple[socket.socket, threading.Thread] | None = None

    def _pump_serial(
        self, ser: serial.Serial, sock: socket.socket, pm: serial.rfc2217.PortManager
    ) -> None:
        while not self.stop.is_set() and ser.is_open:
            try:
                data = ser.read(ser.in_waiting or 1)
                if data:
                    sock.sendall(b"".join(pm.escape(data)))
                pm.check_modem_lines()
            except (OSError, TypeError, serial.SerialException):
                break  # TypeError: pyserial's read() on a port closed by the other thread

    def _client(self, sock: socket.socket, addr: tuple[str, int]) -> None:
        log.info("client %s:%d connected", *addr)
        ser = (
            _Port(self.device, timeout=0.1)
            if self.device.startswith("/")
            else (serial.serial_for_url(self.device, timeout=0.1))
        )
        reader: threading.Thread | None = None
        try:
            ser.dtr = True
            ser.rts = True
            pm = serial.rfc2217.PortManager(ser, _SocketWriter(sock))
            reader = threading.Thread(target=self._pump_serial, args=(ser, sock, pm), daemon=True)
            reader.start()
            sock.settimeout(0.5)
            while not self.stop.is_set():
                try:
                    data = sock.recv(1024)
                except TimeoutError:
                    continue
                if not data:
                    break
                ser.write(b"".join(pm.filter(data)))
        except OSError as exc:
            log.info("client %s:%d: %s", addr[0], addr[1], exc)
        finally:
            ser.close()
            sock.close()
            if reader is not None:
                reader.join(2)
            log.info("client %s:%d disconnected", *addr)

    def _serve_one(self, sock: socket.socket, addr: tuple[str, int]) -> None:
        try:
            self._client(sock, addr)
        except Exception:
            # a client vanishing during negotiation must not take the bridge down
            log.exception("client %s:%d failed", *addr)
            sock.close()

    def _make_way(self) -> None:
        """One client at a time (a serial line has one master): the one being served goes."""
        if self._active is None:
            return
        old, thread = self._active
        self._active = None
        if thread.is_alive():
            log.info("a new client takes over the line")
            with contextlib.suppress(OSError):
                old.shutdown(socket.SHUT_RDWR)
            thread.join(5)

    def serve(self) -> None:
        srv = socket.create_server((self.host, self.port))
        srv.settimeout(0.5)
        log.info("RFC 2217 bridge: %s on %s:%d", self.device, self.host, self.port)
        while not self.stop.is_set():
            try:
                sock, addr = srv.accept()
            except TimeoutError:
                continue
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            _keepalive(sock)
            self._make_way()
            thread = threading.Thread(target=self._serve_one, args=(sock, addr), daemon=True,
                                      name=f"client {addr[0]}:{addr[1]}")  # fmt: skip
            self._active = (sock, thread)
            thread.start()
        self._make_way()
        srv.close()


def _keepalive(sock: socket.socket, idle: int = 20, interval: int = 5, count: int = 4) -> None:
    """A peer gone silent is dropped after idle + interval * count seconds."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    for name, value in (("TCP_KEEPIDLE", idle), ("TCP_KEEPINTVL", interval),
                        ("TCP_KEEPCNT", count)):  # fmt: skip
        if hasattr(socket, name):
            sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, name), value)


class _Port(serial.Serial):
    """A local port whose modem lines may not exist (a pty, some USB adapters): the data
    path must keep working, so modem-line ioctls that fail count as 'line not present'."""

    def _reconfigure_port(self, force_update: bool = False) -> None:
        try:
            super()._reconfigure_port(force_update)
        except termios.error as exc:
            # A pty carries bytes whatever its line settings, and some kernels reject a few
            # combinations on ptys (CS7 without CRTSCTS): accept there. A real UART that
            # rejects a setting is reported to the client (PortManager expects ValueError).
            if self.fd is not None and os.ttyname(self.fd).startswith("/dev/pts/"):
                log.debug("pty ignores line setting: %s", exc)
                return
            raise ValueError(f"line setting rejected by {self.port}: {exc}") from exc

    def _update_dtr_state(self) -> None:
        try:
            super()._update_dtr_state()
        except OSError:
            pass

    def _update_rts_state(self) -> None:
        try:
            super()._update_rts_state()
        except OSError:
            pass

    def _line(self, name: str) -> bool:
        try:
            return bool(getattr(super(), name))
        except OSError:
            return False

    @property
    def cts(self) -> bool:
        return self._line("cts")

    @property
    def dsr(self) -> bool:
        return self._line("dsr")

    @property
    def ri(self) -> bool:
        return self._line("ri")

    @property
    def cd(self) -> bool:
        return self._line("cd")


class _SocketWriter:
    def __init__(self, sock: socket.socket):
        self.sock = sock

    def write(self, data: bytes) -> None:
        self.sock.sendall(data)
