"""The compose file is the kube pod again, for Docker Compose v2 (which cannot run here: no
Docker engine) — so it is checked against the kube YAML that the pod test runs: the same
containers, images, commands, read-only files, named volumes, published ports and health
checks, and every service in the first one's network namespace (as in the pod: the broker
and InfluxDB at 127.0.0.1). Debian 12's podman-compose 1.0.3 cannot run it (it puts every
container on its own network as well, which podman refuses with a shared namespace): on
podman, `deploy up` is the way."""

from __future__ import annotations

from pathlib import Path

from tests.deploy.conftest import stand_file
from trackerdcs.config import load_stand
from trackerdcs.deploy import pod


def test_the_compose_file_is_the_pod_again(tmp_path: Path) -> None:
    stand = load_stand(stand_file(tmp_path, "cmp", nodered=True))
    out = pod.folder(stand)
    kube = pod.kube(stand, out)
    comp = pod.compose(stand, out)
    vols = {v["name"]: v for v in kube["spec"]["volumes"]}
    specs = kube["spec"]["containers"]
    assert [c["name"] for c in specs] == list(comp["services"])
    first = specs[0]["name"]
    published = set()
    for c in specs:
        svc = comp["services"][c["name"]]
        assert svc["image"] == c["image"] and svc.get("command") == c.get("command")
        assert svc["restart"] == "always" and kube["spec"]["restartPolicy"] == "Always"
        mounts = set()
        for m in c["volumeMounts"]:
            v = vols[m["name"]]
            if "hostPath" in v:
                mounts.add(f"{v['hostPath']['path']}:{m['mountPath']}:ro")
                assert m["readOnly"]
            else:
                mounts.add(f"{v['persistentVolumeClaim']['claimName']}:{m['mountPath']}")
        assert set(svc["volumes"]) == mounts, c["name"]
        if "livenessProbe" in c:
            assert svc["healthcheck"]["test"] == ["CMD", *c["livenessProbe"]["exec"]["command"]]
        published |= {f"{p['hostIP']}:{p['hostPort']}:{p['containerPort']}"
                      for p in c.get("ports", [])}  # fmt: skip
        if c["name"] != first:
            assert svc["network_mode"] == f"service:{first}" and "ports" not in svc
    assert set(comp["services"][first]["ports"]) == published
    assert {p.split(":")[0] for p in published} == {"127.0.0.1"}  # bind: 127.0.0.1
    named = {v["persistentVolumeClaim"]["claimName"] for v in vols.values()
             if "persistentVolumeClaim" in v}  # fmt: skip
    assert set(comp["volumes"]) == named
    assert {f"cmp-{p}" for p in ("state", "influxdb", "mosquitto", "nodered")} <= named


def test_each_container_gets_only_the_secrets_it_needs(tmp_path: Path) -> None:
    stand = load_stand(stand_file(tmp_path, "cmp", nodered=True))
    mounts = {c.name: set(c.files) for c in pod.containers(stand, pod.folder(stand))}
    influx = "/run/secrets/trackerdcs/influx/trackerdcs.password"
    assert {n for n, files in mounts.items() if influx in files} == {
        "recorder",
        "web",
        "runs",
        "influxdb",
    }
    for name, files in mounts.items():
        mqtt = {f for f in files if f.startswith("/run/secrets/trackerdcs/mqtt/")
                and f.endswith(".password")}  # fmt: skip
        assert len(mqtt) <= 1, (name, mqtt)  # its own account, nobody else's
        assert not [f for f in files if f.endswith(("ca.key", "server.key"))] or name == "mosquitto"
