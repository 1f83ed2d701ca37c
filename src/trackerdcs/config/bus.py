"""Stand-file section `bus`: how every service reaches the MQTT broker."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field

from trackerdcs.config.base import StrictModel


class TLSConfig(StrictModel):
    ca_file: Path | None = None
    certfile: Path | None = None
    keyfile: Path | None = None
    insecure: bool = Field(False, description="skip host name check (self-signed test certs)")


class BusConfig(StrictModel):
    host: str = "127.0.0.1"
    port: int = Field(1883, ge=1, le=65535)
    username: str | None = None
    password_file: Path | None = Field(None, description="file holding the password only")
    password_env: str | None = Field(None, description="environment variable with the password")
    tls: TLSConfig | None = None
    keepalive: int = Field(5, ge=1, le=600, description="MQTT keepalive, s")
    reconnect_min: float = Field(0.5, gt=0)
    reconnect_max: float = Field(10.0, gt=0)
    embedded: bool = Field(False, description="run the pure-Python broker (demo only)")

    def password(self) -> str | None:
        if self.password_env and os.environ.get(self.password_env):
            return os.environ[self.password_env]
        if self.password_file:
            return Path(self.password_file).read_text(encoding="utf-8").strip()
        return os.environ.get("TRACKERDCS_MQTT_PASSWORD") or None
