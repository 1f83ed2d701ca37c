"""How a family's topics are stored in the reference history schema (PROTOCOLS.md §1): the
measurement the labs' Telegraf writes, its tags, and each field with its InfluxDB type.
Declared as data in the family's `family.py`; the recorder and `trackerdcs deploy telegraf`
read it, so no storage module names a family.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

FieldType = Literal["float", "int", "bool", "str"]


@dataclass(frozen=True)
class Measurement:
    topic: str  # under the service's topic root: "channels", "status"
    name: str  # the measurement
    fields: dict[str, FieldType] = field(default_factory=dict)  # only these are written
    tags: tuple[str, ...] = ()  # payload keys stored as tags
    # enum fields published as text: the index as the IOC serves it is what is stored
    enums: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def __hash__(self) -> int:
        return hash((self.topic, self.name))
