"""One log format for every process, so the supervisor's merged stream stays readable."""

from __future__ import annotations

import logging
import os


def setup(level: str | None = None) -> None:
    level = level or os.environ.get("TRACKERDCS_LOG", "INFO")
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    for noisy in ("amqtt", "caproto", "asyncio", "httpx", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
