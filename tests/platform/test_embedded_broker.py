"""The demo's embedded broker (`trackerdcs broker`, amqtt underneath) obeys MQTT subscription
semantics: a client gets what matches its own filters, retained messages included, and
nothing else — Node-RED flows, the CLI and the tests all rely on it. The clients are plain
paho clients, which hand over whatever the broker sends (our own bus client would filter)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import paho.mqtt.client as mqtt
import pytest

from trackerdcs.testing.mosquitto import free_port, wait_port

RETAINED = ("runs/status", "dcs/channel/1", "dcs/channel/1/lv", "julabo/status", "a", "a/b",
            "a/b/c", "x//y")  # fmt: skip


@pytest.fixture(scope="module")
def broker() -> Iterator[int]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "trackerdcs", "broker", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        wait_port("127.0.0.1", port, timeout=30)
        yield port
    finally:
        proc.terminate()
        proc.wait(20)


class Client:
    """A paho client that keeps every message the broker sends it."""

    def __init__(self, port: int, filters: tuple[str, ...], name: str):
        self.got: list[tuple[str, bool]] = []
        self.subscribed = threading.Event()
        self.c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=name)
        self.c.on_message = lambda _c, _u, m: self.got.append((m.topic, bool(m.retain)))
        self.c.on_subscribe = lambda *_: self.subscribed.set()
        self.filters = filters
        self.c.connect("127.0.0.1", port, keepalive=30)
        self.c.loop_start()
        if filters:
            self.c.subscribe([(f, 1) for f in filters])
            assert self.subscribed.wait(10), f"no SUBACK for {filters}"

    def topics(self) -> set[str]:
        return {t for t, _ in self.got}

    def close(self) -> None:
        self.c.loop_stop()
        self.c.disconnect()


def _settle(*clients: Client, quiet: float = 0.5, bound: float = 10) -> None:
    """Until no client has received anything for `quiet` s (bounded)."""
    deadline = time.monotonic() + bound
    last = -1
    while time.monotonic() < deadline:
        n = sum(len(c.got) for c in clients)
        if n == last:
            return
        last = n
        time.sleep(quiet)


def test_a_client_gets_only_what_its_own_filters_match(broker: int) -> None:
    wide = Client(broker, ("#", "+/+", "dcs/#"), "wide")  # other sessions' filters
    publisher = Client(broker, (), "publisher")
    for topic in RETAINED:
        publisher.c.publish(topic, b"1", qos=1, retain=True).wait_for_publish(10)
    _settle(wide)
    assert wide.topics() == set(RETAINED)

    cases = {
        ("runs/status",): {"runs/status"},
        ("a/+",): {"a/b"},
        ("a/#",): {"a", "a/b", "a/b/c"},  # '#' matches the parent level too
        ("+/+/c",): {"a/b/c"},
        ("x/+/y",): {"x//y"},  # '+' matches an empty level
        ("+",): {"a"},
        ("dcs/channel/+", "julabo/status"): {"dcs/channel/1", "julabo/status"},
        ("nothing/here",): set(),
    }
    clients = {filters: Client(broker, filters, f"c{i}") for i, filters in enumerate(cases)}
    _settle(*clients.values())
    for filters, want in cases.items():
        c = clients[filters]
        assert c.topics() == want, f"{filters}: got {sorted(c.topics())}"
        assert all(retain for _, retain in c.got), f"{filters}: {c.got}"

    # live messages: the same filters, retained flag off
    mark = {f: len(c.got) for f, c in clients.items()}
    for topic in ("runs/status", "a/b/c", "julabo/other"):
        publisher.c.publish(topic, b"2", qos=1).wait_for_publish(10)
    _settle(*clients.values())
    live = {f: {t for t, r in c.got[mark[f] :]} for f, c in clients.items()}
    assert live[("runs/status",)] == {"runs/status"}
    assert live[("a/#",)] == {"a/b/c"}
    assert live[("a/+",)] == set()
    assert live[("nothing/here",)] == set()
    for c in (*clients.values(), wide, publisher):
        c.close()


def test_dollar_topics_are_not_matched_by_wildcards_at_the_first_level() -> None:
    # amqtt refuses PUBLISH on a '$' topic from a client (MQTT-4.7.2-1), so no client can
    # make one here: the broker's own matching is asked directly
    from trackerdcs.runtime.broker import MendedBroker, broker_config

    async def matches(topic: str, topic_filter: str) -> bool:
        return bool(MendedBroker(broker_config("127.0.0.1", 0))._matches(topic, topic_filter))

    assert not asyncio.run(matches("$SYS/broker/uptime", "#"))
    assert not asyncio.run(matches("$SYS/broker/uptime", "+/broker/uptime"))
    assert asyncio.run(matches("$SYS/broker/uptime", "$SYS/#"))
    assert asyncio.run(matches("$SYS/broker/uptime", "$SYS/broker/+"))
