"""The environment-board service (`trackerdcs run envboards`): every chip channel of every
board in, one retained `<root>/<board>` reading out (the `sensors/<name>` shape, plus one
field per channel: `SCD30_co2`, `CCS_tvoc`, ...). A value that is not a number, or outside
what the chip can report, is no reading; a channel without a reading for `stale_after` s
raises the board's alarm, naming the channel.
"""

from __future__ import annotations

import time

from trackerdcs.config.model import StandBase
from trackerdcs.core.bus import Message
from trackerdcs.core.service import Service
from trackerdcs.envboards import protocol
from trackerdcs.envboards.config import EnvBoardsConfig
from trackerdcs.envboards.device import EnvBoard


class EnvBoardsService(Service):
    section = "envboards"
    default_name = "envboards"
    cfg: EnvBoardsConfig

    def __init__(self, stand: StandBase, name: str | None = None):
        super().__init__(stand, name)
        self.boards = {b.name: EnvBoard(b) for b in self.cfg.boards}
        self.routes: dict[str, tuple[EnvBoard, str]] = {}
        for board in self.boards.values():
            for ch in board.cfg.channels:
                self.routes[board.cfg.topic(ch)] = (board, ch)
                self.subscribe(board.cfg.topic(ch), self._on_value)
        self.up_since = time.time()

    def republish(self) -> None:
        self.review()

    def _on_value(self, msg: Message) -> None:
        board, channel = self.routes[msg.topic]
        try:
            value = protocol.parse(channel, msg.payload)
        except protocol.NoReading as exc:
            board.errors += 1
            self.log.warning("%s (no reading)", exc)
            return
        board.channels[channel].update(value)
        self._publish(board)

    def _publish(self, board: EnvBoard) -> None:
        self.bus.publish(f"{self.name}/{board.cfg.name}", board.payload(), retain=True)

    def review(self) -> None:
        """Republish every board that has spoken; alarm for the silent ones."""
        now = time.time()
        for board in self.boards.values():
            if board.age(now) is not None:
                self._publish(board)
            ages = {ch: now - (s.ts if s.ts is not None else self.up_since)
                    for ch, s in board.channels.items()}  # fmt: skip
            stale = {ch: age for ch, age in ages.items() if age > self.cfg.stale_after}
            self.alarms.set(f"{self.name}.{board.cfg.name}", "MINOR" if stale else "OK",
                            f"board {board.cfg.name}: no reading of {', '.join(stale)} for "
                            f"{min(stale.values(), default=0):.0f} s")  # fmt: skip
        self.publish_state("status", {
            "boards": {n: {"state": b.derive()[0], "errors": b.errors}
                       for n, b in self.boards.items()},
        })  # fmt: skip
