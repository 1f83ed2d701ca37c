"""Stand-file section `deploy`: the production pod (`trackerdcs deploy ...`).

```yaml
deploy:
  pod: lyon-dcs
  bind: 0.0.0.0                 # where the published ports listen (127.0.0.1: this host only)
  ports: {mqtt: 8883, web: 8080, grafana: 3000, nodered: 1880}
  backups: {dir: /srv/dcs-backups, keep: 14}
```
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from trackerdcs.config.base import StrictModel

GRAFANA_IMAGE = "docker.io/grafana/grafana-oss:11.3.1"


class Ports(StrictModel):
    mqtt: int = Field(8883, ge=1, le=65535, description="MQTT over TLS (with tls: false, plain)")
    web: int = Field(8080, ge=1, le=65535, description="the web UI")
    grafana: int = Field(3000, ge=1, le=65535)
    nodered: int = Field(1880, ge=1, le=65535)
    influxdb: int = Field(
        8086, ge=1, le=65535, description="InfluxDB's HTTP API, published on 127.0.0.1 only"
    )


class Backups(StrictModel):
    dir: Path = Field(Path("backups"), description="archives; relative to the stand file")
    keep: int = Field(14, ge=1, description="archives kept (the oldest go first)")


class DeployConfig(StrictModel):
    enabled: bool = Field(True, description="false: `deploy` and `secrets` refuse this stand")
    pod: str = Field(
        "trackerdcs",
        pattern=r"^[a-z0-9][a-z0-9-]{0,40}$",
        description="pod name; containers are <pod>-<part>, volumes <pod>-<what>",
    )
    folder: Path = Field(
        Path("production"), description="generated files and secrets/; relative to the stand file"
    )
    bind: str = Field("0.0.0.0", description="host address the published ports listen on")
    ports: Ports = Field(default_factory=Ports)
    tls: bool = Field(True, description="MQTT over TLS with the deployment's own CA")
    influxdb_db: str = Field("dcs", description="InfluxDB database the recorder writes")
    grafana: bool = Field(True, description="run Grafana (public image, pulled at `deploy up`)")
    grafana_image: str = Field(GRAFANA_IMAGE, description="pinned")
    nodered: bool = Field(True, description="run Node-RED with the shipped control panel")
    tag: str = Field("latest", description="tag of the locally built images")
    backups: Backups = Field(default_factory=Backups)

    def where(self) -> list[str]:
        return []  # nothing runs from this section on a laptop (`trackerdcs demo`)
