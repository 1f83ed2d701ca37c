"""The simulated MARTA plant (`trackerdcs sim marta`): a Modbus TCP server (pymodbus) with the
PLC's register map and plausible dynamics.

start_chiller: the R452A circuit settles (discharge/suction pressures and temperatures) with
`chiller_tau`. start_co2 (only with the chiller running): the CO2 supply temperature (TT05)
approaches the temperature set-point with `tau`, the return (TT06) runs a heat load above
it, the flow follows its set-point (flow_active) or the pump speed, the CO2 pressures follow
the saturation pressure. An alarm stops both circuits and latches its bit; it clears as on
the real plant: both start bits to 0, then a pulse on alarm_reset (only once the fault
itself is gone).

Fault injection on the bus: `sim/marta` `{"alarm": "CO2 low flow"}` (a named alarm, its
fault active until `{"clear": "CO2 low flow"}`), `{"alarm": "CO2 high pressure"}`, ...
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import threading
import time
import uuid
from typing import Any

from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import SimData, SimDevice
from pymodbus.simulator.simutils import DataType

from trackerdcs.config.model import Stand
from trackerdcs.core.blocking import BlockingBus
from trackerdcs.core.bus import Message
from trackerdcs.marta import protocol as p
from trackerdcs.marta.config import MartaConfig

log = logging.getLogger("trackerdcs.sim.marta")

REGISTERS = 400
CO2_HEAT_LOAD = 1.5  # K between return and supply with the detector's load
R452A_ON = {"R452A_PT01": 16.0, "R452A_PT03": 3.6, "R452A_PT04": 3.2, "R452A_TT01": 62.0,
            "R452A_TT02": 34.0, "R452A_TT03": -38.0, "R452A_TT04": -30.0}  # fmt: skip
R452A_REST = 9.0  # bar, equalised pressure at rest


def co2_saturation(t: float) -> float:
    """bar; Clausius-Clapeyron fitted to 14.3 bar at -30 °C, 34.9 at 0 °C, 57.3 at 20 °C."""
    return 34.85 * math.exp(2000.0 * (1 / 273.15 - 1 / (t + 273.15)))


class MartaPlant:
    """The plant's state and physics; the Modbus server reads and writes it."""

    def __init__(self, cfg: MartaConfig):
        self.cfg = cfg
        sim = cfg.sim
        self.lock = threading.Lock()
        self.values: dict[str, float] = {name: sim.ambient for name in p.READ_FLOATS}
        for name in self.values:
            if "_PT" in name:
                self.values[name] = R452A_REST if name.startswith("R452A") else co2_saturation(
                    sim.ambient)  # fmt: skip
        for name in ("CO2_FT01", "EV1", "EV2", "EV3", "EV3C", "pump_speed", "heater_power"):
            self.values[name] = 0.0
        self.setpoints = {"temperature": 15.0, "speed": 3000.0, "flow": 2.0}
        self.command = 0
        self.alarm_words = {reg: 0 for reg in p.ALARM_REGS}
        self.faults: set[str] = set()  # injected faults still present
        self.co2_running = False

    # -- registers -------------------------------------------------------------------------
    def registers(self) -> list[int]:
        regs = [0] * REGISTERS
        with self.lock:
            values = dict(self.values)
            values["temperature_setpoint"] = self.setpoints["temperature"]
            values["speed_setpoint"] = self.setpoints["speed"]
            values["flow_setpoint"] = self.setpoints["flow"]
            for name, addr in p.READ_FLOATS.items():
                regs[addr : addr + 2] = p.encode_float(values[name])
            for kind, (addr, _lo, _hi) in p.SETPOINTS.items():
                regs[addr : addr + 2] = p.encode_float(self.setpoints[kind])
            for reg, word in self.alarm_words.items():
                regs[reg] = word
            regs[p.COMMAND] = self.command
            regs[p.STATUS] = self.status()
        return regs

    def write(self, address: int, values: list[int]) -> None:
        with self.lock:
            regs = dict(enumerate(values, start=address))
            if p.COMMAND in regs:
                self._command(regs[p.COMMAND])
            for kind, (addr, _lo, _hi) in p.SETPOINTS.items():
                if addr in regs and addr + 1 in regs:
                    self.setpoints[kind] = p.decode_float(regs[addr], regs[addr + 1])

    def _command(self, word: int) -> None:
        reset = p.bit(word, p.ALARM_RESET) and not p.bit(self.command, p.ALARM_RESET)
        self.command = word
        if reset and not (p.bit(word, p.START_CHILLER) or p.bit(word, p.START_CO2)):
            # the real plant clears its latches only with both circuits commanded off
            for reg in self.alarm_words:
                self.alarm_words[reg] = 0
            for name in self.faults:  # a fault still present latches again at once
                self._latch(name)

    def _latch(self, name: str) -> None:
        reg, bit = p.ALARM_NAMES[name]
        self.alarm_words[reg] |= 1 << bit

    def inject(self, name: str, active: bool) -> None:
        with self.lock:
            if active:
                self.faults.add(name)
                self._latch(name)
            else:
                self.faults.discard(name)

    def in_alarm(self) -> bool:
        return any(self.alarm_words.values())

    def status(self) -> int:
        if self.in_alarm():
            return 3
        return 2 if self.co2_running else 1

    # -- physics ---------------------------------------------------------------------------
    def step(self, dt: float) -> None:
        sim = self.cfg.sim
        with self.lock:
            v, sp = self.values, self.setpoints
            alarm = self.in_alarm()
            chiller = p.bit(self.command, p.START_CHILLER) and not alarm
            self.co2_running = (chiller and p.bit(self.command, p.START_CO2) and not alarm
                                and v["R452A_TT03"] < sp["temperature"])  # fmt: skip
            k_chiller = 1 - math.exp(-dt / sim.chiller_tau)
            for name, on in R452A_ON.items():
                rest = R452A_REST if "_PT" in name else sim.ambient
                v[name] += ((on if chiller else rest) - v[name]) * k_chiller
            k = 1 - math.exp(-dt / sim.tau)
            k_flow = 1 - math.exp(-dt / 3.0)
            if self.co2_running:
                if p.bit(self.command, p.FLOW_ACTIVE):
                    flow_target = sp["flow"]
                    speed_target = 6000.0 * flow_target / 5.0
                else:
                    speed_target = sp["speed"]
                    flow_target = sim.flow * speed_target / 3000.0
                if "CO2 low flow" in self.faults:
                    flow_target = 0.0
                supply_target = sp["temperature"]
            else:
                flow_target = speed_target = 0.0
                supply_target = sim.ambient
            v["CO2_FT01"] += (min(flow_target, 5.0) - v["CO2_FT01"]) * k_flow
            v["pump_speed"] += (speed_target - v["pump_speed"]) * k_flow
            v["CO2_TT05"] += (supply_target - v["CO2_TT05"]) * k
            load = CO2_HEAT_LOAD if v["CO2_FT01"] > 0.1 else 0.0
            v["CO2_TT06"] += (v["CO2_TT05"] + load - v["CO2_TT06"]) * k
            for i, offset in zip((1, 2, 3, 4, 7), (-2.0, -1.0, -0.5, 0.5, 3.0), strict=True):
                v[f"CO2_TT0{i}"] += (v["CO2_TT05"] + offset - v[f"CO2_TT0{i}"]) * k
            head = 1.5 * v["pump_speed"] / 6000.0  # bar the pump adds
            sat = co2_saturation((v["CO2_TT05"] + v["CO2_TT06"]) / 2)
            high = 8.0 if "CO2 high pressure" in self.faults else 0.0
            for i in range(1, 7):
                v[f"CO2_PT0{i}"] = sat + head * (i <= 3) + high
            v["EV1"] = 45.0 if chiller else 0.0
            v["EV2"] = 30.0 if chiller else 0.0
            v["EV3"] = 60.0 if self.co2_running else 0.0
            v["EV3C"] = 100.0 - v["EV3"] if self.co2_running else 0.0
            v["heater_power"] = 120.0 if self.co2_running else 0.0


