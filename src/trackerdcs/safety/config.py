"""Stand-file section `safety`: interlock rules, the actions they take, notifications."""

from __future__ import annotations

from pydantic import Field, model_validator

from trackerdcs.config.base import ServiceSection, StrictModel


class DewpointRule(StrictModel):
    """Margin = coldest surface − highest dew point of the air around it (K)."""

    enabled: bool = True
    warning: float = Field(5.0, description="K margin below which the rule warns")
    action: float = Field(3.0, description="K margin below which the stand goes safe")
    hysteresis: float = Field(1.0, ge=0, description="K above a level before it clears")
    surfaces: list[str] = Field(
        default_factory=list, description="sensors measuring cold surfaces; empty: every "
        "sensor of kind coldbox, surface or module")  # fmt: skip
    air: list[str] = Field(
        default_factory=list, description="sensors whose dew point counts; empty: coldbox "
        "sensors if any, else every sensor")  # fmt: skip
    chiller_is_surface: bool = Field(True, description="the bath temperature is a surface")

    @model_validator(mode="after")
    def _order(self) -> DewpointRule:
        if self.action > self.warning:
            raise ValueError("action margin must not exceed the warning margin")
        return self


class OvertempRule(StrictModel):
    enabled: bool = True
    sensors: list[str] = Field(default_factory=list, description="empty: every sensor")
    warning: float = Field(35.0, description="°C")
    action: float = Field(40.0, description="°C")
    hysteresis: float = Field(1.0, ge=0)

    @model_validator(mode="after")
    def _order(self) -> OvertempRule:
        if self.action < self.warning:
            raise ValueError("action temperature must not be below the warning temperature")
        return self


class StaleRule(StrictModel):
    """A sensor silent this long counts as unsafe: its last values are not current."""

    enabled: bool = True
    sensors: list[str] = Field(default_factory=list, description="empty: every sensor")
    warning: float = Field(15.0, gt=0, description="s without a reading")
    action: float = Field(30.0, gt=0, description="s without a reading")


class ChillerRule(StrictModel):
    """The chiller stopped, in alarm or gone while modules are powered."""

    enabled: bool = True
    grace: float = Field(120.0, ge=0, description="s the warning lasts before the action")


class ServicesRule(StrictModel):
    """A required service offline warns at once and acts after `action_after` s (if set)."""

    enabled: bool = True
    required: list[str] | None = Field(
        None, description="services whose `online` must be true; default: the stand's "
        "device services")  # fmt: skip
    action_after: float | None = Field(
        None, gt=0, description="s offline before the action; null: warn only"
    )
    startup: float = Field(
        30.0, ge=0, description="s after safety's start in which a service not yet online is "
        "still starting, not offline (no alarm at every start)")  # fmt: skip


class Actions(StrictModel):
    caen_service: str | None = Field(None, description="default: the stand's caen name")
    chiller_service: str | None = Field(None, description="default: the stand's julabo name")
    chiller_safe_setpoint: float = Field(20.0, description="°C, well above any dew point")
    chiller_setpoint: int = Field(1, ge=1, le=3, description="which setpoint to use")
    retry: float = Field(10.0, gt=0, description="s before re-sending while still powered")


class Smtp(StrictModel):
    host: str
    port: int = 25
    starttls: bool = False
    username: str | None = None
    password_env: str | None = Field(None, description="environment variable with password")
    sender: str = "trackerdcs@localhost"
    to: list[str] = Field(min_length=1)


class Webhook(StrictModel):
    url: str
    timeout: float = 5.0


class Notify(StrictModel):
    smtp: Smtp | None = None
    webhook: Webhook | None = None
    min_severity: str = Field("MAJOR", pattern="^(MINOR|MAJOR|INVALID)$")
    repeat_after: float = Field(
        3600.0, gt=0, description="s before the same alarm again; reminder while unacknowledged"
    )
    max_per_hour: int = Field(30, ge=1)
    startup_grace: float = Field(30.0, ge=0, description="s after start before sending")


class DoorRule(StrictModel):
    """The cold-room door: safe to open only when the coldest of the cooling's cold surfaces
    and the room is above the room's dew point + `margin`, all HV is off, and the room's
    readings are at most `max_age` old (PROTOCOLS.md §7)."""

    topic: str = Field("coldroom/safe_to_open", description="retained `true`/`false`")
    margin: float = Field(1.0, ge=0, description="K above the room dew point")
    max_age: float = Field(600.0, gt=0, description="s; older room data: not safe")
    room: list[str] = Field(default_factory=list, description="room sensors; empty: every "
                            "sensor of kind ambient")  # fmt: skip


GRACE_FLOOR = 10.0  # s: the shortest chiller grace a time scale makes


class SafetyConfig(ServiceSection):
    heartbeat_topic: str | None = Field(None, description="default: `<safety name>/heartbeat`")
    heartbeat_period: float = Field(1.0, gt=0)
    dewpoint: DewpointRule = Field(default_factory=DewpointRule)
    overtemp: OvertempRule = Field(default_factory=OvertempRule)
    stale: StaleRule = Field(default_factory=StaleRule)
    chiller: ChillerRule = Field(default_factory=ChillerRule)
    services: ServicesRule = Field(default_factory=ServicesRule)
    actions: Actions = Field(default_factory=Actions)
    notify: Notify = Field(default_factory=Notify)
    door: DoorRule | None = Field(None, description="a cold-room door interlock (`door: {}`)")

    def time_scaled(self, scale: float) -> None:
        """A simulated chiller stopped warms the plant `scale` times faster: its grace is as
        much shorter (a demo at time scale 10 acts after 12 s, not 120), but not under
        `GRACE_FLOOR`: the services poll and report in real seconds (MARTA's 1 s poll, the
        bus), which no time scale shortens (a cold room at time scale 240 had 1.25 s for its
        CO2 to be seen running and went to ACTION)."""
        self.chiller.grace = max(self.chiller.grace / scale, min(self.chiller.grace, GRACE_FLOOR))
