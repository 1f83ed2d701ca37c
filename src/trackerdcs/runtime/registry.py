"""Which services and simulators exist, imported only when asked for."""

from __future__ import annotations

import importlib
from typing import Any

# run order: safety watches the others from the start; consumers come last
SERVICES: dict[str, str] = {
    "safety": "trackerdcs.safety.service:SafetyService",
    "sensors": "trackerdcs.sensors.service:SensorsService",
    "caen": "trackerdcs.caen.service:CaenService",
    "julabo": "trackerdcs.julabo.service:JulaboService",
    "recorder": "trackerdcs.storage.recorder:RecorderService",
    "web": "trackerdcs.web.service:WebService",
}

# device families whose stand-file section has `simulate: true` get a simulator process
SIMULATED = ("caen", "julabo", "sensors")


def load(dotted: str) -> Any:
    module, _, attr = dotted.partition(":")
    return getattr(importlib.import_module(module), attr)


def service_class(name: str) -> Any:
    if name not in SERVICES:
        raise KeyError(f"unknown service '{name}'; known: {', '.join(SERVICES)}")
    return load(SERVICES[name])
