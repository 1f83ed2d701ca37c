"""`trackerdcs deploy kube`: the stand as one podman pod, written as files.

The deployment folder (`deploy.folder`, beside the stand file) holds:

    stand.yaml      the stand as the containers see it (broker, InfluxDB, paths in the pod)
    host.yaml       the same stand for this host's command-line tools (operator account)
    mosquitto.conf  kube.yaml  compose.yaml  grafana/  nodered/  secrets/

Every container of the pod shares its network: the broker is `127.0.0.1:8883` (TLS, the
deployment's CA) for every service, InfluxDB `127.0.0.1:8086`. Only the published ports
reach the host. State lives in named volumes `<pod>-<what>`; secrets are mounted read-only,
one file at a time, into the containers that need them. Files the stand names beside itself
(Ph2_ACF's hardware description and folder, the recipes) are mounted read-only at their
host paths, which both stand files then name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from trackerdcs.config.model import StandBase
from trackerdcs.core import peers
from trackerdcs.core.registry import HISTORY, HostFile, load
from trackerdcs.deploy.config import DeployConfig
from trackerdcs.deploy.images import ref as image
from trackerdcs.deploy.mqtt_accounts import ADMIN, NODERED, OPERATOR

# inside the pod (the published host ports are `deploy.ports`)
MQTT_TLS, MQTT_PLAIN, WEB, INFLUX, GRAFANA, NODERED_PORT = 8883, 1883, 8080, 8086, 3000, 1880
SECRETS = "/run/secrets/trackerdcs"
ETC = "/etc/trackerdcs"
STATE = "/var/lib/trackerdcs"
STAND_IN_POD = f"{ETC}/stand.yaml"


def deploy_config(stand: StandBase) -> DeployConfig:
    return stand.section("deploy") or DeployConfig()


def folder(stand: StandBase) -> Path:
    return stand.path(deploy_config(stand).folder).resolve()


def _raw(stand: StandBase) -> dict[str, Any]:
    if stand.source is None:
        raise ValueError("the stand must come from a file")
    data = yaml.safe_load(stand.source.read_text()) or {}
    data.pop("deploy", None)
    return dict(data)


def host_files(stand: StandBase) -> dict[str, list[HostFile]]:
    """Per section, the files it names that the stand's processes read on the host (Ph2_ACF's
    hardware description and folder, the recipes). The pod mounts them read-only at the same
    path, so that a path said to Ph2_ACF's RunController means the same file on both sides.
    Raises NotInPod with what to change when a section cannot run in a container."""
    found = {}
    for fam, section in peers.sections(stand):
        if fam.host_files and (files := load(fam.host_files)(section, stand)):
            found[fam.name] = files
    return found


def _absolute(stand: StandBase, data: dict[str, Any]) -> None:
    for name, files in host_files(stand).items():
        data[name] = {**(data.get(name) or {}), **{f.key: str(f.path) for f in files}}


def _influx_url(user: str, host: str, port: int, db: str) -> str:
    return f"influxdb://{user}@{host}:{port}/{db}"


def pod_stand(stand: StandBase) -> dict[str, Any]:
    """The stand file the containers read: the broker, InfluxDB and folders of the pod."""
    d = deploy_config(stand)
    data = _raw(stand)
    data["state_dir"] = STATE
    _absolute(stand, data)
    bus = {k: v for k, v in (data.get("bus") or {}).items() if k in ("keepalive",)}
    bus.update(host="127.0.0.1", port=MQTT_TLS if d.tls else MQTT_PLAIN, username=ADMIN,
               password_file=f"{SECRETS}/mqtt/{ADMIN}.password",
               accounts_dir=f"{SECRETS}/mqtt")  # fmt: skip
    if d.tls:
        bus["tls"] = {"ca_file": f"{SECRETS}/tls/ca.crt"}
    data["bus"] = bus
    data["storage"] = {
        "historian": _influx_url("trackerdcs", "127.0.0.1", INFLUX, d.influxdb_db),
        "influx_password_file": f"{SECRETS}/influx/trackerdcs.password",
    }
    if "web" in data:
        web = dict(data["web"] or {})
        web.update(host="0.0.0.0", port=WEB, users_file=f"{SECRETS}/users/users.yaml",
                   demo_users=False)  # fmt: skip
        data["web"] = web
    return data


def host_stand(stand: StandBase, out: Path) -> dict[str, Any]:
    """The stand for this host's tools: `trackerdcs cmd|status|query|users -c host.yaml`
    reach the pod's broker as `operator`, its InfluxDB as `grafana` (read only)."""
    d = deploy_config(stand)
    data = _raw(stand)
    data["state_dir"] = str(out / "host-state")
    _absolute(stand, data)
    host = "127.0.0.1" if d.bind in ("0.0.0.0", "::") else d.bind
    bus: dict[str, Any] = {
        "host": host,
        "port": d.ports.mqtt,
        "username": OPERATOR,
        "password_file": str(out / "secrets" / "mqtt" / "operator.password"),
    }
    if d.tls:
        bus["tls"] = {"ca_file": str(out / "secrets" / "tls" / "ca.crt")}
    data["bus"] = bus
    data["storage"] = {
        "historian": _influx_url("grafana", "127.0.0.1", d.ports.influxdb, d.influxdb_db),
        "influx_password_file": str(out / "secrets" / "influx" / "grafana.password"),
    }
    if "web" in data:
        web = dict(data["web"] or {})
        web["users_file"] = str(out / "secrets" / "users" / "users.yaml")
        data["web"] = web
    return data


