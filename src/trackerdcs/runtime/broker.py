"""Embedded pure-Python MQTT broker (amqtt) so the demo needs nothing but `pip install`.

Production and the tests use Mosquitto; amqtt is slower (~7k msg/s) but speaks the same
protocol, keeps retained messages and sends last wills.
"""

from __future__ import annotations

import asyncio
import logging
import signal

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


def broker_config(host: str, port: int) -> dict:
    return {
        "listeners": {"default": {"type": "tcp", "bind": f"{host}:{port}"}},
        "plugins": {
            "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True},
        },
    }


async def serve(host: str, port: int, stop: asyncio.Event) -> None:
    from amqtt.broker import Broker

    broker = Broker(broker_config(host, port))
    broker._subscriptions = _Snapshots(broker._subscriptions)
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
