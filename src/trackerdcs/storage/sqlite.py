"""The embedded historian: one SQLite file in WAL mode.

Raw points live in a WITHOUT ROWID table keyed by (series, ts), so a range query is an index
range scan and a replayed point is ignored rather than stored twice. Each write adds exactly
the rows it inserts to per-minute and per-hour rollups (count, sum, min, max), so long-range
downsampled queries never touch raw rows. String fields (states such
as `fsm_state`) have a table of their own, without rollups.

Retention (`prune`) deletes raw rows older than `raw_days` and rollup rows older than theirs,
series by series along the primary key, in short transactions the recorder's writes can
interleave with; a downsampled query older than the raw rows reads the minute rollups.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path

from trackerdcs.storage.events import MEASUREMENT as EVENTS
from trackerdcs.storage.historian import HistorianError, RejectedData
from trackerdcs.storage.points import Bucket, Point, Value, parse_series

ROLLUPS = (60, 3600)

SCHEMA = """
PRAGMA journal_mode=WAL;
PRAGMA synchronous=NORMAL;
CREATE TABLE IF NOT EXISTS series (
    id INTEGER PRIMARY KEY, key TEXT UNIQUE NOT NULL,
    measurement TEXT NOT NULL, field TEXT NOT NULL, tags TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS points (
    series INTEGER NOT NULL, ts REAL NOT NULL, value REAL NOT NULL,
    PRIMARY KEY (series, ts)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS pruned (resolution INTEGER PRIMARY KEY, floor REAL NOT NULL);
CREATE TABLE IF NOT EXISTS texts (
    series INTEGER NOT NULL, ts REAL NOT NULL, value TEXT NOT NULL,
    PRIMARY KEY (series, ts)) WITHOUT ROWID;
"""

ROLLUP_SCHEMA = """
CREATE TABLE IF NOT EXISTS rollup_{w} (
    series INTEGER NOT NULL, bucket INTEGER NOT NULL,
    n INTEGER NOT NULL, sum REAL NOT NULL, min REAL NOT NULL, max REAL NOT NULL,
    PRIMARY KEY (series, bucket)) WITHOUT ROWID;
DROP TRIGGER IF EXISTS points_rollup_{w};
"""

# (absurd but finite values can sum to +inf and -inf, whose sum SQLite stores as NULL: the
# coalesce keeps such a batch from failing for ever)
# a batch is staged, its rows not stored yet (a replay is not counted twice) are added to the
# rollups one (series, bucket) group at a time, then stored: a trigger per row did the same
# with one upsert per row and rollup, which made the rollups most of the write
STAGING = """
CREATE TEMP TABLE IF NOT EXISTS staging (series INTEGER NOT NULL, ts REAL NOT NULL,
                                         value REAL NOT NULL);
"""
# in key order: the inserts into points then walk the tree instead of jumping around it
FRESH = """
CREATE TEMP TABLE fresh AS SELECT s.series, s.ts, s.value FROM staging s
WHERE NOT EXISTS (SELECT 1 FROM points p WHERE p.series = s.series AND p.ts = s.ts)
ORDER BY s.series, s.ts;
"""
# the same when the batch holds a point twice (a replay overlapping what is pending): the
# first of each is kept, as INSERT OR IGNORE would
FRESH_DEDUP = """
CREATE TEMP TABLE fresh AS SELECT s.series, s.ts, s.value FROM staging s
WHERE s.rowid IN (SELECT min(rowid) FROM staging GROUP BY series, ts)
  AND NOT EXISTS (SELECT 1 FROM points p WHERE p.series = s.series AND p.ts = s.ts)
ORDER BY s.series, s.ts;
"""
ADD_ROLLUP = """
INSERT INTO rollup_{w} SELECT series, CAST(ts / {w} AS INTEGER) * {w} AS b, count(*),
       coalesce(sum(value), 0.0), min(value), max(value) FROM fresh WHERE true GROUP BY series, b
ON CONFLICT (series, bucket) DO UPDATE SET
    n = n + excluded.n, sum = coalesce(sum + excluded.sum, sum),
    min = min(min, excluded.min), max = max(max, excluded.max);
"""


class SqliteHistorian:
    def __init__(self, path: Path):
        # resolution (0: raw) -> rows before this time were pruned: a query older than the
        # finest resolution's floor reads the next one still kept
        self.floors: dict[int, float] = {0: 0.0, **{w: 0.0 for w in ROLLUPS}}
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self.db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self.db.executescript(SCHEMA + "".join(ROLLUP_SCHEMA.format(w=w) for w in ROLLUPS)
                              + STAGING)  # fmt: skip
        self._ids: dict[str, int] = {}
        self._by_parts: dict[tuple[str, tuple[tuple[str, str], ...], str], int] = {}
        self.floors.update(dict(self.db.execute("SELECT resolution, floor FROM pruned")))

    def _series_id(self, p: Point) -> int:
        # by the point's parts: building the series name for every point cost more than
        # the insert
        sid = self._by_parts.get((p.measurement, p.tags, p.field))
        if sid is None:
            sid = self._by_parts[(p.measurement, p.tags, p.field)] = self._series_id_by_key(p)
        return sid

    def _series_id_by_key(self, p: Point) -> int:
        key = p.series
        sid = self._ids.get(key)
        if sid is None:
            self.db.execute(
                "INSERT OR IGNORE INTO series (key, measurement, field, tags) VALUES (?,?,?,?)",
                (key, p.measurement, p.field, json.dumps(dict(p.tags), sort_keys=True)),
            )
            sid = self.db.execute("SELECT id FROM series WHERE key=?", (key,)).fetchone()[0]
            self._ids[key] = sid
        return sid

    def write(self, points: list[Point]) -> None:
        with self._lock:
            try:
                self.db.execute("BEGIN")
                # REAL column: an integer beyond 64 bits would not even bind
                rows = [(self._series_id(p), p.ts, float(p.value)) for p in points
                        if not isinstance(p.value, str)]  # fmt: skip
                texts = [(self._series_id(p), p.ts, p.value) for p in points
                         if isinstance(p.value, str)]  # fmt: skip
                self.db.executemany("INSERT INTO staging VALUES (?,?,?)", rows)
                twice = len({(r[0], r[1]) for r in rows}) != len(rows)
                self.db.execute(FRESH_DEDUP if twice else FRESH)
                for w in ROLLUPS:
                    self.db.execute(ADD_ROLLUP.format(w=w))
                self.db.execute("INSERT INTO points SELECT series, ts, value FROM fresh")
                self.db.execute("DROP TABLE fresh")
                self.db.execute("DELETE FROM staging")
                if texts:
                    self.db.executemany("INSERT OR IGNORE INTO texts VALUES (?,?,?)", texts)
                self.db.execute("COMMIT")
            except (sqlite3.Error, OverflowError, ValueError, TypeError) as exc:
                if self.db.in_transaction:
                    self.db.execute("ROLLBACK")
                self._ids.clear()
                self._by_parts.clear()
                # the data itself (a constraint, a value SQLite cannot bind) vs the file
                data = isinstance(exc, sqlite3.IntegrityError | sqlite3.DataError | OverflowError
                                  | ValueError | TypeError)  # fmt: skip
                error = RejectedData if data else HistorianError
                raise error(f"sqlite {self.path}: {exc}") from exc

    def _id(self, key: str) -> int | None:
        parse_series(key)  # a malformed name is an error, an unknown one just has no data
        row = self.db.execute("SELECT id FROM series WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def series(self, match: str = "") -> list[str]:
        with self._lock:
            rows = self.db.execute("SELECT key FROM series ORDER BY key").fetchall()
        return [r[0] for r in rows if match in r[0]]

    def exists(self, series: str) -> bool:
        with self._lock:
            return self._id(series) is not None

    def raw(self, series: str, start: float, end: float) -> list[tuple[float, Value]]:
        with self._lock:
            sid = self._id(series)
            if sid is None:
                return []
            rows = self.db.execute(
                "SELECT ts, value FROM points WHERE series=? AND ts>=? AND ts<=? ORDER BY ts",
                (sid, start, end),
            ).fetchall()
            if not rows:
                rows = self.db.execute(
                    "SELECT ts, value FROM texts WHERE series=? AND ts>=? AND ts<=? ORDER BY ts",
                    (sid, start, end),
                ).fetchall()
            return rows

    def events(self, start: float, end: float, where: dict[str, str],
               limit: int) -> list[tuple[float, dict[str, str], str]]:  # fmt: skip
        with self._lock:
            rows = self.db.execute(
                "SELECT id, tags FROM series WHERE measurement=? AND field='text'", (EVENTS,)
            ).fetchall()  # fmt: skip
            tags = {sid: json.loads(t) for sid, t in rows}
            ids = [sid for sid, t in tags.items() if all(t.get(k) == v for k, v in where.items())]
            if not ids:
                return []
            marks = ",".join("?" * len(ids))
            found = self.db.execute(
                f"SELECT ts, series, value FROM texts WHERE series IN ({marks}) AND ts>=? "
                "AND ts<=? ORDER BY ts DESC LIMIT ?", (*ids, start, end, limit),
            ).fetchall()  # fmt: skip
        return [(ts, tags[sid], value) for ts, sid, value in found]

    def prune(self, now: float, raw_days: float, rollup_days: dict[int, float]) -> int:
        """Delete what is past retention (0 days: keep for ever); returns rows deleted."""
        cuts = [("points", "ts", raw_days, 0),
                ("texts", "ts", 0 if 0 in (raw_days, rollup_days[60])
                 else max(raw_days, rollup_days[60]), -1)]  # fmt: skip
        cuts += [(f"rollup_{w}", "bucket", rollup_days[w], w) for w in ROLLUPS]
        deleted = 0
        with self._lock:
            ids = [r[0] for r in self.db.execute("SELECT id FROM series")]
        for table, col, days, resolution in cuts:
            if days <= 0:
                continue
            cutoff = now - days * 86400
            for sid in ids:
                with self._lock:  # one short transaction per series: writes get in between
                    cur = self.db.execute(f"DELETE FROM {table} WHERE series=? AND {col}<?",
                                          (sid, cutoff))  # fmt: skip
                    deleted += cur.rowcount
            if resolution >= 0:
                self.floors[resolution] = cutoff
                with self._lock:
                    self.db.execute("INSERT OR REPLACE INTO pruned VALUES (?, ?)",
                                    (resolution, cutoff))  # fmt: skip
        return deleted

    def buckets(self, series: str, start: float, end: float, n: int) -> list[Bucket]:
        if n < 1 or end <= start:
            raise ValueError("need n >= 1 buckets and end after start")
        width = (end - start) / n
        with self._lock:
            sid = self._id(series)
            if sid is None:
                return []
            # the coarsest rollup that still gives several source rows per bucket; the
            # partial rollup buckets at both ends of the range come from raw rows instead
            kept = [r for r in (0, *ROLLUPS) if start >= self.floors[r]] or [ROLLUPS[-1]]
            wanted = next((r for r in reversed(kept) if r and width >= 4 * r), kept[0])
            w = wanted or None
            lo = -(-start // w) * w if w else end
            hi = (end // w) * w if w else end
            if w is None or lo >= hi:
                source = "SELECT ts AS t, 1 AS n, value AS s, value AS mn, value AS mx " \
                         "FROM points WHERE series=:sid AND ts>=:start AND ts<:end"  # fmt: skip
            else:
                source = (
                    f"SELECT bucket AS t, n, sum AS s, min AS mn, max AS mx FROM rollup_{w} "
                    "WHERE series=:sid AND bucket>=:lo AND bucket<:hi UNION ALL "
                    "SELECT ts, 1, value, value, value FROM points WHERE series=:sid AND "
                    "((ts>=:start AND ts<:lo) OR (ts>=:hi AND ts<:end))"
                )
            sql = (
                "SELECT CAST((t - :start) / :width AS INTEGER) AS b, min(mn), sum(s) / sum(n), "
                f"max(mx), sum(n) FROM ({source}) GROUP BY b ORDER BY b"
            )
            args = {"sid": sid, "start": start, "end": end, "lo": lo, "hi": hi, "width": width}
            rows = self.db.execute(sql, args).fetchall()
        return [Bucket(start + b * width, lo, mean, hi, int(c)) for b, lo, mean, hi, c in rows]

    def close(self) -> None:
        with self._lock:
            self.db.close()
