"""The payloads that pass between services, as models, in one place (docs/bus.md).

Producers build them; consumers read them with `parse()`, never with `dict.get`. Every model
allows extra fields: the reference stack's own fields travel beside ours, and a newer
producer must not break an older consumer. Timestamps are UTC epoch seconds (`ts`).
"""

from __future__ import annotations

import json
import math
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

M = TypeVar("M", bound=BaseModel)


class Contract(BaseModel):
    model_config = ConfigDict(extra="allow")


def _finite_or_none(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


class Reading(Contract):
    """`<sensors>/<name>`: one named sensor; `ts` is the time of its oldest current field."""

    name: str = ""
    location: str = ""
    kind: str = "ambient"
    temperature: float | None = None
    humidity: float | None = None
    dewpoint: float | None = None
    ts: float | None = None

    @field_validator("temperature", "humidity", "dewpoint", mode="before")
    @classmethod
    def _finite(cls, v: Any) -> Any:
        return _finite_or_none(v)


class PowerStatus(Contract):
    """`<power service>/status` (CAEN `dcs/status`): the stand-level power state."""

    fsm_state: str = "INIT"
    channels: dict[str, str] = {}
    sequence: str | None = None
    ts: float | None = None


class ChillerStatus(Contract):
    """`<cooling service>/status` (`julabo/status`, `MARTA/status`: its own fields extra)."""

    fsm_state: str = "DISCONNECTED"
    internal_temp: float | None = None
    setpoint_1: float | None = None
    setpoint_2: float | None = None
    setpoint_3: float | None = None
    used_setpoint: int | None = None
    running: bool | None = None
    message: str = ""
    ts: float | None = None

    def setpoint(self, index: int) -> float | None:
        value = getattr(self, f"setpoint_{index}", None)
        return value if isinstance(value, float | int) else None

    def number(self, name: str) -> float | None:
        """A numeric field, ours or the family's own (`CO2_TT05`); no reading: None."""
        value = getattr(self, name, None)
        if value is None and self.model_extra:
            value = self.model_extra.get(name)
        if isinstance(value, bool) or not isinstance(value, float | int):
            return None
        return float(value) if math.isfinite(value) else None

    def fields(self) -> dict[str, Any]:
        return {**self.model_dump(), **(self.model_extra or {})}


class SafetyStatus(Contract):
    """`safety/status`."""

    state: str = "OK"
    message: str = ""
    powered: bool | None = None
    interlocks: dict[str, Any] = {}
    ts: float | None = None


class Heartbeat(Contract):
    """`safety/heartbeat`, every `heartbeat_period` s."""

    state: str = "OK"
    ts: float | None = None


class AlarmState(Contract):
    """`alarms/<name>`."""

    name: str
    source: str = ""
    severity: str = "OK"
    current: str = "OK"
    active: bool = False
    acknowledged: bool = True
    message: str = ""
    since: float | None = None
    shelved_until: float | None = None
    ts: float | None = None


class Reply(Contract):
    """`<service>/reply`: one for every command, refusals included."""

    id: str | None = None
    command: str = ""
    ok: bool = False
    error: str | None = None
    refused: bool = False
    user: str | None = None
    result: Any = None
    ts: float | None = None


def parse(model: type[M], raw: bytes) -> M | None:
    """The payload as `model`, or None when it is not JSON of that shape."""
    try:
        return model.model_validate_json(raw)
    except (ValidationError, ValueError, RecursionError):
        return None


def parse_dict(raw: bytes) -> dict[str, Any] | None:
    """A JSON object as a dict (a state topic with many fields), or None."""
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None
