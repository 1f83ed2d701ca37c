"""A minimal service used to test the platform itself (stand-in for a device service)."""

from __future__ import annotations

import sys

from trackerdcs.config import load_stand
from trackerdcs.core.commands import BadCommand, Command, Number, Refused, command
from trackerdcs.core.service import Service, defer_signals
from trackerdcs.runtime import logs


class Dummy(Service):
    default_name = "dummy"

    def __init__(self, *args: object, **kw: object) -> None:
        super().__init__(*args, **kw)  # type: ignore[arg-type]
        self.value = 0.0

    def on_connect(self) -> None:
        self.publish()

    def publish(self) -> None:
        self.publish_state("state", {"value": self.value, "fsm_state": "READY"})

    @command("set", Number)
    def set_value(self, cmd: Command, body: Number) -> dict[str, float]:
        if body.value > 100:
            raise Refused(f"value {body.value} above the limit 100")
        self.value = body.value
        self.publish()
        return {"value": body.value}

    @command("item/+/set")
    def set_item(self, cmd: Command) -> dict[str, str]:
        if cmd.args[0] not in ("a", "b"):
            raise BadCommand(f"no item {cmd.args[0]!r}")
        return {"item": cmd.args[0]}

    @command("boom")
    def boom(self, cmd: Command) -> None:
        raise RuntimeError("simulated bug")


if __name__ == "__main__":
    defer_signals()
    logs.setup()
    Dummy(load_stand(sys.argv[1]), name=sys.argv[2] if len(sys.argv) > 2 else None).run()
