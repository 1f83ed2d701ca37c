"""Commands on `<service>/cmd/...`, answered on `<service>/reply` — always, refusals included.

A command payload may be the reference stack's plain form (`on`, `12.5`) or JSON. A JSON
object may carry `id` (echoed in the reply) and `user` (recorded in the log and audit trail).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from trackerdcs.bus import payload as pl
from trackerdcs.bus import topics
from trackerdcs.bus.client import Bus, Message

M = TypeVar("M", bound=BaseModel)


class Refused(Exception):
    """The command is understood but unsafe or impossible now; the reason goes to the sender."""


class BadCommand(Exception):
    """The payload is malformed or out of range; the message names the problem."""


@dataclass
class Command:
    name: str
    args: tuple[str, ...] = ()
    value: Any = None
    data: dict[str, Any] = field(default_factory=dict)
    id: str | None = None
    user: str | None = None
    raw: bytes = b""

    def number(self, key: str | None = None) -> float:
        """The payload (or `key` of a JSON payload) as a finite float, or BadCommand."""
        v = self.data.get(key) if key else self.value
        if key and key not in self.data:
            raise BadCommand(f"missing field '{key}'")
        if isinstance(v, dict) and "value" in v:
            v = v["value"]
        try:
            f = float(v)
        except (TypeError, ValueError):
            where = f"field '{key}'" if key else "payload"
            raise BadCommand(f"{where} must be a number, got {v!r}") from None
        if f != f or f in (float("inf"), float("-inf")):
            raise BadCommand(f"{key or 'payload'} must be finite")
        return f

    def switch(self) -> bool:
        """`on`/`off` (also true/false, 1/0) -> bool, or BadCommand."""
        v = self.value
        if isinstance(v, dict):
            v = v.get("state", v.get("value"))
        s = str(v).strip().lower() if v is not None else ""
        if s in ("on", "true", "1"):
            return True
        if s in ("off", "false", "0"):
            return False
        raise BadCommand(f"payload must be 'on' or 'off', got {v!r}")

    def model(self, model: type[M]) -> M:
        """Validate the JSON object payload against a pydantic model."""
        try:
            return model.model_validate(self.data)
        except ValidationError as exc:
            parts = []
            for e in exc.errors():
                loc = ".".join(str(p) for p in e["loc"]) or "payload"
                parts.append(f"{loc}: {e['msg']}")
            raise BadCommand("; ".join(parts)) from None


def parse(name: str, raw: bytes) -> Command:
    """Parse a payload; raises BadCommand (with what is wrong) for malformed ones."""
    try:
        text = raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise BadCommand("payload is not UTF-8 text") from None
    cmd = Command(name=name, raw=raw)
    if not text:
        return cmd
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        if text[0] in '{["':
            raise BadCommand(
                f"malformed JSON payload: {exc.msg} at line {exc.lineno} column {exc.colno}"
            ) from None
        cmd.value = text  # reference plain-text form: on/off, a number
        return cmd
    if isinstance(obj, dict):
        cid = obj.pop("id", None)
        cmd.id = None if cid is None else str(cid)
        user = obj.pop("user", None)
        cmd.user = None if user is None else str(user)
        cmd.data = obj
        cmd.value = obj["value"] if set(obj) == {"value"} else obj
    else:
        cmd.value = obj
    return cmd


CommandHandler = Callable[[Command], Any]


@dataclass
class _Route:
    pattern: str
    handler: CommandHandler
    help: str


class CommandRouter:
    """Routes `<service>/cmd/<pattern>` to handlers and replies on `<service>/reply`."""

    def __init__(self, bus: Bus, service: str, log: logging.Logger | None = None):
        self.bus = bus
        self.service = service
        self.log = log or logging.getLogger(f"trackerdcs.{service}")
        self.routes: list[_Route] = []
        self.listeners: list[Callable[[Command, dict[str, Any]], None]] = []
        bus.subscribe(topics.cmd(service), self._on_message)

    def add(self, pattern: str, handler: CommandHandler, help: str = "") -> None:
        self.routes.append(_Route(pattern, handler, help))

    def known(self) -> list[str]:
        return [r.pattern for r in self.routes]

    def _on_message(self, msg: Message) -> None:
        if msg.retain:
            # a retained command is an old order replayed by the broker: never act on it
            self.log.warning("ignored retained command on %s", msg.topic)
            self._reply(
                Command(name=msg.topic.split("/cmd/", 1)[-1]),
                ok=False,
                error="retained commands are ignored; publish commands without retain",
            )
            return
        name = msg.topic.split("/cmd/", 1)[1] if "/cmd/" in msg.topic else ""
        self.handle(name, msg.payload)

    def handle(self, name: str, raw: bytes) -> dict[str, Any]:
        """Run one command and publish the reply; returns the reply."""
        try:
            cmd = parse(name, raw)
        except BadCommand as exc:
            self.log.warning("bad command %s: %s", name, exc)
            return self._reply(Command(name=name, raw=raw), ok=False, error=str(exc))
        route = next((r for r in self.routes if topics.matches(r.pattern, name)), None)
        if route is None:
            error = f"unknown command '{name}'; known: {', '.join(self.known())}"
            self.log.warning("%s", error)
            return self._reply(cmd, ok=False, error=error)
        cmd.args = topics.wildcard_args(route.pattern, name)
        try:
            result = route.handler(cmd)
        except Refused as exc:
            self.log.warning("refused %s %r from %s: %s", name, cmd.value, cmd.user or "?", exc)
            return self._reply(cmd, ok=False, error=str(exc), refused=True)
        except BadCommand as exc:
            self.log.warning("bad command %s %r: %s", name, cmd.value, exc)
            return self._reply(cmd, ok=False, error=str(exc))
        except Exception as exc:
            self.log.exception("command %s failed", name)
            return self._reply(cmd, ok=False, error=f"internal error: {type(exc).__name__}: {exc}")
        self.log.info("command %s %r from %s: ok", name, cmd.value, cmd.user or "?")
        return self._reply(cmd, ok=True, result=result)

    def _reply(
        self,
        cmd: Command,
        ok: bool,
        error: str | None = None,
        result: Any = None,
        refused: bool = False,
    ) -> dict[str, Any]:
        reply: dict[str, Any] = {
            "id": cmd.id,
            "command": cmd.name,
            "ok": ok,
            "error": error,
            "ts": pl.now(),
        }
        if refused:
            reply["refused"] = True
        if cmd.user:
            reply["user"] = cmd.user
        if result is not None:
            reply["result"] = result
        self.bus.publish(topics.reply(self.service), reply, qos=1)
        for listener in self.listeners:
            listener(cmd, reply)
        return reply
