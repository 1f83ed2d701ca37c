"""The web service (`trackerdcs run web`): the FastAPI app under uvicorn, on the same loop
as the bus (live state and command replies need no thread hand-over)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import uvicorn

from trackerdcs.config.model import StandBase
from trackerdcs.core.service import Service
from trackerdcs.web.app import create_app
from trackerdcs.web.config import WebConfig
from trackerdcs.web.live import LiveState


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # the service owns SIGINT/SIGTERM


class WebService(Service):
    section = "web"
    default_name = "web"
    cfg: WebConfig

    def __init__(self, stand: StandBase, name: str | None = None):
        super().__init__(stand, name)
        self.live = LiveState()
        app = create_app(stand, self.cfg, self.bus, self.live)
        config = uvicorn.Config(app, host=self.cfg.host, port=self.cfg.port, log_level="warning",
                                ws_ping_interval=20, lifespan="off")  # fmt: skip
        self.server = _Server(config)
        self.subscribe("#", self.live.on_message)

    async def main(self) -> None:
        self.log.info("web UI on http://%s:%d/", self.cfg.host, self.cfg.port)
        await self.server.serve()
        if not self.stopping:
            self.log.error("web server stopped (port %d taken?)", self.cfg.port)
            self.stop()

    async def shutdown(self) -> None:
        self.server.should_exit = True

    def republish(self) -> None:
        self.publish_state("status", {"url": f"http://{self.cfg.host}:{self.cfg.port}/",
                                      "websocket_messages": self.live.sent})  # fmt: skip
