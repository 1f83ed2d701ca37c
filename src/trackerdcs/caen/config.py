"""Stand-file section `caen`: the channel map in the reference `example.yml` shape.

```yaml
caen:
  prefix: cleanroom            # PV prefix
  global: {lv: {V0Set: 11}, hv: {V0Set: 300, RUp: 10}}
  channels:
    1: {module: PS_26_05-IPG_00101, lv: {board: 0, chan: 0}, hv: {board: 12, chan: 0}}
```
A channel is *active* when a module is assigned to it. A channel without `lv` takes its
module's LV from another supply (an HMP output with the same module): HV on is refused
while that supply does not report the module's LV on (trackerdcs.power.modules).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, PrivateAttr, ValidationError, field_validator, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from trackerdcs.caen.protocol import ENUMS, HV_PARAMS, LV_PARAMS
from trackerdcs.config.base import ServiceSection, StrictModel
from trackerdcs.config.modules import ModuleRef, Side
from trackerdcs.power.config import Watchdog, watchdog_warning

# the reference `example.yml` names settings by the property of its channel classes
PROPERTIES: dict[str, str] = {
    "setv": "V0Set", "maxi": "I0Set", "triptime": "Trip", "tripint": "TripInt",
    "tripext": "TripExt", "ovvthr": "OVVThr", "unvthr": "UNVThr", "rampuptime": "RUpTime",
    "rampdwntime": "RDwTime", "rampupspeed": "RUp", "rampdwnspeed": "RDWn",
    "tripmode": "PDwn", "imrange": "ImRange",
}  # fmt: skip


def pv_name(key: str) -> str:
    """`setV` (the reference's property) or `V0Set` (the PV): the PV name."""
    return PROPERTIES.get(key.lower(), key)


def _coerce(side: str, settings: dict[str, Any], loc: tuple[str | int, ...]) -> dict[str, Any]:
    """Settings by PV name with their types; a ValidationError located at the setting (as
    written) for each one that is not right."""
    known = LV_PARAMS if side == "lv" else HV_PARAMS
    out: dict[str, Any] = {}
    errors = []
    for given, value in settings.items():
        try:
            key, out_value = _one(side, known, given, value)
            out[key] = out_value
        except ValueError as exc:
            errors.append(InitErrorDetails(type=PydanticCustomError("setting", "{msg}",
                                                                    {"msg": str(exc)}),
                                           loc=(*loc, given), input=value))  # fmt: skip
    if errors:
        raise ValidationError.from_exception_data("settings", errors)
    return out


def _one(side: str, known: dict[str, type], given: str, value: Any) -> tuple[str, Any]:
    key = pv_name(given)
    if key not in known:
        names = ", ".join(known)
        raise ValueError(f"unknown {side.upper()} setting '{given}'; known: {names} (or the "
                         "reference's property names: setV, maxI, ...)")  # fmt: skip
    kind = known[key]
    if kind is int and isinstance(value, str):
        # bit masks are written 0b00010001 / 0x11 in the reference configs
        try:
            return key, int(value, 0)
        except ValueError:
            raise ValueError(f"{key}: '{value}' is not an integer or 0b/0x mask") from None
    if kind is str:
        if value not in ENUMS[key]:
            raise ValueError(f"{key} must be one of {', '.join(ENUMS[key])}, got {value!r}")
        return key, value
    try:
        return key, kind(value)
    except (TypeError, ValueError):
        raise ValueError(f"{key} must be a number, got {value!r}") from None


class Limits(StrictModel):
    """Hard limits the service enforces on operator commands (refused beyond them)."""

    lv_vmax: float = Field(12.5, gt=0, description="V")
    lv_imax: float = Field(5.0, gt=0, description="A")
    hv_vmax: float = Field(800.0, gt=0, description="V")
    hv_imax: float = Field(1000.0, gt=0, description="µA")


class BoardChannel(StrictModel):
    """`{board, chan, settings: {...}}`, or the reference's shapes: `[board, chan]`, or the
    settings directly beside board and chan (`{board: 0, channel: 1, setV: 10.5}`)."""

    board: int = Field(ge=0, le=31)
    chan: int = Field(ge=0, le=47)
    settings: dict[str, Any] = Field(default_factory=dict)
    _given: dict[str, str] = PrivateAttr(default_factory=dict)  # PV name -> as written

    @model_validator(mode="before")
    @classmethod
    def _reference_shapes(cls, data: Any) -> Any:
        if isinstance(data, list | tuple) and len(data) == 2:
            return {"board": data[0], "chan": data[1]}
        if not isinstance(data, dict):
            return data
        out = {k: v for k, v in data.items() if k in ("board", "chan", "settings")}
        if "channel" in data and "chan" not in data:
            out["chan"] = data["channel"]
        flat = {k: v for k, v in data.items() if k not in ("board", "chan", "channel", "settings")}
        if flat:
            out["settings"] = {**(data.get("settings") or {}), **flat}
        return out

    @model_validator(mode="after")
    def _names(self) -> BoardChannel:
        self._given = {pv_name(k): k for k in self.settings}  # for errors found later
        return self


class ChannelConfig(StrictModel):
    module: str | None = None
    lv: BoardChannel | None = Field(None, description="absent: LV from another supply")
    hv: BoardChannel
    limits: Limits | None = None

    @property
    def active(self) -> bool:
        return bool(self.module)

    @model_validator(mode="after")
    def _check_settings(self) -> ChannelConfig:
        if self.lv is None and not self.module:
            raise ValueError("a channel without lv takes its LV from another supply by module: "
                             "give its module")  # fmt: skip
        if self.lv is not None:
            self.lv.settings = _coerce("lv", self.lv.settings, ("lv", "settings"))
        self.hv.settings = _coerce("hv", self.hv.settings, ("hv", "settings"))
        return self


class GlobalSettings(StrictModel):
    lv: dict[str, Any] = Field(default_factory=dict)
    hv: dict[str, Any] = Field(default_factory=dict)
    limits: Limits = Field(default_factory=Limits)

    @model_validator(mode="after")
    def _check(self) -> GlobalSettings:
        self.lv = _coerce("lv", self.lv, ("lv",))
        self.hv = _coerce("hv", self.hv, ("hv",))
        return self


class Readback(StrictModel):
    """A frozen IOC keeps its CA connections for EPICS_CA_CONN_TMO (30 s) while its values
    stop: every `period` one PV is read fresh; no answer within `timeout` and every value
    of the mainframe counts as unknown (channels DISCONNECTED) until it answers again."""

    period: float = Field(1.0, gt=0, description="s between fresh reads")
    timeout: float = Field(2.0, gt=0, description="s to wait for the IOC's answer")


class Deadbands(StrictModel):
    """A channel's state is published when a field moves by more than this (any other field:
    when it changes); the board temperature's noise alone republished it ten times a second."""

    lv_v: float = Field(0.05, ge=0, description="V")
    lv_i: float = Field(0.01, ge=0, description="A")
    hv_v: float = Field(0.5, ge=0, description="V")
    hv_i: float = Field(0.05, ge=0, description="µA")
    temp: float = Field(0.5, ge=0, description="°C, LV board temperature")


class SimSettings(StrictModel):
    """How the simulated mainframe behaves (only with `simulate: true`)."""

    interfaces: list[str] = Field(default_factory=lambda: ["127.0.0.1"])
    time_scale: float = Field(1.0, gt=0, description="ramp and trip speed-up (demo, tests)")
    leakage_ua: float = Field(2.0, ge=0, description="sensor leakage at 300 V, 20 °C, µA")
    temperature: float = Field(20.0, description="module temperature for leakage, °C")
    lv_load_ohm: float = Field(7.0, gt=0, description="LV load resistance (PS module ≈ 7 Ω)")
    update_hz: float = Field(10.0, gt=0, le=100)
    put_log: str | None = Field(None, description="JSON-lines file recording client writes")
    breakdown: dict[int, float] = Field(
        default_factory=dict, description="channel id -> V where its sensor breaks down"
    )


def _limit_error(loc: tuple[str | int, ...], msg: str, value: Any) -> InitErrorDetails:
    return InitErrorDetails(type=PydanticCustomError("limit", "{msg}", {"msg": msg}), loc=loc,
                            input=value)  # fmt: skip


class CaenConfig(ServiceSection):
    simulate: bool = False
    prefix: str = Field("cleanroom", min_length=1)
    ca_server_port: int | None = Field(None, ge=1, le=65535, description="EPICS_CA_SERVER_PORT")
    ca_addr_list: str = Field("127.0.0.1", description="EPICS_CA_ADDR_LIST")
    global_: GlobalSettings = Field(default_factory=GlobalSettings, alias="global")
    channels: dict[int, ChannelConfig] = Field(default_factory=dict)
    watchdog: Watchdog = Field(default_factory=Watchdog)
    deadbands: Deadbands = Field(default_factory=Deadbands)
    readback: Readback = Field(default_factory=Readback)
    poll: float = Field(0.1, gt=0, description="s between state evaluations")
    hv_off_threshold: float = Field(5.0, ge=0, description="V below which HV counts as off")
    hv_off_timeout: float = Field(120.0, gt=0, description="s to wait for HV ramp-down")
    connect_timeout: float = Field(5.0, gt=0)
    lv_elsewhere_max_age: float = Field(
        15.0, gt=0, description="s after which another supply's word on a module's LV is unknown"
    )
    sim: SimSettings = Field(default_factory=SimSettings)

    @field_validator("channels")
    @classmethod
    def _unique_hardware(cls, channels: dict[int, ChannelConfig]) -> dict[int, ChannelConfig]:
        seen: dict[tuple[str, int, int], int] = {}
        for cid, ch in channels.items():
            for side, bc in (("lv", ch.lv), ("hv", ch.hv)):
                if bc is None:
                    continue
                key = (side, bc.board, bc.chan)
                if key in seen:
                    raise ValueError(
                        f"channel {cid} {side} board {bc.board} chan {bc.chan} "
                        f"is already used by channel {seen[key]}"
                    )
                seen[key] = cid
        return channels

    @model_validator(mode="after")
    def _settings_within_limits(self) -> CaenConfig:
        """A stand-file setting obeys the limits an operator's command obeys."""
        errors = []
        shared: dict[tuple[str, str], list[tuple[int, float, str]]] = {}  # global settings
        for cid, ch in self.channels.items():
            lim = self.limits(cid)
            for side, bc in (("lv", ch.lv), ("hv", ch.hv)):
                if bc is None:
                    continue
                glob = self.global_.lv if side == "lv" else self.global_.hv
                for param, top in (("V0Set", getattr(lim, f"{side}_vmax")),
                                   ("I0Set", getattr(lim, f"{side}_imax"))):  # fmt: skip
                    unit = "V" if param == "V0Set" else ("A" if side == "lv" else "µA")
                    value = bc.settings.get(param, glob.get(param))
                    if value is None or value <= top:
                        continue
                    if param not in bc.settings:
                        shared.setdefault((side, param), []).append((cid, top, unit))
                        continue
                    msg = (f"{param} {value:g} {unit} is beyond channel {cid}'s limit of "
                           f"{top:g} {unit}")  # fmt: skip
                    loc = ("channels", cid, side, "settings", bc._given.get(param, param))
                    errors.append(_limit_error(loc, msg, value))
        for (side, param), hits in shared.items():
            value = (self.global_.lv if side == "lv" else self.global_.hv)[param]
            cids = ", ".join(str(c) for c, _t, _u in hits)
            _c, top, unit = min(hits, key=lambda h: h[1])
            msg = (
                f"{param} {value:g} {unit} is beyond the limit of {top:g} {unit} (channels {cids})"
            )
            errors.append(_limit_error(("global", side, param), msg, value))
        if errors:
            raise ValidationError.from_exception_data("CaenConfig", errors)
        return self

    def settings(self, cid: int, side: str) -> dict[str, Any]:
        """Global defaults overridden by the channel's own settings."""
        ch = self.channels[cid]
        bc = ch.lv if side == "lv" else ch.hv
        if bc is None:
            return {}
        base = dict(self.global_.lv if side == "lv" else self.global_.hv)
        base.update(bc.settings)
        return base

    def where(self) -> list[str]:
        return [f"CAEN IOC      Channel Access port {self.ca_server_port}"] if self.simulate else []

    def module_refs(self) -> list[ModuleRef]:
        out = []
        for cid, ch in self.channels.items():
            if ch.module:
                where = f"CAEN channel {cid}"
                sides: tuple[Side, ...] = ("hv",) if ch.lv is None else ("lv", "hv")
                out += [ModuleRef(ch.module, side, ("channels", cid, "module"), where)
                        for side in sides]  # fmt: skip
        return out

    def warnings(self, stand: Any) -> list[str]:
        return watchdog_warning(
            "caen", self.watchdog, stand, "the mainframe goes to the safe state"
        )

    def limits(self, cid: int) -> Limits:
        return self.channels[cid].limits or self.global_.limits
