"""The Julabo RS232 protocol (PROTOCOLS.md §3), without any I/O: what to send, how to read
the answers, and what the unit's STATUS means for the service state."""

from __future__ import annotations

# what one poll reads: signal name -> query
READS: dict[str, str] = {
    "internal_temp": "IN_PV_00",
    "power": "IN_PV_01",
    "external_temp": "IN_PV_02",
    "setpoint_1": "IN_SP_00",
    "setpoint_2": "IN_SP_01",
    "setpoint_3": "IN_SP_02",
    "used_setpoint": "IN_MODE_01",
    "ext_is_used": "IN_MODE_04",
    "running": "IN_MODE_05",
}
STATES = ("DISCONNECTED", "CONNECTED", "OFF", "ON", "ERROR")
REMOTE_STOP, REMOTE_START = 2, 3


class ProtocolError(ValueError):
    """An answer that is not what the protocol says (garbage on the line)."""


def set_setpoint(index: int, temp: float) -> str:
    """`index` 1..3 as the reference topics count setpoints."""
    return f"OUT_SP_0{index - 1} {temp:.2f}"


def use_setpoint(index: int) -> str:
    return f"OUT_MODE_01 {index - 1}"


def set_pressure(stage: int) -> str:
    return f"OUT_SP_07 {stage}"


def set_running(on: bool) -> str:
    return f"OUT_MODE_05 {int(on)}"


def set_external(on: bool) -> str:
    return f"OUT_MODE_04 {int(on)}"


def parse_number(query: str, text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ProtocolError(f"{query}: expected a number, got {text!r}") from None


def parse_status(text: str) -> tuple[int, str]:
    """`03 REMOTE START` -> (3, "REMOTE START")."""
    code, _, rest = text.partition(" ")
    try:
        return int(code), rest.strip()
    except ValueError:
        raise ProtocolError(f"STATUS: garbled answer {text!r}") from None


def interpret(readings: dict[str, float]) -> dict[str, object]:
    """Raw numbers to the reference stack's fields."""
    out: dict[str, object] = dict(readings)
    out["used_setpoint"] = int(readings["used_setpoint"]) + 1
    out["ext_is_used"] = readings["ext_is_used"] == 1
    out["running"] = readings["running"] == 1
    return out


def state_of(code: int, text: str, alarm_codes: dict[int, str]) -> tuple[str, str]:
    """(FSM state, message) from the STATUS answer; the only source of the state."""
    if code < 0:
        return "ERROR", f"alarm {code}: {alarm_codes.get(code, text or 'unknown alarm')}"
    if code in (0, 1):
        return "ERROR", f"{text}: unit in MANUAL mode, remote control disabled"
    if code == REMOTE_START:
        return "ON", ""
    return "OFF", ""
