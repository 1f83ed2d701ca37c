"""A real InfluxDB 1.x (Debian's `influxd`) on free ports with authentication, for tests
and benchmarks. `stop()` / `start()` keep the data, as a database restart would."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import time
from pathlib import Path

import httpx

from trackerdcs.testing.mosquitto import free_port
from trackerdcs.testing.processes import stop_process

CONFIG = """reporting-disabled = true
bind-address = "127.0.0.1:{rpc}"
[meta]
  dir = "{d}/meta"
[data]
  dir = "{d}/data"
  wal-dir = "{d}/wal"
  query-log-enabled = false
[http]
  bind-address = "127.0.0.1:{port}"
  auth-enabled = true
  log-enabled = false
[monitor]
  store-enabled = false
[continuous_queries]
  enabled = false
"""


class Influx:
    username = "trackerdcs"

    def __init__(self, directory: Path):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.password = secrets.token_urlsafe(16)  # a fresh one each time: none is shipped
        self.port = free_port()
        self.rpc = free_port()  # `influxd backup|restore -host 127.0.0.1:<rpc>`
        self.config = self.dir / "influxdb.conf"
        self.config.write_text(CONFIG.format(rpc=self.rpc, d=self.dir, port=self.port))
        self.proc: subprocess.Popen[bytes] | None = None
        self._user_created = False

    @staticmethod
    def available() -> bool:
        return shutil.which("influxd") is not None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> Influx:
        with open(self.dir / "influxd.log", "ab") as log:
            self.proc = subprocess.Popen(["influxd", "-config", str(self.config)],
                                         stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
        deadline = time.monotonic() + timeout
        while True:
            try:
                if httpx.get(f"{self.url}/ping", timeout=1).status_code == 204:
                    break
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"influxd did not start; see {self.dir / 'influxd.log'}")
            time.sleep(0.1)
        if not self._user_created:
            # with auth on and no user yet, InfluxDB accepts exactly this one statement
            q = f"CREATE USER {self.username} WITH PASSWORD '{self.password}' WITH ALL PRIVILEGES"
            httpx.post(f"{self.url}/query", params={"q": q}, timeout=10).raise_for_status()
            self._user_created = True
        return self

    def stop(self) -> None:
        stop_process(self.proc, 20)
        self.proc = None

    @property
    def password_env(self) -> str:
        """One variable per instance: two InfluxDBs in one test process (the storage and
        faults suites on one xdist worker) must not overwrite each other's password."""
        return f"TRACKERDCS_TEST_INFLUX_PASSWORD_{self.port}"

    def export_password(self) -> None:
        """Put the password where `storage_yaml`'s stand files tell services to read it."""
        os.environ[self.password_env] = self.password

    def storage_yaml(self, database: str) -> str:
        url = f"influxdb://{self.username}@127.0.0.1:{self.port}/{database}"
        env = self.password_env
        return f"storage:\n  historian: {url}\n  influx_password_env: {env}\n"
