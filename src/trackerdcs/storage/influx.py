"""InfluxDB through its v1 HTTP API: line protocol to `/write`, InfluxQL to `/query`.

Works with InfluxDB 1.x and the v1 compatibility endpoints of 2.x and 3.x. A point with the
same measurement, tag set and timestamp overwrites the previous one, so a replayed batch
never stores anything twice.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from trackerdcs.config.model import Stand
from trackerdcs.config.secrets import read_secret
from trackerdcs.storage.config import Retention
from trackerdcs.storage.events import MEASUREMENT as EVENTS
from trackerdcs.storage.events import TAGS
from trackerdcs.storage.historian import HistorianError, RejectedData
from trackerdcs.storage.points import Bucket, Point, Value, by_row, parse_series, series_key


def _escape_key(s: str) -> str:
    return s.replace("\\", "\\\\").replace(",", r"\,").replace("=", r"\=").replace(" ", r"\ ")


def _escape_meas(s: str) -> str:
    return s.replace("\\", "\\\\").replace(",", r"\,").replace(" ", r"\ ")


def field_value(v: Value) -> str:
    """Line-protocol field value: the type travels with it (1.0 float, 1i integer)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return f"{v}i"
    if isinstance(v, float):
        return repr(v)
    return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'


def lines(points: list[Point]) -> list[str]:
    """One line per measurement, tag set and time with all its fields (as Telegraf writes):
    a channel message is one line, not thirty."""
    out = []
    for (meas, tags, ts), group in by_row(points).items():
        tagpart = "".join(f",{_escape_key(k)}={_escape_key(v)}" for k, v in sorted(tags))
        fields = ",".join(f"{_escape_key(p.field)}={field_value(p.value)}" for p in group)
        out.append(f"{_escape_meas(meas)}{tagpart} {fields} {int(ts * 1e6)}")
    return out


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


def _duration(days: float) -> str:
    return "INF" if days <= 0 else f"{max(1, round(days * 24))}h"


BEYOND_RETENTION = re.compile(r"points beyond retention policy dropped=(\d+)")
CONFLICT = re.compile(
    r'field type conflict: input field \\?"([^"\\]+)\\?" on measurement '
    r'\\?"([^"\\]+)\\?"'
)
EVENT_COLUMNS = ("text", *TAGS)
MAX_CONFLICTS = 20  # distinct clashing fields one batch may reveal
# rollups: retention policy -> (GROUP BY interval, the days kept from the recorder's retention)
ROLLUP_POLICIES = {"rollup_1m": ("1m", "minute_days"), "rollup_1h": ("1h", "hour_days")}


