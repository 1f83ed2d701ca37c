"""A minimal service used to test the platform itself (stand-in for a device service)."""

from __future__ import annotations

import signal
import sys

from trackerdcs.bus import BadCommand, Command, Refused
from trackerdcs.config import load_stand
from trackerdcs.runtime import logs
from trackerdcs.runtime.service import Service


class Dummy(Service):
    default_name = "dummy"
    period = 0.2

    def setup(self) -> None:
        self.value = 0.0
        self.commands.add("set", self.set_value)
        self.commands.add("boom", self.boom)
        self.commands.add("item/+/set", self.set_item)

    def on_connect(self) -> None:
        self.publish()

    def publish(self) -> None:
        self.publish_state("state", {"value": self.value, "fsm_state": "READY"})

    def set_value(self, cmd: Command) -> dict[str, float]:
        v = cmd.number()
        if v > 100:
            raise Refused(f"value {v} above the limit 100")
        self.value = v
        self.publish()
        return {"value": v}

    def set_item(self, cmd: Command) -> dict[str, str]:
        if cmd.args[0] not in ("a", "b"):
            raise BadCommand(f"no item {cmd.args[0]!r}")
        return {"item": cmd.args[0]}

    def boom(self, cmd: Command) -> None:
        raise RuntimeError("simulated bug")


if __name__ == "__main__":
    logs.setup()
    svc = Dummy(load_stand(sys.argv[1]), name=sys.argv[2] if len(sys.argv) > 2 else None)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: svc.stop())
    svc.run()
