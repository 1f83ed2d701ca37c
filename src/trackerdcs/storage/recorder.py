"""The recorder service (`trackerdcs run recorder`): every numeric field on the bus into the
historian, with the message's own timestamp and tags naming where it came from.

Writes are batched by one coroutine (the historian call runs on a worker thread). When
the historian is unreachable, batches go to a
bounded disk buffer and are replayed in order when it returns; since both historians store
a point once per (series, timestamp), a batch replayed twice cannot duplicate anything.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Collection
from typing import Any

from trackerdcs.config.model import StandBase
from trackerdcs.core import payload as pl
from trackerdcs.core import peers
from trackerdcs.core.bus import Message
from trackerdcs.core.commands import Command, command
from trackerdcs.core.publisher import StatePublisher
from trackerdcs.core.service import Service
from trackerdcs.core.topics import matches
from trackerdcs.storage.buffer import DiskBuffer
from trackerdcs.storage.config import RecorderConfig
from trackerdcs.storage.historian import HistorianError, open_historian
from trackerdcs.storage.journal import Journal
from trackerdcs.storage.points import Point

SKIP_FIELDS = {"ts", "id", "since"}


def _tag(v: Any) -> str:
    # `,` and `=` separate tags in series names
    return str(v).replace(",", "_").replace("=", "_") if v is not None else ""


def _flatten(d: dict[str, Any], prefix: str = "", depth: int = 0) -> dict[str, float]:
    out: dict[str, float] = {}
    for k, v in d.items():
        if k in SKIP_FIELDS and not prefix:
            continue
        name = f"{prefix}{k}"
        if isinstance(v, int | float):  # bool too: a state as 0/1
            out[name] = float(v)
        elif isinstance(v, dict) and depth < 3:
            out.update(_flatten(v, f"{name}.", depth + 1))
    return out


def to_points(topic: str, raw: bytes,
              environment: Collection[str] = ("sensors",)) -> list[Point]:  # fmt: skip
    """The points one bus message carries (empty when it carries no number)."""
    return decode(topic, raw, environment)[0]


def decode(topic: str, raw: bytes,
           environment: Collection[str] = ("sensors",)) -> tuple[list[Point], int]:  # fmt: skip
    """(points, rejected): a value that is not a finite number is no reading and is
    rejected alone; a message whose own `ts` is not a finite number has no time at all,
    and all its values are rejected. Raises ValueError for malformed JSON."""
    # `/hmp4040/status` (the Lyon and Pisa services) is named like `hmp4040/status`
    parts = topic.lstrip("/").split("/")
    text = raw.decode("utf-8", "replace").strip()
    if len(parts) == 2 and parts[1] == "online":
        if text in ("true", "false"):
            return [Point("online", "value", float(text == "true"), pl.now(),
                          (("service", parts[0]),))], 0  # fmt: skip
        return [], 0
    try:
        data = json.loads(text)
    except ValueError:
        if text.startswith(("{", "[")):
            raise
        return [], 0
    if isinstance(data, int | float) and not isinstance(data, bool):
        # reference-stack plain floats (ESP32 boards): keep the topic as the series name
        if not math.isfinite(data):
            return [], 1
        return [Point("mqtt", "value", float(data), pl.now(), (("topic", topic),))], 0
    if not isinstance(data, dict):
        return [], 0
    values = _flatten(data)
    ts = data.get("ts")
    if isinstance(ts, float) and not math.isfinite(ts):
        return [], len(values)
    ts = float(ts) if isinstance(ts, int | float) and not isinstance(ts, bool) else pl.now()
    svc = parts[0]
    if (len(parts) == 3 and parts[1] == "channel") or (len(parts) == 2 and parts[1] == "channels"):
        cid = parts[2] if len(parts) == 3 else data.get("id")
        if cid is None:
            return [], 0
        meas = f"{svc}.channel"
        tags = {"service": svc, "channel": _tag(cid), "module": _tag(data.get("module"))}
    elif svc in environment and len(parts) == 2 and parts[1] != "status":
        meas = "sensors"
        tags = {"sensor": parts[1], "location": _tag(data.get("location")),
                "kind": _tag(data.get("kind"))}  # fmt: skip
    else:
        meas = ".".join(parts)
        tags = {"service": svc}
    # an empty tag cannot be stored by InfluxDB: leave it out everywhere
    tag_tuple = tuple(sorted((k, v) for k, v in tags.items() if v))
    good = [Point(meas, f, v, ts, tag_tuple) for f, v in values.items() if math.isfinite(v)]
    return good, len(values) - len(good)


def excluded(patterns: Collection[str], topic: str) -> bool:
    """A leading slash is no level of its own here: `+/cmd/#` excludes `/hv/cmd/x` too."""
    bare = topic.lstrip("/")
    return any(matches(p, topic) or matches(p, bare) for p in patterns)


class RecorderService(Service):
    section = "recorder"
    default_name = "recorder"
    persistent_session = True  # the broker keeps what is published while we restart
    cfg: RecorderConfig

    def __init__(self, stand: StandBase, name: str | None = None):
        super().__init__(stand, name)
        self.historian = open_historian(stand)
        self.backend = stand.storage.historian.split(":", 1)[0]
        # every environment service's readings go to the one `sensors` measurement
        self.environment = frozenset(peers.environment(stand)) or frozenset({"sensors"})
        self.buffer = DiskBuffer(stand.data_dir / f"{self.name}-buffer",
                                 int(self.cfg.buffer_max_mb * 1024 * 1024))  # fmt: skip
        self.journal = Journal(stand.data_dir / f"{self.name}-journal")
        if leftovers := self.journal.leftovers():
            self.buffer.append(leftovers)  # received by a recorder that was killed
            self.log.warning("%d points a previous run had received recovered", len(leftovers))
        self.journal.clear()
        self._pending: list[Point] = []
        self._wake = asyncio.Event()
        self.written = 0
        self.malformed = 0
        self.rejected = 0
        self.up = True
        self.last_error = ""
        self.subscribe("#", self._on_message)
        self.status_publisher = StatePublisher(self.bus, f"{self.name}/status")
        self.every(1.0, lambda: self.status_publisher.offer(self.status()))

    def republish(self) -> None:
        self.status_publisher.offer(self.status(), force=True)

    def _on_message(self, msg: Message) -> None:
        if excluded(self.cfg.exclude, msg.topic):
            return
        if msg.topic.startswith(f"{self.name}/"):
            return  # our own status would feed back into itself
        try:
            points, rejected = decode(msg.topic, msg.payload, self.environment)
        except ValueError:
            self.malformed += 1
            self.log.debug("malformed JSON on %s ignored", msg.topic)
            return
        except RecursionError:
            self.malformed += 1
            return
        if rejected:
            self.rejected += rejected
            self.log.warning("%s: %d value(s) not a finite number (or no valid ts), not stored",
                             msg.topic, rejected)  # fmt: skip
        if points:
            self.journal.add(points)
            self._pending.extend(points)
            if len(self._pending) >= self.cfg.batch_size:
                self._wake.set()

    # -- writing (one coroutine: the historian call runs on a worker thread) ---------------
    def _take(self) -> list[Point]:
        batch = self._pending[: self.cfg.batch_size]
        del self._pending[: self.cfg.batch_size]
        return batch

    async def _write(self, batch: list[Point]) -> bool:
        try:
            await asyncio.to_thread(self.historian.write, batch)
        except HistorianError as exc:
            if self.up:
                self.log.error("historian unreachable, buffering on disk: %s", exc)
            self.up = False
            self.last_error = str(exc)
            return False
        if not self.up:
            self.log.info("historian back")
        self.up = True
        self.written += len(batch)
        return True

    async def drain(self) -> None:
        """Replay the disk buffer oldest first; then write what is pending."""
        while self.buffer:
            item = self.buffer.oldest()
            if item is None:
                break
            path, batch = item
            if not await self._write(batch):
                break
            self.buffer.remove(path)
        # while the historian is down, new points go to disk too (behind what is already
        # buffered, so the order is kept), never pile up in memory
        taken = self.journal.rotate()
        while batch := self._take():
            if self.buffer or not await self._write(batch):
                self.buffer.append(batch)
        self.journal.done(taken)  # the loop above took everything: all of it is safe

    async def main(self) -> None:
        while True:
            try:
                await asyncio.wait_for(
                    self._wake.wait(), self.cfg.flush_interval if self.up else self.cfg.retry
                )
            except TimeoutError:
                pass  # fmt: skip
            self._wake.clear()
            try:
                await self.drain()
            except Exception:
                self.log.exception("writer failed")

    @command("flush", help="write everything pending now")
    async def flush(self, cmd: Command) -> dict[str, Any]:
        await self.drain()
        return self.status()

    # -- status ----------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "connected": self.up,
            "written": self.written,
            "pending": len(self._pending),
            "buffered_points": self.buffer.points,
            "buffer_bytes": self.buffer.bytes,
            "dropped": self.buffer.dropped,
            "malformed": self.malformed,
            "rejected": self.rejected,
            "last_error": self.last_error,
        }

    async def shutdown(self) -> None:
        # what could not be written survives the restart on disk
        rest, self._pending = self._pending, []
        if rest:
            self.buffer.append(rest)
        self.journal.clear()
        self.historian.close()
