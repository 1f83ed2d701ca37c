"""The load of the recorder benchmark: one bare paho-mqtt process publishing N messages of
F numeric fields (each with its `ts`) at QoS 1, as fast as the broker takes them (1000 in
flight), on `bench/dev<i % 100>/status`. Prints JSON: the wall time of the first publish and
of the last PUBACK. Outside the measured processes, so that neither the recorder nor its peer
shares a process with the load.

Run: paho_publisher.py HOST PORT USER PASSWORD_FILE N [--fields 10]
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("user")
    ap.add_argument("password_file")
    ap.add_argument("messages", type=int)
    ap.add_argument("--fields", type=int, default=10)
    args = ap.parse_args()
    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2)
    client.username_pw_set(args.user, Path(args.password_file).read_text().strip())
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    acked = 0
    done = threading.Event()

    def on_publish(*_: object) -> None:
        nonlocal acked
        acked += 1
        if acked == args.messages:
            done.set()

    client.on_publish = on_publish
    client.connect(args.host, args.port, keepalive=30)
    client.loop_start()
    base = time.time() - args.messages * 0.001
    start = time.time()
    for i in range(args.messages):
        body = {f"f{k}": float(i + k) for k in range(args.fields)}
        body["ts"] = base + i * 0.001
        client.publish(f"bench/dev{i % 100}/status", json.dumps(body), qos=1)
    done.wait(600)
    print(json.dumps({"start": start, "acked": time.time(), "messages": acked}))
    client.loop_stop()
    client.disconnect()


if __name__ == "__main__":
    main()
