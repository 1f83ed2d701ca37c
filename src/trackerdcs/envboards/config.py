"""Stand-file section `envboards`: which boards, which of their chip channels, and which
channels stand for the board's air temperature and humidity (for its dew point)."""

from __future__ import annotations

from pydantic import Field, model_validator

from trackerdcs.config.base import ServiceSection, StrictModel
from trackerdcs.envboards.protocol import CHANNELS


class Board(StrictModel):
    """One ESP32 board."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    prefix: str = Field("", description="topic prefix; empty: `<name>/sensors`")
    location: str = ""
    channels: list[str] = Field(
        default_factory=lambda: list(CHANNELS),
        description="chip/quantity topics the board publishes",
    )
    temperature: str | None = Field(None, description="channel giving the air temperature")
    humidity: str | None = Field(None, description="channel giving the air humidity")

    @model_validator(mode="after")
    def _known(self) -> Board:
        for ch in [*self.channels, self.temperature, self.humidity]:
            if ch is not None and ch not in CHANNELS:
                raise ValueError(f"unknown channel '{ch}'; known: {', '.join(CHANNELS)}")
        for ch in (self.temperature, self.humidity):
            if ch is not None and ch not in self.channels:
                raise ValueError(f"'{ch}' is not one of this board's channels")
        return self

    def topic(self, channel: str) -> str:
        return f"{self.prefix or f'{self.name}/sensors'}/{channel}"


class SimBoards(StrictModel):
    period: float = Field(2.0, gt=0, description="s between readings")
    noise: float = Field(0.02, ge=0, description="relative noise")


class EnvBoardsConfig(ServiceSection):
    simulate: bool = False
    boards: list[Board] = Field(default_factory=list)
    stale_after: float = Field(60.0, gt=0, description="s without a reading: board alarm")
    sim: SimBoards = Field(default_factory=SimBoards)

    @model_validator(mode="after")
    def _unique(self) -> EnvBoardsConfig:
        names = [b.name for b in self.boards]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate board names in {names}")
        return self
