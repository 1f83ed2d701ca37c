#!/usr/bin/python3
"""InfluxDB for the pod: influxd with authentication, and on every start its users as the
mounted secrets say. The first start (no user yet: InfluxDB then accepts one statement
without a login) makes `trackerdcs` (all privileges: it keeps its database, retention
policies and rollups); every start sets `grafana`'s password (a rotated secret takes effect
at the next start) and makes the database if missing (raw points kept `--raw-days`, as the
recorder would) with read access for `grafana`. A backup staged in the volume by
`trackerdcs restore` (`/var/lib/influxdb/restore`) is restored first, before any user
exists, so that nothing can write into the database before its history is back. Standard
library only: it runs on the image's Debian Python."""

import argparse
import base64
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

SECRETS = "/run/secrets/trackerdcs/influx"
URL = "http://127.0.0.1:8086"
STAGED = "/var/lib/influxdb/restore"


def secret(user: str) -> str:
    with open(f"{SECRETS}/{user}.password") as fh:
        return fh.read().strip()


def query(q: str, auth: tuple[str, str] | None = None) -> tuple[int, dict]:
    req = urllib.request.Request(
        f"{URL}/query", data=urllib.parse.urlencode({"q": q}).encode(), method="POST"
    )
    if auth:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        req.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def quote(s: str) -> str:
    return s.replace("\\", "\\\\").replace("'", "\\'")


def duration(days: float) -> str:
    return "INF" if days <= 0 else f"{max(1, round(days * 24))}h"


def setup(db: str, raw_days: float) -> None:
    me = ("trackerdcs", secret("trackerdcs"))
    status, body = query("SHOW USERS", me)
    if status != 200:
        # no user yet (first start): this one statement is allowed without a login
        made, why = query(
            f"CREATE USER trackerdcs WITH PASSWORD '{quote(me[1])}' WITH ALL PRIVILEGES"
        )
        if made != 200 or "error" in (why.get("results") or [{}])[0]:
            sys.exit(
                f"trackerdcs-influxdb: the trackerdcs user is refused ({status} {body}) "
                f"and cannot be created ({made} {why}): its password file differs from "
                "the one it was created with"
            )
        status, body = query("SHOW USERS", me)
    users = {v[0] for s in body["results"][0].get("series", []) for v in s["values"]}
    _, dbs = query("SHOW DATABASES", me)
    names = {v[0] for s in dbs["results"][0].get("series", []) for v in s.get("values", [])}
    if db not in names:
        query(f'CREATE DATABASE "{db}" WITH DURATION {duration(raw_days)} NAME "raw"', me)
    graf = quote(secret("grafana"))
    verb = (
        f"SET PASSWORD FOR grafana = '{graf}'"
        if "grafana" in users
        else f"CREATE USER grafana WITH PASSWORD '{graf}'"
    )
    for q in (verb, f'GRANT READ ON "{db}" TO grafana'):
        status, body = query(q, me)
        if status != 200 or "error" in body["results"][0]:
            sys.exit(f"trackerdcs-influxdb: {q.split(' WITH')[0]}: {body}")
    print(f"trackerdcs-influxdb: users trackerdcs, grafana; database {db}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--database", default="dcs")
    ap.add_argument("--raw-days", type=float, default=30.0)
    args = ap.parse_args()
    os.makedirs("/var/lib/influxdb", exist_ok=True)
    proc = subprocess.Popen(["influxd", "-config", "/etc/influxdb/trackerdcs.conf"])
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda s, _f: proc.send_signal(s))
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"{URL}/ping", timeout=1):
                break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                sys.exit("trackerdcs-influxdb: influxd did not start")
            time.sleep(0.2)
    if os.path.isdir(STAGED):
        r = subprocess.run(["influxd", "restore", "-portable", "-host", "127.0.0.1:8088", STAGED],
                           capture_output=True, text=True)  # fmt: skip
        if r.returncode != 0:
            proc.terminate()
            sys.exit(f"trackerdcs-influxdb: restoring {STAGED} failed: {r.stderr.strip()[-800:]}")
        shutil.rmtree(STAGED)
        print("trackerdcs-influxdb: history restored from the staged backup", flush=True)
    setup(args.database, args.raw_days)
    sys.exit(proc.wait())


if __name__ == "__main__":
    main()
