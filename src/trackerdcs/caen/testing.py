"""Start the simulated mainframe as a real process, for tests and benchmarks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from trackerdcs.caen.config import CaenConfig
from trackerdcs.caen.protocol import pv_base
from trackerdcs.testing.processes import stop_process


def relocate(section: dict[str, Any], free_port: Callable[[], int],
             modules: int | None = None, **_: Any) -> None:  # fmt: skip
    """A free CA port; with `modules`, a channel map of that many simulated modules."""
    section["ca_server_port"] = free_port()
    if modules:
        section["channels"] = {
            i + 1: {"module": f"PS_SIM_{i + 1:03d}",
                    "lv": {"board": i // 12, "chan": i % 12},
                    "hv": {"board": 12 + i // 12, "chan": i % 12}}
            for i in range(modules)
        }  # fmt: skip


def channel_map_yaml(modules: int, name: str = "M{:03d}", hv_board: int = 10,
                     indent: int = 4) -> str:  # fmt: skip
    """The `channels:` lines of a stand file for `modules` simulated modules, 12 a board:
    channel n (from 1) is module `name.format(n)`, LV on boards 0.., HV on `hv_board`.."""
    pad = " " * indent
    return "\n".join(
        f"{pad}{i + 1}: {{module: {name.format(i + 1)}, lv: {{board: {i // 12}, chan: {i % 12}}}"
        f", hv: {{board: {hv_board + i // 12}, chan: {i % 12}}}}}"
        for i in range(modules)
    )


def ca_env(cfg: CaenConfig) -> dict[str, str]:
    env = {"EPICS_CA_ADDR_LIST": cfg.ca_addr_list, "EPICS_CA_AUTO_ADDR_LIST": "NO"}
    if cfg.ca_server_port:
        env["EPICS_CA_SERVER_PORT"] = str(cfg.ca_server_port)
    return env


def wait_pv(name: str, timeout: float = 15.0) -> None:
    """Block until `name` answers over CA (uses this process's pyepics context)."""
    import epics

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if epics.caget(name, timeout=0.5) is not None:
            return
        time.sleep(0.1)
    raise TimeoutError(f"PV {name} did not answer in {timeout} s")


class SimIOC:
    """`trackerdcs sim caen` as a child process: start, kill, pause (stop answering), resume."""

    def __init__(self, config: Path, cfg: CaenConfig, log: Path, put_log: Path | None = None):
        self.config = config
        self.cfg = cfg
        self.log = log
        self.put_log = put_log
        self.proc: subprocess.Popen[bytes] | None = None

    def first_pv(self) -> str:
        ch = next(iter(self.cfg.channels.values()))
        return f"{pv_base(self.cfg.prefix, ch.hv.board, ch.hv.chan)}:Status"

    def start(self, wait: bool = True) -> SimIOC:
        argv = [sys.executable, "-m", "trackerdcs", "sim", "caen", "--config", str(self.config)]
        if self.put_log:
            argv += ["--put-log", str(self.put_log)]
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                argv, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **ca_env(self.cfg)}
            )
        if wait:
            wait_pv(self.first_pv())
        return self

    def kill(self) -> None:
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait(10)
            self.proc = None

    def pause(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)  # a paused IOC cannot act on SIGTERM
        stop_process(self.proc)
        self.proc = None


@contextmanager
def sim_ioc(
    config: Path, cfg: CaenConfig, log: Path, put_log: Path | None = None
) -> Iterator[SimIOC]:
    ioc = SimIOC(config, cfg, log, put_log).start()
    try:
        yield ioc
    finally:
        ioc.stop()
