"""Sequence recipes: a YAML list of steps over a set of modules, validated like the stand file.

```yaml
name: burn-in
modules: [PS_26_05-IBA_00001]          # default: every module of the stand
steps:
  - lv: on
  - cycle:
      count: 2
      steps:
        - chiller: {setpoint: -20, wait_stable: true}
        - hv: {state: on, voltage: 300}
        - iv: {stop: 300, step: 10, compliance: 10}
        - calibration: pedenoise
        - hv: off
        - chiller: {setpoint: 20}
        - wait: 600
  - lv: off
```

Each step body takes `on_failure: stop|continue` and a `label`. Pure: no bus, no clock; the
sequencer (`runs.sequencer`) executes the flat plan this module makes of a recipe.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Literal

import yaml
from pydantic import Field, model_validator

from trackerdcs.config.base import StrictModel
from trackerdcs.config.loader import ConfigError, ConfigProblem, _check_node, validate
from trackerdcs.runs.iv_scan import IvRequest

OnFailure = Literal["stop", "continue"]


class StepBody(StrictModel):
    on_failure: OnFailure | None = Field(None, description="default: the recipe's on_failure")
    label: str = ""


def _scalar(field: str, data: Any) -> Any:
    """`lv: on` is `lv: {state: on}`: a scalar body is the value of its main field."""
    if isinstance(data, dict):
        return data
    return {field: data}


class ChillerStep(StepBody):
    setpoint: float = Field(description="°C (the chiller's limits and dew-point guard apply)")
    wait_stable: bool = Field(True, description="wait for the bath at the set-point and the "
                              "cold box stable")  # fmt: skip
    tolerance: float = Field(1.0, gt=0, description="K of bath temperature from the set-point")
    stable_for: float | None = Field(None, ge=0, description="s; default runs.stable.for_s")
    band: float | None = Field(None, gt=0, description="K; default runs.stable.band")
    timeout: float = Field(7200.0, gt=0, description="s before the step fails")


def _on_off(data: Any) -> Any:
    data = _scalar("state", data)
    v = data.get("state") if isinstance(data, dict) else None
    if isinstance(v, bool):  # YAML 1.1 reads a bare on/off as a boolean
        data = {**data, "state": "on" if v else "off"}
    return data


class LvStep(StepBody):
    state: Literal["on", "off"]
    timeout: float = Field(120.0, gt=0, description="s for the read-back to follow")

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        return _on_off(data)


class HvStep(StepBody):
    state: Literal["on", "off"]
    voltage: float | None = Field(None, ge=0, description="V (on); default: the channel's V0Set")
    band: float = Field(5.0, gt=0, description="V of read-back from the voltage")
    timeout: float = Field(900.0, gt=0, description="s for the ramp")

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        return _on_off(data)

    @model_validator(mode="after")
    def _voltage_only_on(self) -> HvStep:
        if self.state == "off" and self.voltage is not None:
            raise ValueError("voltage is for `state: on`")
        return self


class IvStep(StepBody, IvRequest):
    """An IV scan (the fields of `runs/cmd/iv/start`); modules default to the recipe's."""


class CalibrationStep(StepBody):
    tag: str = Field(min_length=1, description="Ph2_ACF calibration tag")
    config: str | None = Field(None, description="another hardware XML")
    mode: Literal["batch", "middleware"] | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        return _scalar("tag", data)


class WaitStep(StepBody):
    seconds: float = Field(gt=0)

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        return _scalar("seconds", data)


class CycleStep(StepBody):
    count: int = Field(ge=1, le=1000)
    steps: list[Step] = Field(min_length=1)


KINDS = ("chiller", "lv", "hv", "iv", "calibration", "wait", "cycle")


