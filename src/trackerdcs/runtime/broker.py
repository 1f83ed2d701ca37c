"""Embedded pure-Python MQTT broker (amqtt) so the demo needs nothing but `pip install`.

Production and the tests use Mosquitto; amqtt is slower (~7k msg/s) but speaks the same
protocol, keeps retained messages and sends last wills. Two of its faults are mended here
(tests/platform/test_embedded_broker.py checks the subscription semantics against it).
"""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import Any

from amqtt.broker import Broker

log = logging.getLogger("trackerdcs.broker")


class _Snapshots(dict):
    """amqtt 0.12.1 walks its subscriptions across awaits (the retained messages of a new
    session) while other sessions subscribe: `RuntimeError: dictionary changed size during
    iteration` dropped connections at every demo start. Iterating walks a copy."""

    def __iter__(self):
        return iter(list(super().keys()))

    def items(self):
        return list(super().items())

    def keys(self):
        return list(super().keys())

    def values(self):
        return list(super().values())


class MendedBroker(Broker):
    """amqtt's Broker with retained messages sent only for the session's own subscriptions.

    amqtt 0.12.1, on every CONNECT, walks *every* filter any session holds and sends the new
    client each retained message matching any of them: a client subscribed to `runs/status`
    alone received `dcs/channel/1`, `julabo/status` … (anyone's `+/+` or `#`). The spec
    (MQTT-3.3.1-6) sends retained messages for the subscriptions the client makes; the
    session-resume path this code is for (a persistent session's own filters) is kept."""

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        self._subscriptions: dict[str, Any] = _Snapshots(self._subscriptions)

    async def _publish_retained_messages_for_subscription(
        self, subscription: tuple[str, int], session: Any
    ) -> None:
        topic_filter = subscription[0]
        own = [q for s, q in self._subscriptions.get(topic_filter, ())
               if s.client_id == session.client_id]  # fmt: skip
        if own:
            await super()._publish_retained_messages_for_subscription((topic_filter, max(own)),
                                                                      session)  # fmt: skip


def broker_config(host: str, port: int) -> dict:
    return {
        "listeners": {"default": {"type": "tcp", "bind": f"{host}:{port}"}},
        "plugins": {
            "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True},
        },
    }


async def serve(host: str, port: int, stop: asyncio.Event) -> None:
    broker = MendedBroker(broker_config(host, port))
    await broker.start()
    log.info("embedded MQTT broker listening on %s:%d", host, port)
    await stop.wait()
    await broker.shutdown()


def run(host: str = "127.0.0.1", port: int = 1883) -> None:
    # amqtt's session state machine logs every transition of every client at INFO
    logging.getLogger("transitions").setLevel(logging.WARNING)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await serve(host, port, stop)

    asyncio.run(main())
