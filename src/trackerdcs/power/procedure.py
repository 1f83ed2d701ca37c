"""At most one power procedure at a time (an operator's LV-off, a safe-off), as a task.

The running procedure's name is what status shows; only the procedure that is current
clears it, so a superseded one cannot wipe its successor's name on its way out. A safe-off
supersedes anything else; a second safe-off while one runs is not started again.
Cancelling a procedure (a stop, a superseding safe-off) writes nothing more.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

SAFE_OFF = "safe_off"


class Procedures:
    def __init__(self, spawn: Callable[[Coroutine[Any, Any, Any], str], asyncio.Task[Any]],
                 changed: Callable[[], None]):  # fmt: skip
        self.spawn = spawn
        self.changed = changed
        self.name: str | None = None
        self.task: asyncio.Task[Any] | None = None

    @property
    def running(self) -> bool:
        return self.task is not None and not self.task.done()

    def can_start(self, name: str) -> bool:
        return not self.running or (name == SAFE_OFF and self.name != SAFE_OFF)

    def start(self, name: str, body: Coroutine[Any, Any, Any]) -> bool:
        if not self.can_start(name):
            body.close()
            return False
        if self.running:
            assert self.task is not None
            self.task.cancel()  # superseded: it writes nothing more
        self.name = name
        task = self.spawn(self._run(body), name)
        self.task = task
        self.changed()
        return True

    async def _run(self, body: Coroutine[Any, Any, Any]) -> None:
        me = asyncio.current_task()
        try:
            await body
        finally:
            if self.task is me:
                self.name = None
                self.task = None
                self.changed()
