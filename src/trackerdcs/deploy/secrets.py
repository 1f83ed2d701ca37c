"""`trackerdcs secrets init|rotate`: every credential of a deployment, made here, kept as
files in one folder (0700, files 0600) that the pod mounts read-only, file by file, into the
containers that need them. Nothing secret is in the stand file, the kube YAML or the
environment.

    secrets/
      mqtt/<account>.password  passwd  acl      per service and per human role (Mosquitto)
      tls/ca.crt ca.key server.crt server.key   the deployment's CA and the broker's cert
      influx/admin.password                     InfluxDB's admin (creates the others)
      influx/trackerdcs.password                the services' InfluxDB user (read, write)
      influx/grafana.password                   Grafana's InfluxDB user (read only)
      grafana/admin.password                    Grafana's `admin`
      nodered/admin.password admin.hash         Node-RED's editor `admin` (bcrypt hash)
      nodered/credential_secret                 key of Node-RED's credentials file
      web/<role>.password                       a web UI user per role (viewer/operator/expert)
      users/users.yaml                          the web UI's users (`trackerdcs users add`)
"""

from __future__ import annotations

import secrets as random
from pathlib import Path

import bcrypt
import httpx

from trackerdcs.config.model import StandBase
from trackerdcs.deploy import mqtt_accounts, tls
from trackerdcs.deploy.pod import deploy_config
from trackerdcs.web.users import ROLES, Users

INFLUX_USERS = ("admin", "trackerdcs", "grafana")


def _folder(p: Path) -> Path:
    p.mkdir(parents=True, exist_ok=True)
    p.chmod(0o700)
    return p


def _password(path: Path, made: list[str], root: Path) -> str:
    if not path.exists():
        _folder(path.parent)
        path.touch(mode=0o600)
        path.write_text(random.token_urlsafe(24) + "\n")
        made.append(str(path.relative_to(root)))
    return path.read_text().strip()


def init(stand: StandBase, root: Path, tls_names: list[str] | None = None) -> list[str]:
    """Make what is missing (never replaces a secret: `rotate` does). Returns what was made."""
    _folder(root)
    made: list[str] = []
    mqtt = root / "mqtt"
    before = {p.name for p in mqtt.glob("*.password")} if mqtt.exists() else set()
    accounts = mqtt_accounts.write(stand, mqtt, keep=True)
    made += [f"mqtt/{a}.password" for a in accounts if f"{a}.password" not in before]
    names = [*(tls_names or []), stand.bus.host]
    made += [f"tls/{f}" for f in tls.ensure(root / "tls", tls.server_names(names),
                                             stand.stand.name)]  # fmt: skip
    for user in INFLUX_USERS:
        _password(root / "influx" / f"{user}.password", made, root)
    _password(root / "grafana" / "admin.password", made, root)
    nodered = _password(root / "nodered" / "admin.password", made, root)
    hash_file = root / "nodered" / "admin.hash"
    if not hash_file.exists() or not bcrypt.checkpw(nodered.encode(), hash_file.read_bytes()):
        hash_file.touch(mode=0o600)
        hash_file.write_bytes(bcrypt.hashpw(nodered.encode(), bcrypt.gensalt(rounds=10)))
    _password(root / "nodered" / "credential_secret", made, root)
    _folder(root / "web")
    users = Users(_folder(root / "users") / "users.yaml")
    for role in ROLES:
        pw = _password(root / "web" / f"{role}.password", made, root)
        if users.check(role, pw) != role:
            users.add(role, pw, role)
    for p in root.rglob("*"):
        p.chmod(0o700 if p.is_dir() else 0o600)
    return made


def rotate(stand: StandBase, root: Path, name: str) -> list[str]:
    """A new value for one secret (`mqtt/caen`, `influx/grafana`, `web/operator`, `tls`…),
    and everything derived from it. The pod must be restarted to use it."""
    name = name.removesuffix(".password")
    if name == "tls":
        for f in ("server.crt", "server.key"):
            (root / "tls" / f).unlink(missing_ok=True)
    else:
        target = root / f"{name}.password"
        if name == "nodered/credential_secret":
            target = root / name
        if not target.exists():
            known = sorted(str(p.relative_to(root)).removesuffix(".password")
                           for p in root.rglob("*.password"))  # fmt: skip
            raise KeyError(f"no secret '{name}'; known: tls, {', '.join(known)}")
        if name == "influx/trackerdcs":
            _rotate_in_influxdb(stand, target)
            return [*init(stand, root), str(target.relative_to(root))]
        target.unlink()
    return init(stand, root)


def _rotate_in_influxdb(stand: StandBase, target: Path) -> None:
    """InfluxDB holds the services' password too (its entrypoint sets only Grafana's at each
    start: it cannot log in as `trackerdcs` with a password it was never told). So the
    running pod's InfluxDB is told first, as `trackerdcs` with the old password, then the
    file changes; with the pod down, nothing changes."""
    d = deploy_config(stand)
    old = target.read_text().strip()
    new = random.token_urlsafe(24)  # letters, digits, - and _: nothing to quote
    where = f"127.0.0.1:{d.ports.influxdb}"
    try:
        q = f"SET PASSWORD FOR trackerdcs = '{new}'"
        r = httpx.post(f"http://{where}/query", data={"q": q}, auth=("trackerdcs", old), timeout=10)
    except httpx.TransportError as exc:
        raise RuntimeError(
            f"the pod's InfluxDB does not answer at {where} ({exc}): start the pod first "
            "(`trackerdcs deploy up`); this password changes in InfluxDB and in the file together"
        ) from exc
    if r.status_code != 200 or "error" in r.text:
        raise RuntimeError(
            f"InfluxDB did not take the new password: {r.status_code} {r.text[:300]}"
        )
    target.write_text(new + "\n")
