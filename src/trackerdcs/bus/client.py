"""The one MQTT client every service uses.

paho-mqtt runs the network loop in its own thread and reconnects with backoff. Message
callbacks are handed to a single dispatch thread so that a slow handler (a serial write, an
EPICS put) never stalls keepalives, and handlers of one service never run concurrently.
"""

from __future__ import annotations

import logging
import os
import queue
import socket
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from trackerdcs.bus import payload as pl
from trackerdcs.bus import topics
from trackerdcs.config.bus import BusConfig

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


class Bus:
    """Connection to the broker for one service.

    `service` names the availability topic `<service>/online` (retained `true`, and `false`
    as last will). Retained publishes are remembered and replayed after a reconnect, so a
    broker restarted without persistence gets the current state back.
    """

    def __init__(
        self,
        cfg: BusConfig,
        service: str | None = None,
        client_id: str | None = None,
        announce: bool = True,
    ):
        self.cfg = cfg
        self.service = service
        self.announce = announce and service is not None
        cid = client_id or f"{service or 'client'}-{socket.gethostname()}-{os.getpid()}"
        self._client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=cid,
            protocol=mqtt.MQTTv311,
            clean_session=True,
        )
        self._client.max_queued_messages_set(0)
        self._client.max_inflight_messages_set(100)
        self._client.reconnect_delay_set(
            min_delay=max(1, int(cfg.reconnect_min)), max_delay=max(1, int(cfg.reconnect_max))
        )
        if cfg.username:
            self._client.username_pw_set(cfg.username, cfg.password())
        if cfg.tls:
            self._client.tls_set(
                ca_certs=str(cfg.tls.ca_file) if cfg.tls.ca_file else None,
                certfile=str(cfg.tls.certfile) if cfg.tls.certfile else None,
                keyfile=str(cfg.tls.keyfile) if cfg.tls.keyfile else None,
                cert_reqs=ssl.CERT_REQUIRED,
            )
            self._client.tls_insecure_set(cfg.tls.insecure)
        if self.announce:
            self._client.will_set(topics.online(service), b"false", qos=1, retain=True)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message

        self._subs: list[tuple[str, Handler, int]] = []
        self._hooks: list[Hook] = []
        self._retained: dict[str, bytes] = {}
        self._lock = threading.RLock()
        self._queue: queue.Queue[tuple[str, Any] | None] = queue.Queue()
        self._worker: threading.Thread | None = None
        self.connected = threading.Event()
        self._closing = False
        self.connect_count = 0
        self.last_error: str | None = None

    # -- lifecycle -------------------------------------------------------------------------
    def start(self, wait: float | None = 10.0) -> bool:
        """Connect in the background (retrying forever). With `wait`, block until connected."""
        self._worker = threading.Thread(target=self._dispatch, name="bus-dispatch", daemon=True)
        self._worker.start()
        self._client.connect_async(self.cfg.host, self.cfg.port, keepalive=self.cfg.keepalive)
        self._client.loop_start()
        if wait:
            return self.connected.wait(wait)
        return self.connected.is_set()

    def stop(self, timeout: float = 3.0) -> None:
        """Clean shutdown: say we are going offline (the will is not sent on a clean disconnect)."""
        try:
            if self.connected.is_set() and self.announce:
                info = self._client.publish(topics.online(self.service), b"false", 1, True)
                info.wait_for_publish(timeout)
        except Exception as exc:  # the broker may already be gone
            log.debug("offline announcement failed: %s", exc)
        self._closing = True
        self._client.disconnect()
        self._client.loop_stop()
        self._queue.put(None)
        if self._worker:
            self._worker.join(timeout)

    def wait_connected(self, timeout: float) -> bool:
        return self.connected.wait(timeout)

    # -- publishing --------------------------------------------------------------------------
    def publish(self, topic: str, payload: Any, *, retain: bool = False, qos: int = 1) -> None:
        raw = pl.encode(payload)
        if retain:
            with self._lock:
                self._retained[topic] = raw
        # paho queues QoS>0 messages while disconnected and sends them on reconnect
        self._client.publish(topic, raw, qos=qos, retain=retain)

    def publish_state(self, topic: str, data: dict[str, Any], *, retain: bool = True) -> None:
        """Publish JSON state with a `ts`, retained by default so late subscribers see it."""
        self.publish(topic, pl.stamped(data), retain=retain)

    def clear_retained(self, topic: str) -> None:
        with self._lock:
            self._retained.pop(topic, None)
        self._client.publish(topic, b"", qos=1, retain=True)

    # -- subscribing -------------------------------------------------------------------------
    def subscribe(self, pattern: str, handler: Handler, qos: int = 1) -> None:
        with self._lock:
            self._subs.append((pattern, handler, qos))
        if self.connected.is_set():
            self._client.subscribe(pattern, qos)

    def on_connect(self, hook: Hook) -> None:
        """Run `hook` (in the dispatch thread) after every connect and reconnect."""
        self._hooks.append(hook)

    def call_soon(self, fn: Hook) -> None:
        """Run `fn` in the dispatch thread, serialised with message handlers."""
        self._queue.put(("call", fn))

    # -- paho callbacks (network thread) -----------------------------------------------------
    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self.last_error = str(reason_code)
            log.error("broker refused connection: %s", reason_code)
            return
        self.connect_count += 1
        log.info(
            "connected to %s:%s (connection %d)", self.cfg.host, self.cfg.port, self.connect_count
        )
        with self._lock:
            subs = list(self._subs)
            retained = dict(self._retained)
        seen: set[str] = set()
        for pattern, _h, qos in subs:
            if pattern not in seen:
                client.subscribe(pattern, qos)
                seen.add(pattern)
        if self.announce:
            client.publish(topics.online(self.service), b"true", qos=1, retain=True)
        for topic, raw in retained.items():
            client.publish(topic, raw, qos=1, retain=True)
        self.connected.set()
        for hook in self._hooks:
            self._queue.put(("call", hook))

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        was = self.connected.is_set()
        self.connected.clear()
        if was and not self._closing:
            log.warning("disconnected from broker (%s); reconnecting", reason_code)

    def _on_message(self, client, userdata, msg: mqtt.MQTTMessage) -> None:
        self._queue.put(("msg", Message(msg.topic, bytes(msg.payload), bool(msg.retain))))

    # -- dispatch thread ---------------------------------------------------------------------
    def _dispatch(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            kind, obj = item
            try:
                if kind == "call":
                    obj()
                    continue
                with self._lock:
                    subs = list(self._subs)
                for pattern, handler, _qos in subs:
                    if topics.matches(pattern, obj.topic):
                        handler(obj)
            except Exception:
                # a bug in one handler must not take the service off the bus
                log.exception("handler failed")
