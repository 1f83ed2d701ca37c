"""Commands on `<service>/cmd/...`, answered on `<service>/reply`: always, refusals included.

A command is declared on the class that serves it:

    @command("setv/lv/+", payload=Number, role="operator", help="LV set voltage, V")
    async def set_lv(self, cmd: Command, body: Number) -> dict: ...

The payload may be the reference stack's plain form (`on`, `12.5`) or a JSON object; either
way it is validated against the declared pydantic model before the handler runs. A JSON
object may carry `id` (echoed in the reply) and `user` (recorded in the log and audit trail).
Commands of one service run one at a time, in arrival order, except that commands sent by
the safety service go first.
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
import json
import logging
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from trackerdcs.core import payload as pl
from trackerdcs.core import topics
from trackerdcs.core.bus import Message

Role = Literal["viewer", "operator", "expert"]
M = TypeVar("M", bound=BaseModel)


class Refused(Exception):
    """The command is understood but unsafe or impossible now; the reason goes to the sender."""


class BadCommand(Exception):
    """The payload is malformed or out of range; the message names the problem."""


# -- payload models shared by many commands ------------------------------------------------
class Empty(BaseModel):
    model_config = ConfigDict(extra="allow")


class OnOff(BaseModel):
    """`on`/`off` (also true/false, 1/0, or {"state": "on"})."""

    value: bool

    @field_validator("value", mode="before")
    @classmethod
    def _switch(cls, v: Any) -> bool:
        s = str(v).strip().lower() if v is not None else ""
        if s in ("on", "true", "1"):
            return True
        if s in ("off", "false", "0"):
            return False
        raise ValueError(f"payload must be 'on' or 'off', got {v!r}")


class Number(BaseModel):
    """A finite number (plain `12.5` or {"value": 12.5})."""

    value: float

    @field_validator("value", mode="before")
    @classmethod
    def _finite(cls, v: Any) -> float:
        try:
            f = float(v)
        except (TypeError, ValueError):
            raise ValueError(f"payload must be a number, got {v!r}") from None
        if not math.isfinite(f):
            raise ValueError("payload must be finite")
        return f


@dataclass
class Command:
    name: str
    args: tuple[str, ...] = ()
    value: Any = None
    data: dict[str, Any] = field(default_factory=dict)
    id: str | None = None
    user: str | None = None
    via: str | None = None  # where the sender sits: web, cli (the event log says so)
    deadline: float | None = None  # UTC epoch s after which the sender no longer waits
    raw: bytes = b""
    read_only: bool = False  # a viewer's command: asks, changes nothing

    @property
    def sender(self) -> str:
        return sender(self.user, self.via)

    def model(self, model: type[M]) -> M:
        """Validate the payload: a JSON object as is, a plain value as {"value": ...}."""
        data: Any = self.data if self.data else {}
        if not self.data and self.value is not None:
            data = {"value": self.value}
        if "value" not in data and "state" in data and "value" in model.model_fields:
            data = {**data, "value": data["state"]}  # {"state": "on"} as the reference UI sends
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            parts = []
            for e in exc.errors():
                loc = ".".join(str(p) for p in e["loc"] if p != "value") or "payload"
                msg = str(e["msg"]).removeprefix("Value error, ")
                parts.append(f"{loc}: {msg}")
            raise BadCommand("; ".join(parts)) from None


def sender(user: str | None, via: str | None) -> str:
    """Who sent a command, as logs and the event log say it: `ana (web)`."""
    return f"{user or 'an unnamed sender'}" + (f" ({via})" if via else "")


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
    except RecursionError:
        raise BadCommand("JSON payload nested too deeply") from None
    if isinstance(obj, dict):
        cid = obj.pop("id", None)
        cmd.id = None if cid is None else str(cid)
        user = obj.pop("user", None)
        cmd.user = None if user is None else str(user)
        via = obj.pop("via", None)
        cmd.via = None if via is None else str(via)
        obj.pop("ts", None)  # the issue time: informational, the deadline is what counts
        deadline = obj.pop("deadline", None)
        if deadline is not None:
            if (
                isinstance(deadline, bool)
                or not isinstance(deadline, int | float)
                or not math.isfinite(deadline)
            ):
                raise BadCommand(f"deadline must be a time (UTC epoch s), got {deadline!r}")
            cmd.deadline = float(deadline)
        cmd.data = obj
        cmd.value = obj["value"] if set(obj) == {"value"} else obj
    else:
        cmd.value = obj
    return cmd


Handler = Callable[..., Awaitable[Any] | Any]
Guard = Callable[[Any, Command], None]


@dataclass(frozen=True)
class CommandSpec:
    pattern: str
    payload: type[BaseModel] | None = None
    role: Role = "operator"
    guard: Guard | None = None
    help: str = ""


def command(
    pattern: str,
    payload: type[BaseModel] | None = None,
    *,
    role: Role = "operator",
    guard: Guard | None = None,
    help: str = "",
) -> Callable[[Handler], Handler]:
    """Declare a method as the handler of `<service>/cmd/<pattern>`."""

    def mark(fn: Handler) -> Handler:
        specs: list[CommandSpec] = list(getattr(fn, "__commands__", []))
        specs.append(CommandSpec(pattern, payload, role, guard, help or (fn.__doc__ or "")))
        fn.__commands__ = specs  # type: ignore[attr-defined]
        return fn

    return mark


def declared(obj: object) -> list[tuple[CommandSpec, Handler]]:
    """The commands declared on obj's class (and its bases), bound to obj."""
    out: list[tuple[CommandSpec, Handler]] = []
    for name in dir(type(obj)):
        fn = getattr(type(obj), name, None)
        for spec in getattr(fn, "__commands__", ()):
            out.append((spec, getattr(obj, name)))
    return out


