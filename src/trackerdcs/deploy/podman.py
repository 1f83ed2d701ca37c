"""`trackerdcs deploy up|down|status`: the pod through `podman play kube`."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from trackerdcs.config.model import StandBase
from trackerdcs.deploy.pod import deploy_config, folder


class PodError(RuntimeError):
    pass


def podman(*args: str, timeout: float = 300) -> str:
    try:
        r = subprocess.run(["podman", *args], capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError as exc:
        raise PodError("podman not found (apt-get install podman runc uidmap)") from exc
    except subprocess.TimeoutExpired as exc:
        raise PodError(f"podman {args[0]} took more than {timeout:.0f} s") from exc
    if r.returncode != 0:
        raise PodError(f"podman {' '.join(args[:2])}: {r.stderr.strip()[-1500:]}")
    return r.stdout


def up(stand: StandBase) -> None:
    podman("play", "kube", "--replace", str(folder(stand) / "kube.yaml"))


def down(stand: StandBase) -> None:
    """The pod goes; its named volumes (the data) stay."""
    podman("play", "kube", "--down", str(folder(stand) / "kube.yaml"))


def containers(stand: StandBase) -> list[dict[str, str]]:
    pod = deploy_config(stand).pod
    out = podman("ps", "-a", "--filter", f"pod={pod}", "--format", "json")
    rows = []
    for c in json.loads(out or "[]"):
        name = (c.get("Names") or ["?"])[0]
        if name.endswith("-infra"):
            continue
        rows.append({"name": name, "state": c.get("State", ""), "status": c.get("Status", "")})
    return sorted(rows, key=lambda r: r["name"])


def status_text(stand: StandBase) -> str:
    rows = containers(stand)
    if not rows:
        return f"pod {deploy_config(stand).pod}: not running"
    return "\n".join(f"{r['name']:<32} {r['state']:<10} {r['status']}" for r in rows)


# every piece of the pod's state (pod.kube names the volumes `<pod>-<part>`)
VOLUMES = ("state", "influxdb", "mosquitto", "grafana", "nodered")


def _mountpoint(name: str) -> Path:
    return Path(podman("volume", "inspect", "--format", "{{.Mountpoint}}", name).strip())


def volume(stand: StandBase, part: str) -> Path | None:
    """Where the volume `<pod>-<part>` lives on this host; None if it does not exist."""
    try:
        return _mountpoint(f"{deploy_config(stand).pod}-{part}")
    except PodError:
        return None


def new_volume(stand: StandBase, part: str) -> Path:
    """The volume `<pod>-<part>`, made if missing (a restore into a new deployment)."""
    found = volume(stand, part)
    if found is not None:
        return found
    name = f"{deploy_config(stand).pod}-{part}"
    podman("volume", "create", name)
    return _mountpoint(name)


def running(stand: StandBase) -> bool:
    return any(r["state"] == "running" for r in containers(stand))