class InfluxHistorian:
    def __init__(self, base_url: str, database: str, username: str | None = None,
                 password: str | None = None, timeout: float = 10.0,
                 retention: Retention | None = None):  # fmt: skip
        self.database = database
        auth = (username, password or "") if username else None
        self.http = httpx.Client(base_url=base_url, auth=auth, timeout=timeout)
        self.retention = retention
        self._created = False  # by this writer, with its rollups
        self._exists = False  # seen by a reader
        self.expired = 0  # points refused as older than the retention policy keeps
        self.conflicts = 0  # values left out: their field has another type in the database
        self.conflicting: set[tuple[str, str]] = set()  # (measurement, field) known to clash
        self.last_conflict = ""

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
        recorder = stand.section("recorder")
        return cls(f"{scheme}://{host}:{u.port or 8086}", database, u.username, password,
                   retention=recorder.retention if recorder is not None else None)  # fmt: skip

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

    def _databases(self) -> set[str]:
        return {v[0] for res in self._query("SHOW DATABASES")
                for s in res.get("series", []) for v in s.get("values", [])}  # fmt: skip

    def _ensure_db(self) -> None:
        """Before the first write: the database, and with a retention the rollup policies
        and their continuous queries. A database trackerdcs creates keeps raw points
        `raw_days` (its default policy `raw`); an existing one keeps its own default policy
        (shortening it would delete a lab's history): only the rollups are added."""
        if self._created:
            return
        db, r = _ident(self.database), self.retention
        if self.database not in self._databases():
            with_rp = f' WITH DURATION {_duration(r.raw_days)} NAME "raw"' if r else ""
            self._query(f"CREATE DATABASE {db}{with_rp}", write=True)
        if r is not None:
            self._rollups(r)
        self._created = True

    def _rollups(self, r: Retention) -> None:
        db = _ident(self.database)
        policies = {v[0]: v for res in self._query("SHOW RETENTION POLICIES")
                    for s in res.get("series", []) for v in s.get("values", [])}  # fmt: skip
        default = next((name for name, *_, is_default in policies.values() if is_default),
                       "autogen")  # fmt: skip
        cqs = {v[0] for res in self._query("SHOW CONTINUOUS QUERIES")
               for s in res.get("series", []) if s.get("name") == self.database
               for v in s.get("values", [])}  # fmt: skip
        for rp, (every, attr) in ROLLUP_POLICIES.items():
            duration = _duration(getattr(r, attr))
            verb = "ALTER" if rp in policies else "CREATE"
            self._query(f"{verb} RETENTION POLICY {_ident(rp)} ON {db} DURATION {duration} "
                        "REPLICATION 1", write=True)  # fmt: skip
            cq = f"trackerdcs_{rp}"
            if cq not in cqs:
                # strings have no mean: InfluxDB leaves them out of the wildcard
                self._query(
                    f"CREATE CONTINUOUS QUERY {_ident(cq)} ON {db} BEGIN SELECT mean(*), "
                    f"min(*), max(*) INTO {db}.{_ident(rp)}.:MEASUREMENT FROM "
                    f"{db}.{_ident(default)}./.*/ GROUP BY time({every}), * END",
                    write=True,
                )

    def _readable(self) -> None:
        """Reads never create the database they read: a wrong name is an error."""
        if self._created or self._exists:
            return
        if self.database not in self._databases():
            raise HistorianError(f"influxdb: database '{self.database}' does not exist")
        self._exists = True

    def write(self, points: list[Point]) -> None:
        # a field whose type the database fixed otherwise is left out of every point (its
        # other fields are written): InfluxDB would drop the whole line for it
        clash = [p for p in points if (p.measurement, p.field) in self.conflicting]
        if clash:
            self.conflicts += len(clash)
            points = [p for p in points if (p.measurement, p.field) not in self.conflicting]
        if not points:
            return
        self._ensure_db()
        for _attempt in range(MAX_CONFLICTS):
            conflict = self._post(points)
            if conflict is None:
                return
            # InfluxDB names one clashing field per answer; the rest of the batch is in:
            # the lines it dropped go again without that field
            self.conflicting.add(conflict)
            self.last_conflict = f"{conflict[0]}.{conflict[1]}"
            points = [p for p in points if p.measurement == conflict[0]]
            self.conflicts += sum(1 for p in points if p.field == conflict[1])
            points = [p for p in points if p.field != conflict[1]]
        raise RejectedData(
            f"influxdb write: more than {MAX_CONFLICTS} fields of "
            f"{self.last_conflict.split('.')[0]} clash with the database"
        )

    def _post(self, points: list[Point]) -> tuple[str, str] | None:
        """Write; the (measurement, field) of a type conflict InfluxDB reports, else None."""
        body = "\n".join(lines(points)).encode()
        try:
            r = self.http.post("/write", params={"db": self.database, "precision": "u"},
                               content=body)  # fmt: skip
        except httpx.HTTPError as exc:
            raise HistorianError(f"influxdb: {exc}") from exc
        if r.status_code == 404 and "database not found" in r.text:
            self._created = False
            raise HistorianError("influxdb: database not found (will be created)")
        if r.status_code == 400 and (m := BEYOND_RETENTION.search(r.text)):
            # the rest was written; points older than the policy keeps cannot ever be: a
            # replay after a long outage must not retry them for ever
            self.expired += int(m.group(1))
            return None
        if r.status_code == 400 and (m := CONFLICT.search(r.text)):
            return m.group(2), m.group(1)
        if r.status_code == 400:
            raise RejectedData(f"influxdb write: HTTP 400: {r.text[:200]}")
        if r.status_code >= 400:
            raise HistorianError(f"influxdb write: HTTP {r.status_code}: {r.text[:200]}")
        return None

    def series(self, match: str = "") -> list[str]:
        self._readable()
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

    def exists(self, series: str) -> bool:
        return series in self.series(series)

    def _where(self, series: str, start: float, end: float, end_op: str = "<=") -> tuple[str, str]:
        s = parse_series(series)
        cond = "".join(f" AND {_ident(k)}={_literal(v)}" for k, v in sorted(s.tags.items()))
        time_cond = f"time >= {int(start * 1e6)}u AND time {end_op} {int(end * 1e6)}u"
        return f"FROM {_ident(s.measurement)} WHERE {time_cond}{cond}", _ident(s.field)

    def raw(self, series: str, start: float, end: float) -> list[tuple[float, Value]]:
        self._readable()
        where, fld = self._where(series, start, end)
        out: list[tuple[float, Value]] = []
        for res in self._query(f"SELECT {fld} {where}"):
            for s in res.get("series", []):
                out += [(t / 1e6, v) for t, v in s["values"] if v is not None]
        return out

    def events(self, start: float, end: float, where: dict[str, str],
               limit: int) -> list[tuple[float, dict[str, str], str]]:  # fmt: skip
        self._readable()
        cond = "".join(f" AND {_ident(k)}={_literal(v)}" for k, v in sorted(where.items()))
        q = (f"SELECT {', '.join(_ident(c) for c in EVENT_COLUMNS)} FROM {_ident(EVENTS)} "
             f"WHERE time >= {int(start * 1e6)}u AND time <= {int(end * 1e6)}u{cond} "
             f"ORDER BY time DESC LIMIT {int(limit)}")  # fmt: skip
        out = []
        for res in self._query(q):
            for s in res.get("series", []):
                cols = s["columns"]
                for row in s["values"]:
                    d = dict(zip(cols, row, strict=True))
                    tags = {k: str(d[k]) for k in EVENT_COLUMNS[1:] if d.get(k)}
                    out.append((d["time"] / 1e6, tags, str(d.get("text") or "")))
        return out

    def buckets(self, series: str, start: float, end: float, n: int) -> list[Bucket]:
        if n < 1 or end <= start:
            raise ValueError("need n >= 1 buckets and end after start")
        self._readable()
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
