"""Stand-file section `bus`: how every service reaches the MQTT broker."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field

from trackerdcs.config.base import StrictModel
from trackerdcs.config.secrets import read_secret


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
    accounts_dir: Path | None = Field(
        None, description="per-service MQTT accounts (`trackerdcs deploy mqtt-accounts`): each "
        "service logs in as its own name with the password in `<dir>/<name>.password`, and "
        "the broker's ACL lets it write only its own topics; `username`/`password_file` are "
        "then the account of the command-line tools")  # fmt: skip

    def account(self, name: str, base: Path) -> BusConfig:
        """The settings service `name` connects with (`base`: the stand file's folder)."""
        if self.accounts_dir is None:
            return self
        folder = self.accounts_dir if self.accounts_dir.is_absolute() else base / self.accounts_dir
        return self.model_copy(update={"username": name, "password_env": None,
                                       "password_file": folder / f"{name}.password"})  # fmt: skip

    def password(self) -> str | None:
        if self.password_env and os.environ.get(self.password_env):
            return os.environ[self.password_env]
        if self.password_file:
            return read_secret(Path(self.password_file))
        return os.environ.get("TRACKERDCS_MQTT_PASSWORD") or None