def catalogue(cls: type) -> dict[str, CommandSpec]:
    """pattern -> spec for a class, without an instance (the web UI checks roles with it)."""
    out: dict[str, CommandSpec] = {}
    for name in dir(cls):
        for spec in getattr(getattr(cls, name, None), "__commands__", ()):
            out[spec.pattern] = spec
    return out


def required_role(specs: dict[str, CommandSpec], name: str) -> Role:
    for pattern, spec in specs.items():
        if topics.matches(pattern, name):
            return spec.role
    return "operator"


Sender = Callable[[str, dict[str, Any]], None]
MAX_WAITING = 100  # commands queued per service before more are refused as busy


class CommandRouter:
    """Routes `<service>/cmd/<pattern>` to declared handlers, one at a time, and replies.
    Commands from `first_from` (the safety service) go before everything waiting."""

    def __init__(self, service: str, send: Sender, owner: object,
                 first_from: frozenset[str] = frozenset(),
                 log: logging.Logger | None = None):  # fmt: skip
        self.service = service
        self.send = send
        self.owner = owner
        self.first_from = first_from
        self.log = log or logging.getLogger(f"trackerdcs.{service}")
        self.routes = declared(owner)
        self._queue: asyncio.PriorityQueue[tuple[int, int, Command]] = asyncio.PriorityQueue()
        self._seq = itertools.count()
        self._waiting = 0  # commands queued, not counting safety's
        # a family whose reference protocol sends on `<service>/cmd` itself (the switchbox's
        # `SB/cmd` `CH3|OFF`) translates those messages here
        self.bare: Callable[[Message], None] | None = None

    def known(self) -> list[str]:
        return [s.pattern for s, _h in self.routes]

    # -- input (on the loop, must not block) ----------------------------------------------
    def on_message(self, msg: Message) -> None:
        if "/cmd/" not in msg.topic and self.bare is not None:
            self.bare(msg)
            return
        name = msg.topic.split("/cmd/", 1)[1] if "/cmd/" in msg.topic else ""
        if msg.retain:
            # a retained command is an old order replayed by the broker: never act on it
            self.log.warning("ignored retained command on %s", msg.topic)
            self._reply(
                Command(name=name),
                ok=False,
                error="retained commands are ignored; publish commands without retain",
            )
            return  # fmt: skip
        try:
            cmd = parse(name, msg.payload)
        except BadCommand as exc:
            self.log.warning("bad command %s: %s", name, exc)
            self._reply(Command(name=name, raw=msg.payload), ok=False, error=str(exc))
            return
        first = 0 if cmd.user in self.first_from else 1
        if first and self._waiting >= MAX_WAITING:
            # a flood: refuse at once (with a reply) rather than queue minutes of work
            self.log.warning("busy: %s from %s refused (%d waiting)", name, cmd.user or "?",
                             self._waiting)  # fmt: skip
            error = f"busy: {self._waiting} commands waiting; try again later"
            self._reply(cmd, ok=False, error=error, refused=True)
            return
        self._waiting += first
        self._queue.put_nowait((first, next(self._seq), cmd))

    def reject(self, name: str, raw: bytes, error: str) -> None:
        """A message that is no command at all: answered with why, and logged."""
        self.log.warning("bad command %s: %s", name, error)
        self._reply(Command(name=name, raw=raw), ok=False, error=error)

    async def serve(self) -> None:
        """Run queued commands one at a time, forever."""
        while True:
            prio, _seq, cmd = await self._queue.get()
            self._waiting -= prio
            await self.run(cmd)

    async def handle(self, name: str, raw: bytes) -> dict[str, Any]:
        """Parse and run one command now; returns the reply (also published)."""
        try:
            cmd = parse(name, raw)
        except BadCommand as exc:
            return self._reply(Command(name=name, raw=raw), ok=False, error=str(exc))
        return await self.run(cmd)

    # -- execution -------------------------------------------------------------------------
    async def run(self, cmd: Command) -> dict[str, Any]:
        """Run one parsed command and publish the reply; returns the reply."""
        name = cmd.name
        route = next(((s, h) for s, h in self.routes if topics.matches(s.pattern, name)), None)
        if route is None:
            error = f"unknown command '{name}'; known: {', '.join(self.known())}"
            self.log.warning("%s", error)
            return self._reply(cmd, ok=False, error=error)
        spec, handler = route
        cmd.args = topics.wildcard_args(spec.pattern, name)
        cmd.read_only = spec.role == "viewer"
        if cmd.deadline is not None and pl.now() > cmd.deadline:
            # the sender gave up on it (a broker outage, a replay): acting now would surprise
            late = pl.now() - cmd.deadline
            self.log.warning("expired command %s from %s ignored (%.1f s late)", name,
                             cmd.user or "?", late)  # fmt: skip
            return self._reply(cmd, ok=False, error=f"command expired {late:.1f} s ago: not "
                               "executed", refused=True)  # fmt: skip
        try:
            if spec.guard is not None:
                spec.guard(self.owner, cmd)
            args: tuple[Any, ...] = (cmd, cmd.model(spec.payload)) if spec.payload else (cmd,)
            result = handler(*args)
            if inspect.isawaitable(result):
                result = await result
        except Refused as exc:
            self.log.warning("refused %s %r from %s: %s", name, cmd.value, cmd.user or "?", exc)
            return self._reply(cmd, ok=False, error=str(exc), refused=True)
        except BadCommand as exc:
            self.log.warning("bad command %s %r: %s", name, cmd.value, exc)
            return self._reply(cmd, ok=False, error=str(exc))
        except asyncio.CancelledError:
            self._reply(cmd, ok=False, error="service stopping")
            raise
        except Exception as exc:
            self.log.exception("command %s failed", name)
            return self._reply(cmd, ok=False, error=f"internal error: {type(exc).__name__}: {exc}")
        self.log.info("command %s %r from %s: ok", name, cmd.value, cmd.user or "?")
        return self._reply(cmd, ok=True, result=result)

    def _reply(self, cmd: Command, ok: bool, error: str | None = None, result: Any = None,
               refused: bool = False) -> dict[str, Any]:  # fmt: skip
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
        if cmd.via:
            reply["via"] = cmd.via
        if cmd.read_only:
            reply["read_only"] = True  # not an event of the stand's log
        if result is not None:
            reply["result"] = result
        self.send(topics.reply(self.service), reply)
        return reply
