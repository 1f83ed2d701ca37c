"""InfluxDB through its v1 HTTP API: line protocol to `/write`, InfluxQL to `/query`.

Works with InfluxDB 1.x and the v1 compatibility endpoints of 2.x and 3.x. A point with the
same measurement, tag set and timestamp overwrites the previous one, so a replayed batch
never stores anything twice.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from trackerdcs.config.model import Stand
from trackerdcs.config.secrets import read_secret
from trackerdcs.storage.historian import HistorianError
from trackerdcs.storage.points import Bucket, Point, parse_series, series_key


def _escape_key(s: str) -> str:
    return s.replace("\\", "\\\\").replace(",", r"\,").replace("=", r"\=").replace(" ", r"\ ")


def _escape_meas(s: str) -> str:
    return s.replace("\\", "\\\\").replace(",", r"\,").replace(" ", r"\ ")


def line(p: Point) -> str:
    tags = "".join(f",{_escape_key(k)}={_escape_key(v)}" for k, v in sorted(p.tags))
    return (
        f"{_escape_meas(p.measurement)}{tags} {_escape_key(p.field)}={p.value!r} {int(p.ts * 1e6)}"
    )


def _split_escaped(s: str, sep: str, maxsplit: int = -1) -> list[str]:
    """Split a line-protocol series key on unescaped `sep` and unescape the parts."""
    parts: list[str] = []
    cur: list[str] = []
    i = 0
    while i < len(s):
        c = s[i]
        if c == "\\" and i + 1 < len(s):
            cur.append(s[i + 1])
            i += 2
            continue
        if c == sep and (maxsplit < 0 or len(parts) < maxsplit):
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(c)
        i += 1
    parts.append("".join(cur))
    return parts


def _ident(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _literal(s: str) -> str:
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"


class InfluxHistorian:
    def __init__(self, base_url: str, database: str, username: str | None = None,
                 password: str | None = None, timeout: float = 10.0):  # fmt: skip
        self.database = database
        auth = (username, password or "") if username else None
        self.http = httpx.Client(base_url=base_url, auth=auth, timeout=timeout)
        self._created = False

    @classmethod
    def from_stand(cls, stand: Stand) -> InfluxHistorian:
        s = stand.storage
        u = urlsplit(s.historian)
        scheme = "https" if u.scheme == "influxdbs" else "http"
        database = u.path.strip("/") or "trackerdcs"
        password = None
        if s.influx_password_file:
            password = read_secret(Path(stand.path(s.influx_password_file)))
        elif s.influx_password_env:
            password = os.environ.get(s.influx_password_env)
        host = u.hostname or "127.0.0.1"
        return cls(f"{scheme}://{host}:{u.port or 8086}", database, u.username, password)

    def _query(self, q: str, write: bool = False) -> list[dict]:
        try:
            if write:
                r = self.http.post("/query", params={"q": q, "db": self.database})
            else:
                r = self.http.get("/query", params={"q": q, "db": self.database, "epoch": "u"})
        except httpx.HTTPError as exc:
            raise HistorianError(f"influxdb: {exc}") from exc
        if r.status_code >= 400:
            raise HistorianError(f"influxdb query: HTTP {r.status_code}: {r.text[:200]}")
        results = r.json().get("results", [])
        for res in results:
            if "error" in res:
                raise HistorianError(f"influxdb query: {res['error']}")
        return results

    def _ensure_db(self) -> None:
        if not self._created:
            self._query(f"CREATE DATABASE {_ident(self.database)}", write=True)
            self._created = True

    def write(self, points: list[Point]) -> None:
        if not points:
            return
        self._ensure_db()
        body = "\n".join(line(p) for p in points).encode()
        try:
            r = self.http.post("/write", params={"db": self.database, "precision": "u"},
                               content=body)  # fmt: skip
        except httpx.HTTPError as exc:
            raise HistorianError(f"influxdb: {exc}") from exc
        if r.status_code == 404 and "database not found" in r.text:
            self._created = False
            raise HistorianError("influxdb: database not found (will be created)")
        if r.status_code >= 400:
            raise HistorianError(f"influxdb write: HTTP {r.status_code}: {r.text[:200]}")

    def series(self, match: str = "") -> list[str]:
        self._ensure_db()
        fields: dict[str, list[str]] = {}
        for res in self._query("SHOW FIELD KEYS"):
            for s in res.get("series", []):
                fields[s["name"]] = [v[0] for v in s["values"]]
        keys: list[str] = []
        for res in self._query("SHOW SERIES"):
            for s in res.get("series", []):
                for (sk,) in s["values"]:
                    meas, *pairs = _split_escaped(sk, ",")
                    tags = dict(_split_escaped(p, "=", 1) for p in pairs)
                    keys += [series_key(meas, tags, f) for f in fields.get(meas, [])]
        return sorted(k for k in keys if match in k)

    def _where(self, series: str, start: float, end: float, end_op: str = "<=") -> tuple[str, str]:
        s = parse_series(series)
        cond = "".join(f" AND {_ident(k)}={_literal(v)}" for k, v in sorted(s.tags.items()))
        time_cond = f"time >= {int(start * 1e6)}u AND time {end_op} {int(end * 1e6)}u"
        return f"FROM {_ident(s.measurement)} WHERE {time_cond}{cond}", _ident(s.field)

    def raw(self, series: str, start: float, end: float) -> list[tuple[float, float]]:
        self._ensure_db()
        where, fld = self._where(series, start, end)
        out: list[tuple[float, float]] = []
        for res in self._query(f"SELECT {fld} {where}"):
            for s in res.get("series", []):
                out += [(t / 1e6, float(v)) for t, v in s["values"] if v is not None]
        return out

    def buckets(self, series: str, start: float, end: float, n: int) -> list[Bucket]:
        if n < 1 or end <= start:
            raise ValueError("need n >= 1 buckets and end after start")
        self._ensure_db()
        width_us = max(1, int((end - start) * 1e6 / n))
        where, fld = self._where(series, start, end, "<")
        offset = int(start * 1e6) % width_us
        q = (f"SELECT min({fld}), mean({fld}), max({fld}), count({fld}) {where} "
             f"GROUP BY time({width_us}u, {offset}u) fill(none)")  # fmt: skip
        out: list[Bucket] = []
        for res in self._query(q):
            for s in res.get("series", []):
                for t, lo, mean, hi, c in s["values"]:
                    out.append(Bucket(t / 1e6, float(lo), float(mean), float(hi), int(c)))
        return out

    def close(self) -> None:
        self.http.close()