class Step(StrictModel):
    """Exactly one of the keys."""

    chiller: ChillerStep | None = None
    lv: LvStep | None = None
    hv: HvStep | None = None
    iv: IvStep | None = None
    calibration: CalibrationStep | None = None
    wait: WaitStep | None = None
    cycle: CycleStep | None = None

    @model_validator(mode="after")
    def _one(self) -> Step:
        given = [k for k in KINDS if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("a step is exactly one of " + ", ".join(KINDS)
                             + (f" (got {', '.join(given)})" if given else ""))  # fmt: skip
        return self

    @property
    def kind(self) -> str:
        return next(k for k in KINDS if getattr(self, k) is not None)

    @property
    def body(self) -> StepBody:
        body = getattr(self, self.kind)
        assert isinstance(body, StepBody)
        return body


class Recipe(StrictModel):
    name: str = Field(min_length=1)
    description: str = ""
    version: str = ""
    modules: list[str] | None = Field(None, description="module names or channel ids; "
                                      "default: every module of the stand")  # fmt: skip
    on_failure: OnFailure = Field("stop", description="what a failed step does by default")
    at_end_of_failure: Literal["power_off", "keep"] = Field(
        "power_off", description="after a failed or aborted sequence: HV off then LV off on "
        "its modules, or leave them as they are")  # fmt: skip
    steps: list[Step] = Field(min_length=1)


# -- what the sequencer executes ---------------------------------------------------------------

# What a step interrupted by a crash does on resume. Every step is re-run only through its
# own checks (power on needs the preconditions, a set-point the chiller's guard); and the
# resume itself is refused when the stand's power is not what the recipe left it in.
RESUME: dict[str, str] = {
    "chiller": "rerun",  # the set-point again, then wait again for stability
    "lv": "rerun",  # on: preconditions again; off: always safe
    "hv": "rerun",
    "iv": "rerun",  # a new scan from its start voltage; the interrupted one stays, aborted
    "calibration": "rerun_unless_done",  # Ph2_ACF's own log decides whether it completed
    "wait": "rerun",  # the whole time: a soak must be complete
}


@dataclass(frozen=True)
class Planned:
    index: int
    kind: str
    body: StepBody
    path: str  # "3" or "2.1" (step 1 of the cycle that is step 2)
    cycle: tuple[tuple[int, int], ...] = ()  # (pass, count) per enclosing cycle

    @property
    def label(self) -> str:
        return self.body.label or describe(self.kind, self.body)

    def as_dict(self) -> dict[str, Any]:
        return {"index": self.index, "kind": self.kind, "label": self.label, "path": self.path,
                "cycle": cycle_text(self.cycle)}  # fmt: skip


def cycle_text(cycle: tuple[tuple[int, int], ...]) -> str:
    return " ".join(f"{n}/{c}" for n, c in cycle)


def describe(kind: str, body: Any) -> str:
    if kind == "chiller":
        return f"chiller {body.setpoint:g} °C" + (" (wait stable)" if body.wait_stable else "")
    if kind in ("lv", "hv"):
        v = f" at {body.voltage:g} V" if getattr(body, "voltage", None) is not None else ""
        return f"{kind.upper()} {body.state}{v}"
    if kind == "iv":
        return f"IV {body.start:g}–{body.stop:g} V step {body.step:g} V"
    if kind == "calibration":
        return f"calibration {body.tag}"
    if kind == "wait":
        return f"wait {body.seconds:g} s"
    return kind


def plan(recipe: Recipe) -> list[Planned]:
    out: list[Planned] = []

    def walk(steps: list[Step], prefix: str, cycle: tuple[tuple[int, int], ...]) -> None:
        for i, step in enumerate(steps, 1):
            path = f"{prefix}{i}"
            if step.cycle is not None:
                for n in range(1, step.cycle.count + 1):
                    walk(step.cycle.steps, f"{path}.", (*cycle, (n, step.cycle.count)))
                continue
            out.append(Planned(len(out), step.kind, step.body, path, cycle))

    walk(recipe.steps, "", ())
    return out


def on_failure(recipe: Recipe, step: Planned) -> OnFailure:
    return step.body.on_failure or recipe.on_failure


def power_before(steps: list[Planned], index: int) -> dict[str, bool | None]:
    """What the recipe has left LV and HV in when step `index` starts (None: not touched)."""
    state: dict[str, bool | None] = {"lv": None, "hv": None}
    for s in steps[:index]:
        b: Any = s.body
        if s.kind == "iv":
            state["hv"] = b.end_voltage > 0  # the scan ends there
        if s.kind in ("lv", "hv"):
            on = b.state == "on"
            state[s.kind] = on
            if s.kind == "lv" and not on:
                state["hv"] = False  # LV off takes HV down first
    return state


def estimate(step: Planned, calibration_s: float | None = None) -> float | None:
    """Seconds a step takes at least, when that can be known beforehand."""
    b: Any = step.body
    if step.kind == "wait":
        return float(b.seconds)
    if step.kind == "iv":
        n = int((b.stop - b.start) / b.step) + 1
        return n * (b.settle + b.readings * b.interval)
    if step.kind == "calibration":
        return calibration_s
    return None


# -- reading recipes ------------------------------------------------------------------------------


def parse(text: str, file: str) -> Recipe:
    """A recipe from its YAML text; ConfigError with `file:line: key: message`."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        _check_node(node, file)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        raise ConfigError([ConfigProblem(file, line, "", f"YAML syntax: {exc.problem}")]) from None
    except (yaml.YAMLError, RecursionError) as exc:
        raise ConfigError([ConfigProblem(file, None, "", f"YAML: {exc}")]) from None
    if not isinstance(data, dict):
        raise ConfigError([ConfigProblem(file, 1, "", "a recipe is a mapping with name and steps")])
    return validate(Recipe, data, file, node)


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]
