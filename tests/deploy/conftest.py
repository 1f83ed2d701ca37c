"""The production pod, built and run for real with podman (PROTOCOLS.md §10): images from
a local Debian base, no registry. Grafana's public image cannot be pulled here: the pod under
test runs without it, and its dashboards' queries are run against the pod's InfluxDB."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from trackerdcs.testing.demo import demo_file
from trackerdcs.testing.mosquitto import free_port

# this machine's runc cannot raise the default rlimits: podman is told the ones it can set
# (the file scripts/test exports for its image build step)
CONTAINERS_CONF = Path(__file__).parents[2] / "scripts" / "containers.conf"
TOOLS = ("podman", "mmdebstrap", "catatonit", "runc")


def trackerdcs(*args: str, timeout: float = 600, check: bool = True,
               stdin: str | None = None) -> subprocess.CompletedProcess[str]:  # fmt: skip
    r = subprocess.run([sys.executable, "-m", "trackerdcs", *args], capture_output=True,
                       text=True, timeout=timeout, input=stdin)  # fmt: skip
    if check and r.returncode != 0:
        raise AssertionError(
            f"trackerdcs {' '.join(args)} -> {r.returncode}\n{r.stdout}\n{r.stderr}"
        )
    return r


def stand_file(folder: Path, pod: str, nodered: bool = False, julabo: str | None = None) -> Path:
    """The demo stand (simulated CAEN, Julabo, sensors, Ph2_ACF) as a production pod on free
    ports, with the files it names beside it (hardware description, recipes). `julabo`: the
    chiller's port instead of its simulator in the pod (a host's serial line through
    `serial-bridge`)."""
    data = yaml.safe_load(demo_file().read_text())
    if julabo is not None:
        data["julabo"].update(simulate=False, port=julabo, reconnect_max=2.0)
    data["bus"] = {"host": "mqtt.lab.example", "port": 8883}  # the pod's own replace these
    data["web"] = {"port": 8080}
    data["recorder"] = {"keepalive": 2.0}
    data["deploy"] = {
        "pod": pod, "bind": "127.0.0.1", "grafana": False, "nodered": nodered,
        "ports": {"mqtt": free_port(), "web": free_port(), "influxdb": free_port(),
                  "grafana": free_port(), "nodered": free_port()},
    }  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(demo_file().parent / data["ph2acf"]["hw_config"], folder)
    shutil.copytree(demo_file().parent / "recipes", folder / "recipes", dirs_exist_ok=True)
    path = folder / "stand.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture(scope="session")
def podman_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        pytest.fail(f"missing {', '.join(missing)}: ./scripts/test installs them")
    old = os.environ.get("CONTAINERS_CONF")
    os.environ["CONTAINERS_CONF"] = old or str(CONTAINERS_CONF)
    yield
    if old is None:
        os.environ.pop("CONTAINERS_CONF", None)
    else:
        os.environ["CONTAINERS_CONF"] = old


def render(q: str) -> str:
    """A dashboard query as Grafana sends it: its macros made concrete."""
    return q.replace("$timeFilter", "time > now() - 15m").replace("$__interval", "10s")
