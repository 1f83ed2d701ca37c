"""The MARTA CO2 plant as its PLC presents it over Modbus TCP (PROTOCOLS.md §7), without
any I/O: holding-register addresses, the float32 encoding (big-endian bytes, low word
first), the command bits, set-point limits, the status word, the alarm bits with names, and
the reference FSM derived from read-back.
"""

from __future__ import annotations

import math
import struct

STATES = ("INIT", "DISCONNECTED", "CONNECTED", "CHILLER_RUNNING", "CO2_RUNNING", "ALARM")

# read-back (float32, two registers each): name -> address
READ_FLOATS: dict[str, int] = {
    "R452A_PT01": 100, "R452A_PT03": 102, "R452A_PT04": 104,
    **{f"CO2_PT0{i}": 104 + 2 * i for i in range(1, 7)},  # 106 .. 116
    **{f"R452A_TT0{i}": 116 + 2 * i for i in range(1, 5)},  # 118 .. 124
    **{f"CO2_TT0{i}": 124 + 2 * i for i in range(1, 8)},  # 126 .. 138
    "CO2_FT01": 140,
    "EV1": 192, "EV2": 194, "EV3": 196, "EV3C": 198,
    "pump_speed": 200, "heater_power": 202,
    "temperature_setpoint": 204, "speed_setpoint": 206, "flow_setpoint": 208,
}  # fmt: skip
SUPPLY, RETURN = "CO2_TT05", "CO2_TT06"  # the CO2 temperatures at the detector's inlet, outlet
UNITS = {"PT": "bar", "TT": "°C", "FT": "g/s", "EV": "%", "pump_speed": "rpm",
         "heater_power": "W", "temperature_setpoint": "°C", "speed_setpoint": "rpm",
         "flow_setpoint": "g/s"}  # fmt: skip

READ_START, READ_COUNT = 100, 110  # one read covers 100 .. 209
ALARM_REGS = (300, 301, 302, 303)  # chiller alarm bits (300-301), CO2 alarm bits (302-303)
COMMAND = 305  # bits: start_chiller, start_co2, flow_active, alarm_reset
START_CHILLER, START_CO2, FLOW_ACTIVE, ALARM_RESET = 0, 1, 2, 3
STATUS = 320  # 1 idle / chiller running, 2 CO2 running, 3 alarm
CONTROL_START, CONTROL_COUNT = 300, 21  # one read covers 300 .. 320

# write address and reference limits of the three set-points (inclusive)
SETPOINTS: dict[str, tuple[int, float, float]] = {
    "temperature": (310, -35.0, 25.0),
    "speed": (312, 0.0, 6000.0),
    "flow": (314, 0.0, 5.0),
}

# the named alarm bits (register, bit) -> name; bits not named are reported by number
ALARMS: dict[tuple[int, int], str] = {
    (300, 0): "R452A high pressure",
    (300, 1): "R452A low pressure",
    (300, 2): "compressor overload",
    (300, 3): "compressor discharge over-temperature",
    (300, 4): "condenser fan failure",
    (300, 5): "chiller emergency stop",
    (302, 0): "CO2 low flow",
    (302, 1): "CO2 high pressure",
    (302, 2): "CO2 low pressure",
    (302, 3): "CO2 pump failure",
    (302, 4): "CO2 accumulator low level",
    (302, 5): "CO2 heater over-temperature",
    (302, 6): "CO2 supply temperature out of range",
}
ALARM_NAMES = {name: where for where, name in ALARMS.items()}


class ProtocolError(Exception):
    """A value the plant cannot have answered."""


def decode_float(lo: int, hi: int) -> float:
    """Two holding registers, low word first, each big-endian."""
    return struct.unpack(">f", struct.pack(">HH", hi, lo))[0]


def encode_float(value: float) -> list[int]:
    hi, lo = struct.unpack(">HH", struct.pack(">f", value))
    return [lo, hi]


def decode_block(start: int, registers: list[int]) -> dict[str, float]:
    """Every float of `READ_FLOATS` inside a block read from `start`; NaN/inf: left out."""
    out: dict[str, float] = {}
    for name, addr in READ_FLOATS.items():
        i = addr - start
        if i >= 0 and i + 1 < len(registers):
            value = decode_float(registers[i], registers[i + 1])
            if math.isfinite(value):
                out[name] = round(value, 4)
    return out


def alarms_of(words: dict[int, int]) -> list[str]:
    """The names of the alarm bits set in the alarm registers."""
    out = []
    for reg in ALARM_REGS:
        word = words.get(reg, 0)
        for bit in range(16):
            if word >> bit & 1:
                side = "chiller" if reg < 302 else "CO2"
                out.append(ALARMS.get((reg, bit), f"{side} alarm bit {reg}.{bit}"))
    return out


def bit(word: int, n: int) -> bool:
    return bool(word >> n & 1)


def with_bit(word: int, n: int, on: bool) -> int:
    return word | (1 << n) if on else word & ~(1 << n)


def state_of(status: int, command: int) -> tuple[str, str]:
    """(state, why) from the status word and the command bits read back, as the reference
    FSM does; a combination the PLC should never show is ALARM with the reason."""
    if status == 3:
        return "ALARM", "plant in alarm"
    if status == 2:
        if not bit(command, START_CO2):
            return "ALARM", "status says CO2 running but start_co2 is off"
        return "CO2_RUNNING", ""
    if status == 1:
        if bit(command, START_CO2):
            return "CHILLER_RUNNING", "CO2 starting"
        if bit(command, START_CHILLER):
            return "CHILLER_RUNNING", ""
        return "CONNECTED", ""
    raise ProtocolError(f"status register {STATUS} reads {status} (1, 2 or 3 expected)")


def check_setpoint(kind: str, value: float) -> str:
    """'' when `value` is within the reference limits, else why not."""
    _, lo, hi = SETPOINTS[kind]
    if not math.isfinite(value) or not lo <= value <= hi:
        return f"{kind} set-point {value:g} outside {lo:g} .. {hi:g}"
    return ""
