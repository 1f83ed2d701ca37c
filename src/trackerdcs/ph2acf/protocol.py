"""Ph2_ACF as it presents itself (PROTOCOLS.md §4), without any I/O: the log lines of a batch
run and what they mean, and the middleware server's framing and text messages.

A batch run is followed through its log: `Run <N> started`, one `Done with <step>.` per
step (IT: `Progress: <p> %`), `Closing result file: <path>` (the mark of a good run), `Run
<N> stopped`, `Halted`, `elapsed time: <s> seconds`. Known failure lines make it failed.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# `29.05.2025 15:59:56: |140489373334720|I| message`
PREFIX = re.compile(r"^\d{2}\.\d{2}\.\d{4} \d{2}:\d{2}:\d{2}: \|\d+\|[A-Z]\| ?")

OT_TAGS = ("configureonly", "calibration", "pedenoise", "calibrationandpedenoise", "alignment",
           "noiseOT", "otlatency", "cmNoise", "psphysics")  # fmt: skip
FAILURES = (
    "ControlHub returned error code",
    "Host not found (authoritative)",
    "No object enabled in fDetectorContainer",
    "does not exist",  # Error: calibration tag <X> does not exist
    "terminate called after throwing",
    "Segmentation fault",
)


def message(line: str) -> str:
    """The message part of a log line: colour codes and the date|thread|level prefix gone."""
    return PREFIX.sub("", ANSI.sub("", line)).strip()


@dataclass(frozen=True)
class Event:
    kind: str  # started | step | progress | result | stopped | halted | elapsed | failure | end
    text: str
    run: int | None = None
    value: float | None = None


_RULES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^Run (\d+) started"), "started"),
    (re.compile(r"^Done with (.+?)\.?$"), "step"),
    (re.compile(r"^@@@ Performing (.+?) @@@"), "step"),
    (re.compile(r"Progress: ([0-9.]+) ?%"), "progress"),
    (re.compile(r"^Closing result file: (\S+)"), "result"),
    (re.compile(r"^Run (\d+) stopped"), "stopped"),
    (re.compile(r"^Halted"), "halted"),
    (re.compile(r"elapsed time: ([0-9.]+) seconds"), "elapsed"),
    (re.compile(r"^@@@ End of CMSIT miniDAQ @@@"), "end"),
]


def parse(line: str) -> Event | None:
    """What one log line says about the run, or None."""
    text = message(line)
    if not text:
        return None
    for needle in FAILURES:
        if needle in text:
            return Event("failure", text)
    for pattern, kind in _RULES:
        m = pattern.search(text)
        if m is None:
            continue
        if kind in ("started", "stopped"):
            return Event(kind, text, run=int(m.group(1)))
        if kind in ("progress", "elapsed"):
            return Event(kind, text, value=float(m.group(1)))
        if kind in ("step", "result"):
            return Event(kind, m.group(1))
        return Event(kind, text)
    return None


# -- middleware server: framing -------------------------------------------------------------
HEADER = struct.Struct(">II")  # total length including the header, packet number
MAX_FRAME = 16 * 1024 * 1024


class FrameError(ValueError):
    pass


def frame(payload: bytes, number: int = 0) -> bytes:
    return HEADER.pack(HEADER.size + len(payload), number) + payload


def frame_length(header: bytes) -> int:
    """Payload bytes that follow an 8-byte header (FrameError if the header is impossible)."""
    total, _number = HEADER.unpack(header)
    if total < HEADER.size or total > MAX_FRAME:
        raise FrameError(f"bad frame length {total}")
    return total - HEADER.size


# -- middleware server: the text protocol ---------------------------------------------------
def configure(calibration: str, config_file: str) -> str:
    return f"Configure,Calibration:{calibration},ConfigurationFile:{config_file}"


def start(run_number: int) -> str:
    return f"Start:{{RunNumber:{run_number}}}"


EXPECTED = {"Initialize": "InitializeDone", "Configure": "ConfigureDone", "Start": "StartDone",
            "Stop": "StopDone", "Halt": "HaltDone", "Pause": "PauseDone",
            "Resume": "ResumeDone"}  # fmt: skip


def verb(msg: str) -> str:
    """`Configure,Calibration:x,...` -> `Configure`; `Start:{RunNumber:5}` -> `Start`."""
    return re.split(r"[,:]", msg, maxsplit=1)[0]


def parse_fields(msg: str) -> dict[str, str]:
    """`Configure,Calibration:x,ConfigurationFile:/a.xml` -> {Calibration: x, ...}."""
    out = {}
    for part in msg.split(",")[1:]:
        key, _, value = part.partition(":")
        out[key.strip()] = value.strip()
    return out


def run_number_of(msg: str) -> int | None:
    m = re.search(r"RunNumber:(\d+)", msg)
    return int(m.group(1)) if m else None


class TextCodec:
    """The middleware's text messages. The framing above is shared; a protobuf codec (newer
    builds: `MessageUtils.QueryMessage` / `ReplyMessage`) would implement these four
    methods and nothing else would change."""

    def request(self, verb: str, calibration: str = "", config_file: str = "",
                run_number: int = 0) -> bytes:  # fmt: skip
        if verb == "Configure":
            return configure(calibration, config_file).encode()
        if verb == "Start":
            return start(run_number).encode()
        return verb.encode()

    def text(self, payload: bytes) -> str:
        return payload.decode("utf-8", "replace")

    def accepted(self, verb: str, reply: bytes) -> bool:
        return self.text(reply) == EXPECTED.get(verb)

    def finished(self, reply: bytes) -> bool:
        """A `Status?` reply saying the run is over."""
        return self.text(reply) == "Done"
