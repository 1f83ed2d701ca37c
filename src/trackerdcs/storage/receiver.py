"""The recorder's own MQTT subscription: paho-mqtt on its thread, with manual acknowledgement.

Messages are queued as they arrive; the recorder takes them in bursts on its event loop,
journals them, flushes the journal once, and only then acknowledges them (PUBACK). So a
recorder killed at any moment has every acknowledged message on disk, and the broker
redelivers the others (persistent session, QoS 1). A burst costs one flush and no asyncio
task per message: the bus client's iterator made a task and a wait for each one.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass

from trackerdcs.core import paho_import  # noqa: F401  # before paho: see there

# isort: split
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from trackerdcs.config.bus import BusConfig

log = logging.getLogger("trackerdcs.recorder.rx")


@dataclass(frozen=True)
class Received:
    topic: str
    payload: bytes
    retain: bool
    mid: int
    qos: int


class Receiver:
    def __init__(self, cfg: BusConfig, client_id: str, pattern: str, wake: Callable[[], None],
                 subscribed: Callable[[], None] = lambda: None):  # fmt: skip
        self.cfg = cfg
        self.pattern = pattern
        self._wake = wake
        self._subscribed = subscribed
        self._lock = threading.Lock()
        self._inbox: list[Received] = []
        self.connected = False
        c = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id=client_id,
                        clean_session=False, manual_ack=True)  # fmt: skip
        if cfg.username:
            c.username_pw_set(cfg.username, cfg.password())
        if cfg.tls:
            c.tls_set(ca_certs=str(cfg.tls.ca_file) if cfg.tls.ca_file else None,
                      certfile=str(cfg.tls.certfile) if cfg.tls.certfile else None,
                      keyfile=str(cfg.tls.keyfile) if cfg.tls.keyfile else None,
                      cert_reqs=ssl.CERT_REQUIRED)  # fmt: skip
            c.tls_insecure_set(cfg.tls.insecure)
        c.reconnect_delay_set(max(1, round(cfg.reconnect_min)), max(1, round(cfg.reconnect_max)))
        c.max_inflight_messages_set(1000)
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_message = self._on_message
        c.on_subscribe = lambda *_: self._subscribed()
        c.on_socket_open = self._on_socket_open
        self.client = c

    def start(self) -> None:
        self.client.connect_async(self.cfg.host, self.cfg.port, keepalive=self.cfg.keepalive)
        self.client.loop_start()

    def stop(self) -> None:
        self.connected = False  # a disconnect we asked for: nothing to warn about
        self.client.disconnect()
        self.client.loop_stop()

    # -- paho's thread -----------------------------------------------------------------------
    def _on_socket_open(self, client: mqtt.Client, _u: object, sock: object) -> None:
        # small messages at once (Nagle held each behind the broker's delayed ACK)
        if isinstance(sock, socket.socket):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _on_connect(self, client: mqtt.Client, _u: object, _f: object, reason: object,
                    _p: object = None) -> None:  # fmt: skip
        if getattr(reason, "is_failure", False):
            log.warning("recorder subscription refused by the broker: %s", reason)
            return
        self.connected = True
        client.subscribe(self.pattern, qos=1)

    def _on_disconnect(self, *_: object) -> None:
        if self.connected:
            log.warning("recorder subscription disconnected; paho reconnects")
        self.connected = False

    def _on_message(self, _c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        with self._lock:
            first = not self._inbox
            self._inbox.append(Received(msg.topic, bytes(msg.payload), bool(msg.retain),
                                        msg.mid, msg.qos))  # fmt: skip
        if first:
            self._wake()

    # -- the recorder's loop -------------------------------------------------------------------
    def take(self) -> list[Received]:
        with self._lock:
            burst, self._inbox = self._inbox, []
        return burst

    def ack(self, burst: list[Received]) -> None:
        for m in burst:
            if m.qos > 0:
                self.client.ack(m.mid, m.qos)


def waker(loop: asyncio.AbstractEventLoop, event: asyncio.Event) -> Callable[[], None]:
    """A callable for paho's thread that sets `event` on `loop`."""

    def wake() -> None:
        loop.call_soon_threadsafe(event.set)

    return wake
