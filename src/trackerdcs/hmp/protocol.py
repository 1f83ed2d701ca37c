"""The HMP series as its SCPI interface presents it (TCP port 5025, one command per line),
without any I/O: the commands we send, how answers and the error queue read, the models.

A channel is addressed by selecting it first (`INST:NSEL n`); every other command acts on
the selected channel. An output is live when its channel is selected for output
(`OUTP:SEL 1`) *and* the master output is on (`OUTP:GEN 1`): we switch channels with
`OUTP:SEL` and keep the master on, so one channel going off leaves the others as they are.
An over-voltage protection (OVP) trip switches the channel off and latches until
`VOLT:PROT:CLE`.
"""

from __future__ import annotations

import math

# model -> (channels, V max, A max) from the data sheets
MODELS: dict[str, tuple[int, float, float]] = {
    "HMP4040": (4, 32.0, 10.0),
    "HMP4030": (3, 32.0, 10.0),
    "HMP2030": (3, 32.0, 5.0),
    "HMP2020": (2, 32.0, 10.0),
}
OVP_MAX = 32.05  # V, the instrument's own top OVP level
VENDORS = ("ROHDE&SCHWARZ", "HAMEG")  # older firmware answers *IDN? as HAMEG

NO_ERROR = 0

# what one poll reads of a channel, after selecting it: signal name -> query
READ: dict[str, str] = {
    "vset": "VOLT?",
    "iset": "CURR?",
    "vmon": "MEAS:VOLT?",
    "imon": "MEAS:CURR?",
    "output": "OUTP:SEL?",
    "ovp": "VOLT:PROT:LEV?",
    "ovp_tripped": "VOLT:PROT:TRIP?",
}
UNITS = {"vset": "V", "iset": "A", "vmon": "V", "imon": "A", "ovp": "V"}


def select(channel: int) -> str:
    return f"INST:NSEL {channel}"


def set_voltage(volts: float) -> str:
    return f"VOLT {volts:.3f}"


def set_current(amps: float) -> str:
    return f"CURR {amps:.4f}"


def set_ovp(volts: float) -> str:
    return f"VOLT:PROT:LEV {volts:.3f}"


def output(on: bool) -> str:
    return f"OUTP:SEL {1 if on else 0}"


MASTER_ON = "OUTP:GEN 1"
MASTER = "OUTP:GEN?"
CLEAR_OVP = "VOLT:PROT:CLE"
IDN = "*IDN?"
ERROR_QUERY = "SYST:ERR?"


def number(answer: str) -> float:
    """A numeric answer (`1.050E+01`, `10.500`); ValueError for anything else."""
    value = float(answer.strip())
    if not math.isfinite(value):
        raise ValueError(f"not a finite number: {answer!r}")
    return value


def flag(answer: str) -> bool:
    text = answer.strip().upper()
    if text in ("1", "ON"):
        return True
    if text in ("0", "OFF"):
        return False
    raise ValueError(f"not 0/1: {answer!r}")


def parse_error(answer: str) -> tuple[int, str]:
    """`-222,"Data out of range"` -> (-222, "Data out of range")."""
    code, _, text = answer.strip().partition(",")
    return int(code), text.strip().strip('"')


def parse_idn(answer: str) -> tuple[str, str]:
    """(vendor, model) from `Rohde&Schwarz,HMP4040,123456,HW50020001/SW2.51`."""
    parts = [p.strip() for p in answer.split(",")]
    if len(parts) < 2:
        raise ValueError(f"not an *IDN? answer: {answer!r}")
    return parts[0], parts[1]


def channel_state(connected: bool, on: bool | None, tripped: bool | None) -> tuple[str, str]:
    """(state, reason) of one output, from read-back only."""
    if not connected or on is None or tripped is None:
        return "DISCONNECTED", "supply unreachable"
    if tripped:
        return "ERROR", "over-voltage protection tripped"
    return ("LV_ON" if on else "LV_OFF"), ""
