"""The peer of the interlock chain: one bare paho-mqtt relay process (no framework).

`paho_relay.py HOST PORT USER PASSWORD_FILE IN_TOPIC --to OUT_TOPIC` republishes every message;
`... --log FILE` appends the arrival time instead (the end of the chain, like the put log);
`... --count N --done FILE` only counts, and writes the time the Nth message arrived (the
peer of the recorder: a subscriber that receives and does nothing else).
Three of these in a row make the same number of bus hops as sensors -> safety -> dcs.
"""

from __future__ import annotations

import argparse
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
    ap.add_argument("topic")
    ap.add_argument("--to")
    ap.add_argument("--log")
    ap.add_argument("--count", type=int)
    ap.add_argument("--done")
    ap.add_argument("--ready", help="topic saying it is subscribed (default IN_TOPIC/ready)")
    args = ap.parse_args()
    received = 0
    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2)
    client.username_pw_set(args.user, Path(args.password_file).read_text().strip())
    log = open(args.log, "a", buffering=1) if args.log else None  # noqa: SIM115

    def on_connect(c: mqtt.Client, *_: object) -> None:
        c.subscribe(args.topic, qos=1)
        c.publish(args.ready or f"{args.topic}/ready", b"1", qos=1, retain=True)

    def on_message(c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        nonlocal received
        if args.count:
            received += 1
            if received == args.count:
                Path(args.done).write_text(f"{time.time()}\n")
                c.disconnect()
        elif log is not None:
            log.write(f"{time.time()}\n")
        else:
            c.publish(args.to, msg.payload, qos=1)

    client.on_connect = on_connect
    client.on_message = on_message
    client.connect(args.host, args.port, keepalive=30)
    client.loop_forever()


if __name__ == "__main__":
    main()
