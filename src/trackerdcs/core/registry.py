"""Families register themselves: a package `trackerdcs.<family>` with a module `family.py`
that defines `FAMILY = Family(...)` is found by scanning, so adding a family touches no
central file. Everything else (the stand model, `trackerdcs run/sim`, the process plan,
safety's peers, the web UI's panels, the recorder's names) asks this registry.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import trackerdcs
from trackerdcs.core.cooling import CoolingContract
from trackerdcs.core.history import Measurement

# roles a family can play in a stand; safety and the UI find their peers by role
POWER = "power"  # switches module power: answers safe_off, honours the safety heartbeat
COOLING = "cooling"  # a chiller or cooling plant: safety sets its safe set-point
ENVIRONMENT = "environment"  # publishes `<name>/<sensor>` readings (temperature, humidity)
HISTORY = "history"  # reads or writes the historian (only these get its password in the pod)


@dataclass(frozen=True)
class Family:
    name: str  # stand-file section; `trackerdcs run <name>`, `trackerdcs sim <name>`
    config: str  # "module:Class" of the section's pydantic model
    default_name: str = ""  # first topic level; default: the section name
    service: str | None = None  # "module:Class" of the service, if it runs one
    simulator: bool = False  # `simulate: true` runs `trackerdcs sim <name>` beside it
    # a plain-loop simulator class (stand -> .run(), .stop): `trackerdcs sim <name>` for free;
    # families whose simulator takes options add `sim <name>` in their own cli.py instead
    plain_simulator: str | None = None
    # "module:function(section: dict, free_port, **options)" moving the section's listening
    # ports to free ones, so that tests and benchmarks can run copies of a stand side by side
    relocate: str | None = None
    order: int = 50  # start order (lower first); consumers stop first
    # stopped before every other process on a deliberate stop: safety, whose rules would read
    # the others going away as faults (the power supplies' watchdogs outlast the stop)
    stop_first: bool = False
    roles: frozenset[str] = frozenset()
    ui: dict[str, Any] = field(default_factory=dict)  # panel hints for the web UI
    # the reference history schema of the family's topics (recorder, Telegraf config)
    history: tuple[Measurement, ...] = ()
    cooling: CoolingContract | None = None  # how a COOLING family is read and ordered
    # "module:function(section, stand) -> list[HostFile]": files the section names on the
    # host that the stand's processes read (the pod mounts them); raises NotInPod with the
    # reason when the section as written cannot run in a container
    host_files: str | None = None
    # a POWER family's channel readings per side it supplies: side -> (volts field, current
    # field, current unit as Grafana names it); the dashboards plot them per module
    readings: dict[str, tuple[str, str, str]] = field(default_factory=dict)
    # "module:function(panel, stand, section)": its part of the shipped Node-RED panel
    # (trackerdcs.deploy.nodered_flows.Panel)
    nodered: str | None = None

    @property
    def topic_root(self) -> str:
        return self.default_name or self.name


@dataclass(frozen=True)
class HostFile:
    """A file or folder named by `key` of a stand-file section, resolved on the host."""

    key: str
    path: Path  # absolute
    folder: bool = False


class NotInPod(ValueError):
    """A section that cannot run inside the pod as written; the message says what to do."""


def serial_port_in_pod(key: str, port: str, simulated: bool) -> None:
    """A serial line named by a stand file, as a pod's container would reach it: a device
    path or a simulator's pty is not there (each container has its own /dev and /tmp); a
    URL (socket://, rfc2217://) is. Raises NotInPod with what to give instead."""
    if "://" in port:
        return
    if simulated:
        raise NotInPod(f"{key}: {port}: the simulator's pty is not visible from the service's "
                       "container: give socket://127.0.0.1:<port> (the simulator listens "
                       "there)")  # fmt: skip
    raise NotInPod(f"{key}: {port} is not in the pod: share it from this host with "
                   f"`trackerdcs serial-bridge {port} --port <p> --host <gateway>` and give "
                   "rfc2217://<gateway>:<p> (the gateway: `podman network inspect podman`, "
                   "e.g. 10.88.0.1)")  # fmt: skip


def load(dotted: str) -> Any:
    module, _, attr = dotted.partition(":")
    return getattr(importlib.import_module(module), attr)


@cache
def families() -> dict[str, Family]:
    """Every family of the installed package, in start order."""
    found: list[Family] = []
    for info in pkgutil.iter_modules(trackerdcs.__path__):
        # look for the file first: importing every subpackage would import the CLI too
        if not info.ispkg or not any(
            (Path(p) / info.name / "family.py").exists() for p in trackerdcs.__path__
        ):
            continue
        module = importlib.import_module(f"trackerdcs.{info.name}.family")
        fam = getattr(module, "FAMILY", None)
        if isinstance(fam, Family):
            found.append(fam)
    found.sort(key=lambda f: (f.order, f.name))
    return {f.name: f for f in found}


def family(name: str) -> Family:
    fams = families()
    if name not in fams:
        raise KeyError(f"unknown service '{name}'; known: {', '.join(fams)}")
    return fams[name]


def with_role(role: str) -> list[Family]:
    return [f for f in families().values() if role in f.roles]
