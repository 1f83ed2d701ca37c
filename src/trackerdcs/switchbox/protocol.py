"""The switchbox's serial protocol, without any I/O.

The reference (PROTOCOLS.md §1) sends the box's own lines on `SB/cmd`: `LV|ON`, `LV|OFF`
(the master relay feeding every channel), `CH<n>|ON`, `CH<n>|OFF` (one module's relay),
`STATUS?`. Our reading of the box's answers, one line each: `OK` to a command, `ERR
<why>` to one it refuses, and to `STATUS?` the relays as `LV=ON;CH1=OFF;CH2=ON;...`.
A module's LV passes the box only when the master and its channel are both on.
"""

from __future__ import annotations

import re

LINE = re.compile(r"^(LV|CH(\d{1,2}))\|(ON|OFF)$")
STATUS = "STATUS?"


def command(target: str, on: bool) -> str:
    """`LV|ON`, `CH3|OFF`: target is "LV" or a channel number as text."""
    name = "LV" if target == "LV" else f"CH{int(target)}"
    return f"{name}|{'ON' if on else 'OFF'}"


def parse_command(line: str) -> tuple[str, bool]:
    """`CH3|OFF` -> ("3", False), `LV|ON` -> ("LV", True); ValueError otherwise."""
    m = LINE.match(line.strip().upper())
    if not m:
        raise ValueError(f"not a switchbox command: {line.strip()!r} (LV|ON, CH<n>|OFF, STATUS?)")
    return (m.group(2) or "LV"), m.group(3) == "ON"


def parse_status(answer: str, relays: int) -> tuple[bool, dict[int, bool]]:
    """`LV=ON;CH1=OFF;...` -> (master, {channel: on}); ValueError when a relay is missing."""
    fields = dict(part.split("=", 1) for part in answer.strip().split(";") if "=" in part)
    try:
        master = _on(fields["LV"])
        channels = {n: _on(fields[f"CH{n}"]) for n in range(1, relays + 1)}
    except KeyError as exc:
        raise ValueError(f"status without {exc.args[0]}: {answer.strip()!r}") from None
    return master, channels


def format_status(master: bool, channels: dict[int, bool]) -> str:
    parts = [f"LV={'ON' if master else 'OFF'}"]
    parts += [f"CH{n}={'ON' if on else 'OFF'}" for n, on in sorted(channels.items())]
    return ";".join(parts)


def _on(text: str) -> bool:
    t = text.strip().upper()
    if t not in ("ON", "OFF"):
        raise ValueError(f"relay state {text!r}")
    return t == "ON"
