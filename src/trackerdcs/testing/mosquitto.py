"""A real Mosquitto on a free loopback port, with authentication, that tests can restart."""

from __future__ import annotations

import secrets
import shutil
import socket
import subprocess
import time
from pathlib import Path

from trackerdcs.config.bus import BusConfig
from trackerdcs.testing.processes import stop_process


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(host: str, port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.02)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout} s")


class Mosquitto:
    """Users: `trackerdcs` (password in `password_file`); anonymous clients are refused."""

    username = "trackerdcs"

    def __init__(self, workdir: Path, port: int | None = None, tls: bool = False,
                 persistence: bool = False, accounts: Path | None = None):  # fmt: skip
        """`accounts`: a folder from `trackerdcs deploy mqtt-accounts` (per-service accounts
        and their ACL); clients here then log in as its `admin`."""
        if not shutil.which("mosquitto"):
            raise RuntimeError("mosquitto is not installed (apt-get install mosquitto)")
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self.accounts = accounts
        acl_lines: list[str] = []
        if accounts is not None:
            self.username = "admin"
            self.password_file = accounts / "admin.password"
            self.password = self.password_file.read_text().strip()
            passwd = accounts / "passwd"
            acl_lines = [f"acl_file {accounts / 'acl'}"]
        else:
            # a fresh password each time: none is shipped in the package
            self.password = secrets.token_urlsafe(16)
            self.password_file = self.dir / "password.txt"
            self.password_file.touch(mode=0o600)
            self.password_file.write_text(self.password)
            passwd = self.dir / "passwd"
            passwd.write_text("")
            subprocess.run(
                ["mosquitto_passwd", "-b", str(passwd), self.username, self.password],
                check=True,
                capture_output=True,
                timeout=10,
            )
        self.tls = tls
        tls_lines: list[str] = []
        if tls:
            self.ca_file = self._self_signed_cert()
            tls_lines = [
                f"cafile {self.ca_file}",
                f"certfile {self.ca_file}",
                f"keyfile {self.dir / 'server.key'}",
            ]
        self.conf = self.dir / "mosquitto.conf"
        self.conf.write_text(
            "\n".join(
                [
                    "user root",
                    # on: sessions and queued messages survive a broker restart (production)
                    f"persistence {'true' if persistence else 'false'}",
                    f"persistence_location {self.dir}/",
                    f"listener {self.port} {self.host}",
                    *tls_lines,
                    "allow_anonymous false",
                    f"password_file {passwd}",
                    *acl_lines,
                    # a subscriber that must see everything (the recorder) may not lose messages
                    "max_queued_messages 0",
                    "max_inflight_messages 100",
                    # interlock messages are small: send them at once (no Nagle delay)
                    "set_tcp_nodelay true",
                    f"log_dest file {self.dir / 'mosquitto.log'}",
                    "",
                ]
            )
        )
        self.proc: subprocess.Popen[bytes] | None = None

    def _self_signed_cert(self) -> Path:
        cert = self.dir / "server.crt"
        subprocess.run(
            [
                "openssl",
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                "-keyout",
                str(self.dir / "server.key"),
                "-out",
                str(cert),
                "-subj",
                f"/CN={self.host}",
                "-addext",
                f"subjectAltName=IP:{self.host}",
            ],
            check=True,
            capture_output=True,
            timeout=30,
        )
        return cert

    def start(self) -> Mosquitto:
        self.proc = subprocess.Popen(
            ["mosquitto", "-c", str(self.conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_port(self.host, self.port)
        return self

    def stop(self) -> None:
        stop_process(self.proc, 5)
        self.proc = None

    def restart(self, down: float = 0.0) -> None:
        self.stop()
        time.sleep(down)
        self.start()

    def bus_config(self) -> BusConfig:
        from trackerdcs.config.bus import TLSConfig

        return BusConfig(
            tls=TLSConfig(ca_file=self.ca_file) if self.tls else None,
            host=self.host,
            port=self.port,
            username=self.username,
            password_file=self.password_file,
            keepalive=2,
            reconnect_min=0.5,
            reconnect_max=2,
            accounts_dir=self.accounts,
        )

    def bus_yaml(self) -> str:
        """The `bus:` section for a stand file pointing here."""
        return (
            "bus:\n"
            f"  host: {self.host}\n"
            f"  port: {self.port}\n"
            f"  username: {self.username}\n"
            f"  password_file: {self.password_file}\n"
            "  keepalive: 2\n"
            "  reconnect_min: 0.5\n"
            "  reconnect_max: 2\n" + (f"  accounts_dir: {self.accounts}\n" if self.accounts else "")
        )
