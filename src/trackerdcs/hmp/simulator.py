"""The simulated HMP supply (`trackerdcs sim hmp`): a SCPI server on TCP that answers as the
instrument does, with per-output set values, a load, current limiting (CC), output
selection and master switch, and an over-voltage protection that trips and latches.

Each output drives a resistive load (`sim.load_ohm`): live, its voltage approaches
min(set voltage, current limit x load) with a time constant of `sim.settle`; the current
follows. An output whose voltage exceeds its OVP level trips: it switches off and stays
off until `VOLT:PROT:CLE`. Errors go to the error queue with the instrument's texts
(`-222,"Data out of range"`, `-113,"Undefined header"`), read by `SYST:ERR?`.

Fault injection (not SCPI: only the simulator knows them): `SIM:TRIP <n>` (a voltage
transient on output n trips its OVP), `SIM:MUTE 1|0` (stop/resume answering, as a supply
whose LAN hangs), `SIM:LOAD <n>,<ohm>`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import threading
import time
from collections import deque
from dataclasses import dataclass

from trackerdcs.config.model import Stand
from trackerdcs.hmp import protocol as p
from trackerdcs.hmp.config import HmpConfig

log = logging.getLogger("trackerdcs.sim.hmp")

# SCPI keywords: long form -> short form (either is accepted, in any case)
KEYWORDS = {
    "INSTRUMENT": "INST", "NSELECT": "NSEL", "SELECT": "SEL", "SOURCE": "SOUR",
    "VOLTAGE": "VOLT", "CURRENT": "CURR", "MEASURE": "MEAS", "SCALAR": "SCAL",
    "OUTPUT": "OUTP", "GENERAL": "GEN", "STATE": "STAT", "PROTECTION": "PROT",
    "LEVEL": "LEV", "TRIPPED": "TRIP", "CLEAR": "CLE", "SYSTEM": "SYST", "ERROR": "ERR",
    "APPLY": "APPL", "SIMULATE": "SIM", "MUTE": "MUTE", "TRIP": "TRIP", "LOAD": "LOAD",
}  # fmt: skip
OPTIONAL = {"SOUR", "SCAL", "LEV", "STAT"}  # default nodes (in [ ]) that may be left out


def _short(token: str) -> str:
    t = token.upper()
    for long, short in KEYWORDS.items():
        if t in (long, short):
            return short
    return t


def normalise(header: str) -> str:
    """`SOURce:VOLTage:PROTection:LEVel` -> `VOLT:PROT`; `volt:prot:lev?` -> `VOLT:PROT?`."""
    query = header.endswith("?")
    parts = [_short(t) for t in header.rstrip("?").lstrip(":").split(":") if t]
    parts = [t for t in parts if t not in OPTIONAL]
    return ":".join(parts) + ("?" if query else "")


class Undefined(Exception):
    pass


class OutOfRange(Exception):
    pass


@dataclass
class SimOutput:
    vset: float = 0.0
    iset: float = 0.1
    ovp: float = p.OVP_MAX
    selected: bool = False
    tripped: bool = False
    volts: float = 0.0
    load: float = 7.0


class HmpInstrument:
    """The instrument's state and physics; the SCPI server reads and writes it."""

    def __init__(self, cfg: HmpConfig):
        self.cfg = cfg
        n, self.vtop, self.itop = p.MODELS[cfg.model]
        self.outputs = {c: SimOutput(load=cfg.sim.load_ohm) for c in range(1, n + 1)}
        self.master = False
        self.selected = 1
        self.errors: deque[tuple[int, str]] = deque(maxlen=32)
        self.muted = False
        self.lock = threading.Lock()

    def live(self, o: SimOutput) -> bool:
        return self.master and o.selected and not o.tripped

    def current(self, o: SimOutput) -> float:
        return o.volts / o.load if self.live(o) else 0.0

    def step(self, dt: float) -> None:
        with self.lock:
            tau = self.cfg.sim.settle
            for cid, o in self.outputs.items():
                target = min(o.vset, o.iset * o.load) if self.live(o) else 0.0
                k = 1.0 if tau <= 0 else 1.0 - math.exp(-dt / tau)
                o.volts += (target - o.volts) * k
                if self.live(o) and o.volts > o.ovp:
                    self.trip(cid)

    def trip(self, cid: int) -> None:
        o = self.outputs[cid]
        o.tripped = True
        o.selected = False
        log.warning("output %d: OVP tripped at %.2f V (level %.2f V)", cid, o.volts, o.ovp)

    # -- SCPI ------------------------------------------------------------------------------
    def handle(self, line: str) -> str | None:
        """One command line -> its answer (None for commands that answer nothing)."""
        header, _, arg = line.strip().partition(" ")
        arg = arg.strip()
        if not header:
            return None
        with self.lock:
            try:
                return self._dispatch(normalise(header), arg)
            except Undefined:
                self.errors.append((-113, "Undefined header"))
            except OutOfRange:
                self.errors.append((-222, "Data out of range"))
            except ValueError:
                self.errors.append((-104, "Data type error"))
            return "" if header.endswith("?") else None

    def _number(self, arg: str, top: float) -> float:
        v = {"MIN": 0.0, "MAX": top}.get(arg.upper())
        value = float(arg) if v is None else v
        if not math.isfinite(value) or not 0 <= value <= top:
            raise OutOfRange
        return value

    def _bool(self, arg: str) -> bool:
        a = arg.upper()
        if a in ("1", "ON"):
            return True
        if a in ("0", "OFF"):
            return False
        raise ValueError(arg)

    def _dispatch(self, h: str, arg: str) -> str | None:
        o = self.outputs[self.selected]
        if h == "*IDN?":
            return f"Rohde&Schwarz,{self.cfg.model},SIM{self.cfg.port:06d},HW50020001/SW2.51"
        if h in ("*RST", "*CLS"):
            if h == "*CLS":
                self.errors.clear()
            return None
        if h == "SYST:ERR?":
            code, text = self.errors.popleft() if self.errors else (0, "No error")
            return f'{code},"{text}"'
        if h in ("INST:NSEL", "INST"):
            n = int(arg.upper().removeprefix("OUTPUT").removeprefix("OUT") if h == "INST" else arg)
            if n not in self.outputs:
                raise OutOfRange
            self.selected = n
            return None
        if h in ("INST:NSEL?", "INST?"):
            return str(self.selected) if h == "INST:NSEL?" else f"OUTP{self.selected}"
        if h == "VOLT":
            o.vset = self._number(arg, self.vtop)
            return None
        if h == "CURR":
            o.iset = self._number(arg, self.itop)
            return None
        if h == "APPL":
            v, _, i = arg.partition(",")
            o.vset, o.iset = self._number(v.strip(), self.vtop), self._number(i.strip(), self.itop)
            return None
        if h == "VOLT:PROT":
            o.ovp = self._number(arg, p.OVP_MAX)
            return None
        if h == "VOLT:PROT:CLE":
            o.tripped = False
            return None
        if h == "OUTP:SEL":
            o.selected = self._bool(arg) and not o.tripped
            return None
        if h == "OUTP:GEN":
            self.master = self._bool(arg)
            return None
        if h == "OUTP":
            on = self._bool(arg)
            o.selected = on and not o.tripped
            self.master = self.master or on
            return None
        queries = {
            "VOLT?": lambda: f"{o.vset:.3f}",
            "CURR?": lambda: f"{o.iset:.4f}",
            "VOLT:PROT?": lambda: f"{o.ovp:.3f}",
            "VOLT:PROT:TRIP?": lambda: str(int(o.tripped)),
            "OUTP:SEL?": lambda: str(int(o.selected)),
            "OUTP:GEN?": lambda: str(int(self.master)),
            "OUTP?": lambda: str(int(self.live(o))),
            "MEAS:VOLT?": lambda: f"{o.volts if self.live(o) else 0.0:.4f}",
            "MEAS:CURR?": lambda: f"{self.current(o):.4f}",
        }
        if h in queries:
            return queries[h]()
        if h == "SIM:TRIP":
            self.trip(int(arg))
            return None
        if h == "SIM:MUTE":
            self.muted = self._bool(arg)
            return None
        if h == "SIM:LOAD":
            cid, _, ohm = arg.partition(",")
            self.outputs[int(cid)].load = float(ohm)
            return None
        raise Undefined


