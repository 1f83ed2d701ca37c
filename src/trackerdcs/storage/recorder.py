"""The recorder service (`trackerdcs run recorder`): every field on the bus into the
historian, named by the stand's history schema (`storage/schema.py`), at the message's own
timestamp, thinned to what changed (`storage/thinning.py`), pruned by retention.

Writes are batched by one coroutine (the historian call runs on a worker thread). When
the historian is unreachable, batches go to a
bounded disk buffer and are replayed in order when it returns; since both historians store
a point once per (series, timestamp), a batch replayed twice cannot duplicate anything.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Collection
from typing import Any

from trackerdcs.config.model import StandBase
from trackerdcs.core.commands import Command, command
from trackerdcs.core.publisher import StatePublisher
from trackerdcs.core.service import Service
from trackerdcs.core.topics import matches
from trackerdcs.storage.buffer import DiskBuffer
from trackerdcs.storage.config import RecorderConfig
from trackerdcs.storage.events import EventLog
from trackerdcs.storage.historian import HistorianError, RejectedData, open_historian
from trackerdcs.storage.journal import Journal
from trackerdcs.storage.points import Point
from trackerdcs.storage.receiver import Receiver, waker
from trackerdcs.storage.schema import Schema, decode, for_stand
from trackerdcs.storage.thinning import Thinning


def to_points(topic: str, raw: bytes, environment: Collection[str] = ("sensors",),
              schema: Schema | None = None) -> list[Point]:  # fmt: skip
    """The points one bus message carries (empty when it carries no number)."""
    return decode(topic, raw, schema, environment)[0]


def excluded(patterns: Collection[str], topic: str) -> bool:
    """A leading slash is no level of its own here: `+/cmd/#` excludes `/hv/cmd/x` too."""
    bare = topic.lstrip("/")
    return any(matches(p, topic) or matches(p, bare) for p in patterns)


class Exclusions:
    """`excluded` for one set of patterns, remembered per topic (a stand has few topics)."""

    def __init__(self, patterns: Collection[str]):
        self.patterns = tuple(patterns)
        self._seen: dict[str, bool] = {}

    def __call__(self, topic: str) -> bool:
        hit = self._seen.get(topic)
        if hit is None:
            if len(self._seen) > 100_000:  # topics made up by a fuzzer: do not grow for ever
                self._seen.clear()
            hit = self._seen[topic] = excluded(self.patterns, topic)
        return hit


class RecorderService(Service):
    section = "recorder"
    default_name = "recorder"
    cfg: RecorderConfig

    def __init__(self, stand: StandBase, name: str | None = None):
        super().__init__(stand, name)
        self.historian = open_historian(stand)
        self.backend = stand.storage.historian.split(":", 1)[0]
        self.schema = for_stand(stand, self.cfg.schema_)
        self.excluded = Exclusions(self.cfg.exclude)
        self.events = EventLog(time.time)
        self.thinning = Thinning(self.cfg.deadbands, self.cfg.keepalive)
        self._pruned_at = 0.0
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
        self.refused = 0  # points the historian refused (RejectedData), one by one
        self.up = True
        self.last_error = ""
        self.receiver: Receiver | None = None
        self._rx = asyncio.Event()
        # online only once the receiver has subscribed: a point published the moment we say
        # online would otherwise reach no session of ours (a first start has none yet)
        self._listening = asyncio.Event()
        self.bus.announce_when(self._listening)
        self._markers: dict[str, asyncio.Future[None]] = {}
        self._own, self._sync_topic = f"{self.name}/", f"{self.name}/sync"  # per message
        self.status_publisher = StatePublisher(self.bus, f"{self.name}/status")
        self.every(1.0, lambda: self.status_publisher.offer(self.status()))

    def republish(self) -> None:
        self.status_publisher.offer(self.status(), force=True)

    async def _receive(self) -> None:
        """Bursts from the receiver: journalled, flushed once, then acknowledged."""
        loop = asyncio.get_running_loop()
        # the receiver holds the session the broker keeps for us (the same id the bus client
        # had before it, so an upgraded stand keeps what was queued)
        self.receiver = Receiver(self.bus.cfg, self.session_id(), "#", waker(loop, self._rx),
                                 waker(loop, self._listening))  # fmt: skip
        self.receiver.start()
        while True:
            await self._rx.wait()
            self._rx.clear()
            burst = self.receiver.take()
            for m in burst:
                self._on_message(m.topic, m.payload, m.retain)
            self.journal.flush()
            self.receiver.ack(burst)

    def _on_message(self, topic: str, payload: bytes, retained: bool = False) -> None:
        if topic == self._sync_topic:
            seen = self._markers.get(payload.decode(errors="replace"))
            if seen is not None and not seen.done():
                seen.set_result(None)
            return
        if topic.startswith(self._own):
            return  # our own status would feed back into itself
        if self.cfg.events and (events := self.events.feed(topic, payload, retained)):
            self._keep(events)  # every one of them: no thinning, commands are not recorded
        if self.excluded(topic):
            return
        try:
            points, rejected = decode(topic, payload, self.schema)
        except ValueError:
            self.malformed += 1
            self.log.debug("malformed JSON on %s ignored", topic)
            return
        except RecursionError:
            self.malformed += 1
            return
        if rejected:
            self.rejected += rejected
            self.log.warning("%s: %d value(s) not a finite number (or no valid ts), not stored",
                             topic, rejected)  # fmt: skip
        kept = [q for p in points for q in self.thinning.admit(p)]
        if kept:
            self._keep(kept)

    def _keep(self, points: list[Point]) -> None:
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
        except RejectedData as exc:
            # the historian is there and refuses some of these points: retrying the batch
            # would block everything behind it for ever; halves until the bad ones are alone
            if len(batch) == 1:
                self.refused += 1
                self.last_error = str(exc)
                self.log.error("point refused by the historian, not stored: %s %s: %s",
                               batch[0].measurement, batch[0].field, exc)  # fmt: skip
                return True
            half = len(batch) // 2
            return await self._write(batch[:half]) and await self._write(batch[half:])
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
        self.spawn(self._receive(), "receive")
        while True:
            try:
                await asyncio.wait_for(
                    self._wake.wait(), self.cfg.flush_interval if self.up else self.cfg.retry
                )
            except TimeoutError:
                pass  # fmt: skip
            self._wake.clear()
            if swept := self.thinning.sweep(time.time()):
                self._keep(swept)
            if self.cfg.events and (late := self.events.sweep()):
                self._keep(late)
            try:
                await self.drain()
            except Exception:
                self.log.exception("writer failed")
            await self._prune()

    async def _prune(self) -> None:
        r = self.cfg.retention
        prune = getattr(self.historian, "prune", None)
        if prune is None or time.monotonic() - self._pruned_at < r.prune_every:
            return
        self._pruned_at = time.monotonic()
        try:
            n = await asyncio.to_thread(prune, time.time(), r.raw_days,
                                        {60: r.minute_days, 3600: r.hour_days})  # fmt: skip
        except HistorianError as exc:
            self.log.warning("retention pass failed: %s", exc)
            return
        if n:
            self.log.info("retention: %d rows past their time deleted", n)

    @command("flush", role="viewer", help="write everything published before this command, now")
    async def flush(self, cmd: Command) -> dict[str, Any]:
        await self._sync()
        await self.drain()
        return self.status()

    async def _sync(self, timeout: float = 5.0) -> None:
        """Wait until the receiver has everything the broker had before this moment: the
        command came on another connection, so a marker goes through the receiver's."""
        if self.receiver is None or not self.receiver.connected:
            return
        nonce = uuid.uuid4().hex
        seen = asyncio.get_running_loop().create_future()
        self._markers[nonce] = seen
        self.bus.publish(self._sync_topic, nonce)
        try:
            await asyncio.wait_for(seen, timeout)
        except TimeoutError:
            self.log.warning("flush: the receiver did not see its marker within %g s", timeout)
        finally:
            self._markers.pop(nonce, None)

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
            "schema": self.schema.name,
            "received_values": self.thinning.seen,
            "stored_values": self.thinning.kept,
            # InfluxDB: points older than its raw retention policy keeps (refused, not retried)
            "expired": getattr(self.historian, "expired", 0),
            # points the historian itself refuses (a value it cannot hold; InfluxDB: a field
            # whose type an existing database fixed otherwise): counted, never retried
            "refused": self.refused + getattr(self.historian, "conflicts", 0),
            "last_error": self.last_error,
        }

    async def shutdown(self) -> None:
        if self.receiver is not None:
            self.receiver.stop()  # unacknowledged messages are the broker's to send again
        # what could not be written survives the restart on disk
        rest, self._pending = self._pending, []
        if rest:
            self.buffer.append(rest)
        self.journal.clear()
        self.historian.close()