def mosquitto_conf(d: DeployConfig) -> str:
    lines = [
        "# generated by `trackerdcs deploy kube`",
        "# root: it reads its 0600 key and password files (mounted read-only)",
        "user root",
        "per_listener_settings false",
        "allow_anonymous false",
        f"password_file {SECRETS}/mqtt/passwd",
        f"acl_file {SECRETS}/mqtt/acl",
        "persistence true",
        "persistence_location /var/lib/mosquitto/",
        "autosave_interval 60",
        "# a durable subscriber (the recorder) gets everything",
        "max_queued_messages 0",
        "max_inflight_messages 100",
        "log_dest stdout",
        "log_type error",
        "log_type warning",
        "log_type notice",
        "connection_messages true",
    ]
    if d.tls:
        lines += [
            f"listener {MQTT_TLS}",
            f"cafile {SECRETS}/tls/ca.crt",
            f"certfile {SECRETS}/tls/server.crt",
            f"keyfile {SECRETS}/tls/server.key",
            "tls_version tlsv1.2",
        ]
    else:
        lines.append(f"listener {MQTT_PLAIN}")
    return "\n".join(lines) + "\n"


@dataclass
class Container:
    name: str
    image: str
    command: list[str]
    files: dict[str, Path] = field(default_factory=dict)  # mount point -> host file (ro)
    dirs: dict[str, Path] = field(default_factory=dict)  # mount point -> host folder (ro)
    volumes: dict[str, str] = field(default_factory=dict)  # mount point -> named volume
    ports: list[tuple[int, int, str]] = field(default_factory=list)  # host, container, ip
    env: dict[str, str] = field(default_factory=dict)  # never a secret: paths, names
    health: list[str] | None = None
    run_as_root: bool = False


def _tcp_health(port: int) -> list[str]:
    return ["python3", "-c", f"import socket; socket.create_connection(('127.0.0.1', {port}), 3)"]


