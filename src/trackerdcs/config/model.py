"""The whole stand file: the platform's own sections, then one section per registered family
(each family's folder declares its model; nothing here lists them)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import Field, PrivateAttr, create_model

from trackerdcs.config import modules
from trackerdcs.config.base import StrictModel
from trackerdcs.config.bus import BusConfig
from trackerdcs.config.loader import ConfigError, ConfigProblem, key_of, line_of, load_model
from trackerdcs.storage.config import StorageConfig


class StandInfo(StrictModel):
    name: str = "stand"
    site: str = ""
    description: str = ""
    time_scale: float = Field(
        1.0, gt=0, le=1000, description="speed-up of every simulator, of the runs "
        "service's waits and of safety's chiller grace (demo, training, tests); only on a "
        "stand where everything is simulated")  # fmt: skip


class StandBase(StrictModel):
    stand: StandInfo = Field(default_factory=StandInfo)
    state_dir: Path | None = Field(
        None, description="data, buffers, logs, alarms, users; relative to the file; "
        "default var/<the file's name without .yaml>: each stand file keeps its own")  # fmt: skip
    bus: BusConfig = Field(default_factory=BusConfig)
    storage: StorageConfig = Field(default_factory=StorageConfig)

    _source: Path | None = PrivateAttr(default=None)

    if TYPE_CHECKING:
        # family sections are added by the registry at import time
        def __getattr__(self, name: str) -> Any: ...

    def section(self, name: str) -> Any:
        """A family's section, or None when the stand has none."""
        return getattr(self, name, None)

    def warnings(self) -> list[str]:
        """Every section's `warnings` (valid settings that are probably not meant)."""
        out: list[str] = self._legacy_state()
        for name in type(self).model_fields:
            section = getattr(self, name, None)
            if section is not None and hasattr(section, "warnings"):
                out += section.warnings(self)
        return out

    @property
    def source(self) -> Path | None:
        """The file this stand was loaded from (None when built in code)."""
        return self._source

    @property
    def base_dir(self) -> Path:
        return self._source.parent if self._source else Path.cwd()

    def path(self, p: str | Path) -> Path:
        """Resolve a path from the stand file relative to the file's folder."""
        p = Path(p).expanduser()
        return p if p.is_absolute() else (self.base_dir / p)

    @property
    def state_path(self) -> Path:
        """Where this stand keeps its state (not made): `state_dir`, else var/<file stem>."""
        if self.state_dir is not None:
            return self.path(self.state_dir)
        return self.base_dir / "var" / (self._source.stem if self._source else self.stand.name)

    @property
    def data_dir(self) -> Path:
        d = self.state_path
        d.mkdir(parents=True, exist_ok=True)
        return d

    def _legacy_state(self) -> list[str]:
        """State under the old default (var/ itself, shared by every file of the folder)."""
        old = self.base_dir / "var"
        if self.state_dir is not None or self._source is None or self.state_path.exists():
            return []
        if any((old / f).exists() for f in ("stand.lock", "history.sqlite", "runs.sqlite")):
            return [f"state of an earlier version in {old} (the old default, shared by every "
                    f"stand file of {self.base_dir}): this stand now keeps its own in "
                    f"{self.state_path}; move it there, or set state_dir: var"]  # fmt: skip
        return []


def _compose() -> type[StandBase]:
    from trackerdcs.core.registry import families, load

    sections: dict[str, Any] = {
        name: (load(fam.config) | None, None) for name, fam in families().items()
    }
    return create_model("Stand", __base__=StandBase, **sections)


if TYPE_CHECKING:
    Stand = StandBase
else:
    Stand = _compose()


def load_stand(path: str | Path) -> StandBase:
    """Load and validate a stand file; raises ConfigError naming file, line and key (every
    module with one LV and one HV supply included: `trackerdcs.config.modules`).

    TRACKERDCS_STATE_DIR, TRACKERDCS_BUS_HOST and TRACKERDCS_BUS_PORT override the file, so
    the supervisor can move a stand (the demo does) without rewriting it.
    """
    stand, node = load_model(Stand, path)
    stand._source = Path(path).resolve()
    found = modules.problems(stand)
    if found:
        raise ConfigError([ConfigProblem(str(path), line_of(node, loc), key_of(loc), message)
                           for loc, message in found])  # fmt: skip
    if os.environ.get("TRACKERDCS_TIME_SCALE"):
        stand.stand.time_scale = float(os.environ["TRACKERDCS_TIME_SCALE"])
    _speed_up(stand, str(path))
    if os.environ.get("TRACKERDCS_STATE_DIR"):
        stand.state_dir = Path(os.environ["TRACKERDCS_STATE_DIR"]).resolve()
    if os.environ.get("TRACKERDCS_BUS_HOST"):
        stand.bus.host = os.environ["TRACKERDCS_BUS_HOST"]
    if os.environ.get("TRACKERDCS_BUS_PORT"):
        stand.bus.port = int(os.environ["TRACKERDCS_BUS_PORT"])
    return stand


def _speed_up(stand: StandBase, file: str) -> None:
    """Hand the stand's time scale to every simulator; refused on a stand with real devices,
    where shortened waits would shorten a real soak."""
    scale = stand.stand.time_scale
    if scale == 1.0:
        return
    from trackerdcs.core.registry import families

    for name in families():
        section = stand.section(name)
        if section is not None and getattr(section, "simulate", True) is False:
            raise ConfigError([ConfigProblem(file, None, "stand.time_scale", f"{scale:g} speeds "
                                             f"up simulators only, but {name} is not simulated "
                                             "(simulate: false)")])  # fmt: skip
        sim = getattr(section, "sim", None)
        if sim is not None and hasattr(sim, "time_scale"):
            sim.time_scale *= scale
    # what waits on a simulated plant's physics (safety's grace for a stopped chiller) waits
    # as much less as the plant runs faster
    for name in type(stand).model_fields:
        scaled = getattr(getattr(stand, name, None), "time_scaled", None)
        if scaled is not None:
            scaled(scale)