class MartaSimulator:
    def __init__(self, stand: Stand):
        cfg: MartaConfig | None = stand.section("marta")
        assert cfg is not None
        self.cfg = cfg
        self.plant = MartaPlant(cfg)
        self.bus = BlockingBus(stand.bus, service=None,
                               client_id=f"sim-marta-{uuid.uuid4().hex[:6]}")  # fmt: skip
        self.stop = threading.Event()

    def _on_fault(self, msg: Message) -> None:
        try:
            data: dict[str, Any] = json.loads(msg.payload)
        except ValueError:
            log.warning("fault injection %s: not JSON", msg.topic)
            return
        for key, active in (("alarm", True), ("clear", False)):
            name = data.get(key) if isinstance(data, dict) else None
            if name in p.ALARM_NAMES:
                self.plant.inject(name, active)
                log.info("fault %s %s", name, "injected" if active else "gone")
            elif name is not None:
                log.warning("fault injection: unknown alarm %r", name)

    async def _access(self, fc: int, start: int, address: int, count: int,
                      current: list[int], set_values: list[int] | list[bool] | None
                      ) -> None:  # fmt: skip
        if set_values is None:
            regs = self.plant.registers()
            current[address - start : address - start + count] = regs[address : address + count]
        else:
            self.plant.write(address, [int(x) for x in set_values])

    async def _main(self) -> None:
        device = SimDevice(self.cfg.unit, simdata=[SimData(0, count=REGISTERS, values=0,
                                                           datatype=DataType.REGISTERS)],
                           action=self._access)  # fmt: skip
        server = ModbusTcpServer(device, address=(self.cfg.host, self.cfg.port))
        serving = asyncio.create_task(server.serve_forever())
        log.info("MARTA simulator on %s:%d (unit %d)", self.cfg.host, self.cfg.port,
                 self.cfg.unit)  # fmt: skip
        last = time.monotonic()
        try:
            while not self.stop.is_set():
                await asyncio.sleep(self.cfg.sim.update)
                now = time.monotonic()
                self.plant.step((now - last) * self.cfg.sim.time_scale)
                last = now
        finally:
            await server.shutdown()
            serving.cancel()

    def run(self) -> None:
        self.bus.subscribe("sim/marta", self._on_fault)
        self.bus.start(wait=None)
        try:
            asyncio.run(self._main())
        finally:
            self.bus.stop()
