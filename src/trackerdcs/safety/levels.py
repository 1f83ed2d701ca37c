"""Warning/action levels with hysteresis: a level is left only past its threshold plus the
hysteresis, so a value hovering at a threshold does not make the stand flap."""

from __future__ import annotations

OK, WARNING, ACTION = "OK", "WARNING", "ACTION"
RANK = {OK: 0, WARNING: 1, ACTION: 2}


def grade(
    previous: str, value: float, warning: float, action: float, hysteresis: float,
    low_is_bad: bool,
) -> str:  # fmt: skip
    def bad(threshold: float) -> bool:
        return value < threshold if low_is_bad else value > threshold

    def recovered(threshold: float) -> bool:
        return value >= threshold + hysteresis if low_is_bad else value <= threshold - hysteresis

    if bad(action) or (previous == ACTION and not recovered(action)):
        return ACTION
    if bad(warning) or (previous in (ACTION, WARNING) and not recovered(warning)):
        return WARNING
    return OK


def worst(states: list[str]) -> str:
    return max(states, key=RANK.__getitem__, default=OK)