def containers(stand: StandBase, out: Path) -> list[Container]:
    d = deploy_config(stand)
    sec = out / "secrets"
    vol = lambda what: f"{d.pod}-{what}"  # noqa: E731
    ca = {f"{SECRETS}/tls/ca.crt": sec / "tls" / "ca.crt"} if d.tls else {}
    mqtt_port = MQTT_TLS if d.tls else MQTT_PLAIN
    out_list = [
        Container(
            "mosquitto", image("mosquitto", d.tag),
            ["mosquitto", "-c", f"{ETC}/mosquitto.conf"],
            files={f"{ETC}/mosquitto.conf": out / "mosquitto.conf",
                   f"{SECRETS}/mqtt/passwd": sec / "mqtt" / "passwd",
                   f"{SECRETS}/mqtt/acl": sec / "mqtt" / "acl", **ca,
                   **({f"{SECRETS}/tls/server.crt": sec / "tls" / "server.crt",
                       f"{SECRETS}/tls/server.key": sec / "tls" / "server.key"} if d.tls else {})},
            volumes={"/var/lib/mosquitto": vol("mosquitto")},
            ports=[(d.ports.mqtt, mqtt_port, d.bind)],
            health=_tcp_health(mqtt_port),
        ),
        Container(
            "influxdb", image("influxdb", d.tag),
            ["trackerdcs-influxdb", "--database", d.influxdb_db,
             "--raw-days", str(_raw_days(stand))],
            files={f"{SECRETS}/influx/{u}.password": sec / "influx" / f"{u}.password"
                   for u in ("trackerdcs", "grafana")},
            volumes={"/var/lib/influxdb": vol("influxdb")},
            ports=[(d.ports.influxdb, INFLUX, "127.0.0.1")],
            health=_tcp_health(INFLUX),
        ),
    ]  # fmt: skip
    common_files = {STAND_IN_POD: out / "stand.yaml", **ca}
    local = [f for files in host_files(stand).values() for f in files]
    common_files |= {str(f.path): f.path for f in local if not f.folder}
    common_dirs = {str(f.path): f.path for f in local if f.folder}
    present = list(peers.sections(stand))
    for fam, section in present:
        name = fam.name
        if fam.simulator and section.simulate:
            out_list.append(Container(
                f"sim-{name}", image("trackerdcs", d.tag),
                ["trackerdcs", "sim", name, "--config", STAND_IN_POD],
                files={**common_files,
                       f"{SECRETS}/mqtt/{ADMIN}.password": sec / "mqtt" / f"{ADMIN}.password"},
                dirs=dict(common_dirs), volumes={STATE: vol("state")},
            ))  # fmt: skip
    for fam, _section in present:
        name = fam.name
        if not fam.service:
            continue
        svc = peers.service_name(stand, name) or name
        c = Container(
            name, image("trackerdcs", d.tag),
            ["trackerdcs", "run", name, "--config", STAND_IN_POD],
            files={**common_files,
                   f"{SECRETS}/mqtt/{svc}.password": sec / "mqtt" / f"{svc}.password"},
            dirs=dict(common_dirs), volumes={STATE: vol("state")},
            health=["trackerdcs", "health", svc, "--config", STAND_IN_POD],
        )  # fmt: skip
        if HISTORY in fam.roles:
            pw = f"{SECRETS}/influx/trackerdcs.password"
            c.files[pw] = sec / "influx" / "trackerdcs.password"
        if name == "web":
            c.dirs[f"{SECRETS}/users"] = sec / "users"  # `users add` on the host: read live
            c.ports.append((d.ports.web, WEB, d.bind))
        out_list.append(c)
    if d.grafana:
        out_list.append(Container(
            "grafana", d.grafana_image, [],
            files={f"{SECRETS}/grafana/admin.password": sec / "grafana" / "admin.password",
                   f"{SECRETS}/influx/grafana.password": sec / "influx" / "grafana.password"},
            dirs={"/etc/grafana/provisioning": out / "grafana" / "provisioning",
                  "/var/lib/grafana-dashboards": out / "grafana" / "dashboards"},
            volumes={"/var/lib/grafana": vol("grafana")},
            ports=[(d.ports.grafana, GRAFANA, d.bind)],
            env={"GF_SECURITY_ADMIN_PASSWORD__FILE": f"{SECRETS}/grafana/admin.password",
                 "GF_USERS_ALLOW_SIGN_UP": "false", "GF_AUTH_ANONYMOUS_ENABLED": "false",
                 "GF_ANALYTICS_REPORTING_ENABLED": "false"},
            run_as_root=True,  # its files are 0600 root: the image's own user could not read them
        ))  # fmt: skip
    if d.nodered:
        out_list.append(Container(
            "nodered", image("nodered", d.tag), ["trackerdcs-nodered"],
            files={f"{ETC}/nodered/settings.js": out / "nodered" / "settings.js",
                   f"{ETC}/nodered/flows.json": out / "nodered" / "flows.json", **ca,
                   f"{SECRETS}/mqtt/{NODERED}.password": sec / "mqtt" / f"{NODERED}.password",
                   f"{SECRETS}/nodered/admin.hash": sec / "nodered" / "admin.hash",
                   f"{SECRETS}/nodered/credential_secret": sec / "nodered" / "credential_secret"},
            volumes={"/data": vol("nodered")},
            ports=[(d.ports.nodered, NODERED_PORT, d.bind)],
            health=_tcp_health(NODERED_PORT),
        ))  # fmt: skip
    return out_list


def _raw_days(stand: StandBase) -> float:
    rec = stand.section("recorder")
    return float(rec.retention.raw_days) if rec is not None else 30.0


def _slug(path: str) -> str:
    return path.strip("/").replace("/", "-").replace(".", "-").replace("_", "-").lower()[-60:]


