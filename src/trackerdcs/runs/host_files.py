"""The files the runs service reads beside the stand file: the recipes folder."""

from __future__ import annotations

from trackerdcs.config.model import StandBase
from trackerdcs.core.registry import HostFile
from trackerdcs.runs.config import RunsConfig


def host_files(section: RunsConfig, stand: StandBase) -> list[HostFile]:
    folder = stand.path(section.recipes).resolve()
    return [HostFile("recipes", folder, folder=True)] if folder.is_dir() else []