class HmpSimulator:
    def __init__(self, stand: Stand):
        cfg: HmpConfig | None = stand.section("hmp")
        assert cfg is not None
        self.cfg = cfg
        self.instrument = HmpInstrument(cfg)
        self.stop = threading.Event()
        log_path = cfg.sim.write_log
        self.write_log = open(log_path, "a", buffering=1) if log_path else None  # noqa: SIM115

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while not self.stop.is_set():
                raw = await reader.readline()
                if not raw:
                    break
                line = raw.decode("ascii", "replace").strip()
                if self.instrument.muted and not line.upper().startswith("SIM"):
                    continue  # a hung LAN stack: the line is swallowed, nothing answers
                if self.write_log is not None and line and not line.endswith("?"):
                    self.write_log.write(json.dumps({"line": line, "t": time.time()}) + "\n")
                answer = self.instrument.handle(line)
                if answer is not None:
                    writer.write(f"{answer}\n".encode())
                    await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    async def _main(self) -> None:
        server = await asyncio.start_server(self._client, self.cfg.host, self.cfg.port)
        log.info("%s simulator on %s:%d", self.cfg.model, self.cfg.host, self.cfg.port)
        last = time.monotonic()
        try:
            while not self.stop.is_set():
                await asyncio.sleep(0.05)
                now = time.monotonic()
                self.instrument.step(now - last)
                last = now
        finally:
            server.close()

    def run(self) -> None:
        asyncio.run(self._main())
