"""The web service (`trackerdcs run web`): the FastAPI app under uvicorn, beside the bus."""

from __future__ import annotations

import threading
from typing import Any

import uvicorn

from trackerdcs.runtime.service import Service
from trackerdcs.web.app import create_app
from trackerdcs.web.config import WebConfig
from trackerdcs.web.live import LiveState


class WebService(Service):
    section = "web"
    default_name = "web"
    cfg: WebConfig
    period = 2.0

    def __init__(self, stand: Any, name: str | None = None, bus: Any = None):
        super().__init__(stand, name, bus)
        self.live = LiveState()
        app = create_app(stand, self.cfg, self.bus, self.live)
        config = uvicorn.Config(app, host=self.cfg.host, port=self.cfg.port, log_level="warning",
                                ws_ping_interval=20)  # fmt: skip
        self.server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self.server.run, daemon=True, name="uvicorn")

    def setup(self) -> None:
        self.bus.subscribe("#", self.live.on_message)
        self._thread.start()
        self.log.info("web UI on http://%s:%d/", self.cfg.host, self.cfg.port)

    def tick(self) -> None:
        if not self._thread.is_alive():
            self.log.error("web server stopped (port %d taken?)", self.cfg.port)
            self.stop()
            return
        self.publish_state("status", {"url": f"http://{self.cfg.host}:{self.cfg.port}/",
                                      "websocket_messages": self.live.sent})  # fmt: skip

    def shutdown(self) -> None:
        self.server.should_exit = True
        self._thread.join(5)
