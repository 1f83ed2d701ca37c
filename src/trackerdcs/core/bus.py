"""The MQTT bus of one service, on the service's asyncio loop (aiomqtt).

Everything a service does happens on one loop: message handlers, commands, device polls and
procedures never run at the same time, so no state needs a lock. Handlers are plain
functions that must not block; slow work (a serial exchange, a procedure) runs as a task.

The connection is kept by `run()`: connect, subscribe, announce `<service>/online`, replay
retained state, dispatch messages; on loss, reconnect with backoff. Retained publishes are
remembered and replayed after a reconnect, so a broker restarted without persistence gets
the current state back. A non-retained message published while disconnected is dropped and
counted: it would be stale by the time the broker is back.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import ssl
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from trackerdcs.core import paho_import  # noqa: F401  # before aiomqtt: see there

# isort: split
import aiomqtt

from trackerdcs.config.bus import BusConfig
from trackerdcs.core import payload as pl
from trackerdcs.core import topics
from trackerdcs.core.backoff import Backoff

log = logging.getLogger("trackerdcs.bus")


@dataclass(frozen=True)
class Message:
    topic: str
    payload: bytes
    retain: bool = False
    received: float = field(default_factory=pl.now)

    @property
    def text(self) -> str:
        return self.payload.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """Decoded JSON; raises ValueError on malformed payloads."""
        return pl.decode_json(self.payload)


Handler = Callable[[Message], None]
Hook = Callable[[], None]


PENDING_WARN = 1000  # publishes awaiting their PUBACK before aiomqtt warns


class Bus:
    """`service` names the availability topic `<service>/online` (retained `true`; `false` as
    the last will and on a clean stop). Without a service the client announces nothing."""

    def __init__(self, cfg: BusConfig, service: str | None = None, client_id: str | None = None,
                 clean_session: bool = True):  # fmt: skip
        self.cfg = cfg
        self.clean_session = clean_session
        self.service = service
        self.client_id = client_id or (
            f"{service or 'client'}-{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:4]}"
        )
        self._subs: list[tuple[str, Handler, int]] = []
        self._hooks: list[Hook] = []
        self._retained: dict[str, bytes] = {}
        self._client: aiomqtt.Client | None = None
        self._sending: set[asyncio.Task[None]] = set()
        self._waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._reply_topics: set[str] = set()
        self.connected = asyncio.Event()
        self.connect_count = 0
        self.dropped = 0
        self._closing = False
        self.last_error: str | None = None
        self._ready: asyncio.Event | None = None

    def announce_when(self, ready: asyncio.Event, timeout: float = 10.0) -> None:
        """Say `online` only once `ready` is set (at most `timeout` after connecting): a
        service with a second connection of its own (the recorder's receiver) is not
        available until that one is in place too."""
        self._ready, self._ready_timeout = ready, timeout

    # -- connection ------------------------------------------------------------------------
    def _make_client(self) -> aiomqtt.Client:
        c = self.cfg
        tls = None
        if c.tls:
            tls = aiomqtt.TLSParameters(
                ca_certs=str(c.tls.ca_file) if c.tls.ca_file else None,
                certfile=str(c.tls.certfile) if c.tls.certfile else None,
                keyfile=str(c.tls.keyfile) if c.tls.keyfile else None,
                cert_reqs=ssl.CERT_REQUIRED,
            )
        will = (
            aiomqtt.Will(topics.online(self.service), b"false", qos=1, retain=True)
            if self.service
            else None
        )
        client = aiomqtt.Client(
            c.host,
            c.port,
            username=c.username,
            password=c.password() if c.username else None,
            identifier=self.client_id,
            will=will,
            keepalive=c.keepalive,
            clean_session=self.clean_session,
            tls_params=tls,
            tls_insecure=c.tls.insecure if c.tls else None,
            max_inflight_messages=100,
            timeout=10,
            # small messages go out at once: without it, Nagle holds a publish behind the
            # PUBACK just sent until the broker's delayed ACK (40 ms per hop, measured)
            socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
        )
        # QoS 1 publishes wait for their PUBACK: a few dozen in flight is a busy stand, not
        # a problem (aiomqtt's default warns from 10 on, hundreds of lines a second)
        client.pending_calls_threshold = PENDING_WARN
        return client

    async def run(self) -> None:
        """Stay connected until cancelled."""
        backoff = Backoff(self.cfg.reconnect_min, self.cfg.reconnect_max)
        while True:
            try:
                async with self._make_client() as client:
                    self._client = client
                    backoff.reset()
                    await self._connected(client)
                    async for msg in client.messages:
                        self._dispatch(
                            Message(msg.topic.value, _raw(msg.payload), bool(msg.retain))
                        )
            except aiomqtt.MqttError as exc:
                self.last_error = str(exc)
                if self.connected.is_set() and not self._closing:
                    log.warning("disconnected from broker (%s); reconnecting", exc)
                else:
                    log.debug("broker not reachable: %s", exc)
            finally:
                self._client = None
                self.connected.clear()
                for fut in self._waiting.values():
                    if not fut.done():
                        fut.set_exception(ConnectionError("bus connection lost"))
            await asyncio.sleep(backoff.next())

    async def _connected(self, client: aiomqtt.Client) -> None:
        self.connect_count += 1
        log.info("connected to %s:%s (connection %d)", self.cfg.host, self.cfg.port,
                 self.connect_count)  # fmt: skip
        for pattern in dict.fromkeys(p for p, _h, _q in self._subs):
            await client.subscribe(pattern, qos=1)
        for topic in self._reply_topics:
            await client.subscribe(topic, qos=1)
        if self._ready is not None and not self._ready.is_set():
            try:
                await asyncio.wait_for(self._ready.wait(), self._ready_timeout)
            except TimeoutError:
                log.warning("not ready %g s after connecting; announcing online anyway",
                            self._ready_timeout)  # fmt: skip
        if self.service:
            self._send(topics.online(self.service), b"true", 1, True)
        for topic, raw in self._retained.items():
            self._send(topic, raw, 1, True)
        self.connected.set()
        for hook in self._hooks:
            try:
                hook()
            except Exception:
                log.exception("on-connect hook failed")

    async def close(self, timeout: float = 3.0) -> None:
        """Say we are going offline (a clean disconnect sends no will), then disconnect."""
        self._closing = True
        client = self._client
        if client is not None and self.service:
            try:
                await client.publish(topics.online(self.service), b"false", qos=1, retain=True,
                                     timeout=timeout)  # fmt: skip
            except (aiomqtt.MqttError, TimeoutError) as exc:
                log.debug("offline announcement failed: %s", exc)
        if self._sending:
            await asyncio.wait(self._sending, timeout=timeout)

    async def wait_connected(self, timeout: float) -> bool:
        try:
            await asyncio.wait_for(self.connected.wait(), timeout)
        except TimeoutError:
            return False
        return True

    # -- publishing ------------------------------------------------------------------------
    def publish(self, topic: str, payload: Any, *, retain: bool = False, qos: int = 1) -> None:
        """Queue a message; never blocks. Order of publishes is kept."""
        raw = pl.encode(payload)
        if retain:
            self._retained[topic] = raw
        if self._client is None:
            if not retain:
                self.dropped += 1
            return
        self._send(topic, raw, qos, retain)

    def _send(self, topic: str, raw: bytes, qos: int, retain: bool) -> None:
        assert self._client is not None
        # the paho publish inside runs at the task's first step: tasks start in creation order
        task = asyncio.get_running_loop().create_task(
            self._client.publish(topic, raw, qos=qos, retain=retain)
        )
        self._sending.add(task)
        task.add_done_callback(self._sent)

    def _sent(self, task: asyncio.Task[None]) -> None:
        self._sending.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.dropped += 1
            log.debug("publish failed: %s", task.exception())

    def publish_state(self, topic: str, data: dict[str, Any], *, retain: bool = True) -> None:
        """Publish JSON state with a `ts`, retained by default so late subscribers see it."""
        self.publish(topic, pl.stamped(data), retain=retain)

    def clear_retained(self, topic: str) -> None:
        self._retained.pop(topic, None)
        if self._client is not None:
            self._send(topic, b"", 1, True)

    # -- subscribing -----------------------------------------------------------------------
    def subscribe(self, pattern: str, handler: Handler) -> None:
        """`handler` runs on the loop for every matching message; it must not block."""
        new = all(p != pattern for p, _h, _q in self._subs)
        self._subs.append((pattern, handler, 1))
        if new and self._client is not None:
            client = self._client
            asyncio.get_running_loop().create_task(client.subscribe(pattern, qos=1))

    def on_connect(self, hook: Hook) -> None:
        """Run `hook` after every connect and reconnect (republish what must be current)."""
        self._hooks.append(hook)

    def _dispatch(self, msg: Message) -> None:
        if msg.topic in self._reply_topics:
            self._on_reply(msg)
        for pattern, handler, _qos in self._subs:
            if topics.matches(pattern, msg.topic):
                try:
                    handler(msg)
                except Exception:
                    # a bug in one handler must not take the service off the bus
                    log.exception("handler for %s failed", msg.topic)

    # -- request / reply -------------------------------------------------------------------
    def expect_replies(self, service: str) -> None:
        """Subscribe to `<service>/reply` from the start, so that the first `request` to it
        does not wait for a SUBACK (the interlock path)."""
        self._reply_topics.add(topics.reply(service))

    def _on_reply(self, msg: Message) -> None:
        try:
            reply = msg.json()
        except ValueError:
            return
        if isinstance(reply, dict) and not msg.retain:
            fut = self._waiting.pop(str(reply.get("id")), None)
            if fut is not None and not fut.done():
                fut.set_result(reply)

    async def request(
        self, service: str, command: str, payload: Any = None, timeout: float = 10.0,
        user: str | None = None, via: str | None = None,
    ) -> dict[str, Any]:  # fmt: skip
        """Send `<service>/cmd/<command>` with an id and return the reply (refusals included).
        Raises TimeoutError when no reply comes, ConnectionError when the bus is down."""
        if not await self.wait_connected(timeout):
            raise ConnectionError(f"bus not connected: cannot send {service}/{command}")
        reply_topic = topics.reply(service)
        if reply_topic not in self._reply_topics:
            self.expect_replies(service)
            assert self._client is not None
            await self._client.subscribe(reply_topic, qos=1)
        cid = f"{self.service or 'req'}-{uuid.uuid4().hex[:10]}"
        issued = pl.now()
        # a command carries its issue time and the moment we stop waiting for it: a service
        # refuses it after that, so it can never act once the sender has given up
        body: dict[str, Any] = {"id": cid, "ts": issued, "deadline": issued + timeout}
        if user or self.service:
            body["user"] = user or self.service
        if via:
            body["via"] = via
        if isinstance(payload, dict):
            body = {**payload, **body}
        elif payload is not None:
            body["value"] = payload
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[cid] = fut
        try:
            self.publish(topics.cmd(service, command), body)
            return await asyncio.wait_for(fut, timeout)
        finally:
            self._waiting.pop(cid, None)

    async def ask(self, service: str, command: str, payload: Any = None,
                  timeout: float = 10.0) -> str:  # fmt: skip
        """An order whose outcome is all the caller needs: "" when done, else
        `<command>: <why not>` (the refusal, or no reply)."""
        try:
            reply = await self.request(service, command, payload, timeout)
        except (TimeoutError, ConnectionError) as exc:
            return f"{command}: {exc or 'no reply'}"
        return "" if reply.get("ok") else f"{command}: {reply.get('error')}"


def _raw(payload: Any) -> bytes:
    if isinstance(payload, bytes | bytearray):
        return bytes(payload)
    if payload is None:
        return b""
    return str(payload).encode()