def kube(stand: StandBase, out: Path) -> dict[str, Any]:
    d = deploy_config(stand)
    volumes: dict[str, dict[str, Any]] = {}
    specs = []
    for c in containers(stand, out):
        mounts = []
        for where, host in c.files.items():
            v = f"f-{_slug(where)}"
            volumes[v] = {"name": v, "hostPath": {"path": str(host), "type": "File"}}
            mounts.append({"name": v, "mountPath": where, "readOnly": True})
        for where, host in c.dirs.items():
            v = f"d-{_slug(where)}"
            volumes[v] = {"name": v, "hostPath": {"path": str(host), "type": "Directory"}}
            mounts.append({"name": v, "mountPath": where, "readOnly": True})
        for where, named in c.volumes.items():
            volumes[named] = {"name": named, "persistentVolumeClaim": {"claimName": named}}
            mounts.append({"name": named, "mountPath": where})
        spec: dict[str, Any] = {"name": c.name, "image": c.image, "volumeMounts": mounts}
        if c.command:
            spec["command"] = c.command
        if c.env:
            spec["env"] = [{"name": k, "value": v} for k, v in c.env.items()]
        if c.ports:
            spec["ports"] = [{"containerPort": cp, "hostPort": hp, "hostIP": ip}
                             for hp, cp, ip in c.ports]  # fmt: skip
        if c.health:
            spec["livenessProbe"] = {"exec": {"command": c.health}, "initialDelaySeconds": 20,
                                     "periodSeconds": 30, "timeoutSeconds": 10,
                                     "failureThreshold": 3}  # fmt: skip
        if c.run_as_root:
            spec["securityContext"] = {"runAsUser": 0, "runAsGroup": 0}
        specs.append(spec)
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": d.pod, "labels": {"app": "trackerdcs", "stand": stand.stand.name}},
        "spec": {"restartPolicy": "Always", "containers": specs,
                 "volumes": list(volumes.values())},
    }  # fmt: skip


def compose(stand: StandBase, out: Path) -> dict[str, Any]:
    """The same pod for Docker Compose v2: services share one network namespace through the
    first (the broker), as the pod's containers do. (Debian 12's podman-compose 1.0.3 adds
    its own network to every container and podman refuses that with `service:`.)"""
    services: dict[str, Any] = {}
    named: set[str] = set()
    first = None
    parts = containers(stand, out)
    for c in parts:
        svc: dict[str, Any] = {"image": c.image, "restart": "always"}
        if c.command:
            svc["command"] = c.command
        mounts = [f"{host}:{where}:ro" for where, host in {**c.files, **c.dirs}.items()]
        mounts += [f"{v}:{where}" for where, v in c.volumes.items()]
        named |= set(c.volumes.values())
        svc["volumes"] = mounts
        if c.env:
            svc["environment"] = dict(c.env)
        if first is None:
            first = c.name
            ports = [p for x in parts for p in x.ports]
            svc["ports"] = [f"{ip}:{hp}:{cp}" for hp, cp, ip in ports]
        else:
            svc["network_mode"] = f"service:{first}"
            svc["depends_on"] = [first]
        if c.health:
            svc["healthcheck"] = {
                "test": ["CMD", *c.health],
                "interval": "30s",
                "timeout": "10s",
                "retries": 3,
                "start_period": "20s",
            }
        if c.run_as_root:
            svc["user"] = "0:0"
        services[c.name] = svc
    return {"name": deploy_config(stand).pod, "services": services,
            "volumes": {v: {"name": v} for v in sorted(named)}}  # fmt: skip


def _dump(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False, width=100)


def write(stand: StandBase) -> list[Path]:
    """Every generated file but the secrets (`trackerdcs secrets init`) and the images."""
    from trackerdcs.deploy import grafana, nodered

    d = deploy_config(stand)
    out = folder(stand)
    out.mkdir(parents=True, exist_ok=True)
    head = "# generated by `trackerdcs deploy kube` from {src}; edit the stand file instead\n"
    head = head.format(src=stand.source)
    written = []
    for name, text in {
        "stand.yaml": head + _dump(pod_stand(stand)),
        "host.yaml": head + _dump(host_stand(stand, out)),
        "mosquitto.conf": mosquitto_conf(d),
        "kube.yaml": head + _dump(kube(stand, out)),
        "compose.yaml": head + _dump(compose(stand, out)),
    }.items():
        (out / name).write_text(text)
        written.append(out / name)
    written += grafana.write(stand, out)
    written += nodered.write(stand, out)
    (out / "host-state").mkdir(exist_ok=True)
    return written
