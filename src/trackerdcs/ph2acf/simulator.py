"""A Ph2_ACF stand-in that behaves like the real one (PROTOCOLS.md §4), for the demo and tests.

- `batch`: what `runCalibration -b -f <xml> -c <tag> [-r N]` does: reads and increments
  `RunNumbers.dat`, prints the real log lines in order (with the date|thread|level prefix
  and colour codes), writes `Results/Run_<N>/Results.root` and `Configuration.xml`, and
  fails like the real one: an unknown tag, a hardware error line, a crash mid-run; SIGINT
  aborts the run.
- `middleware`: a `RunController` on TCP (one client, 8-byte framing, text protocol):
  Initialize/Configure/Start/Status?/Stop/Halt; an unknown message or tag aborts the server
  (the connection drops), as the real one does.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from trackerdcs.ph2acf import protocol
from trackerdcs.ph2acf.config import SimPh2acf
from trackerdcs.runtime.signals import stop_on

STEPS = ("configuration", "calibration", "pedestal and noise", "threshold scan", "latency scan",
         "stub latency scan", "occupancy", "cluster width")  # fmt: skip
THREAD = 140489373334720


def log_line(msg: str, level: str = "I") -> str:
    stamp = datetime.now().strftime("%d.%m.%Y %H:%M:%S")
    colour = "\x1b[1;31m" if level == "E" else "\x1b[32m"
    return f"{colour}{stamp}: |{THREAD}|{level}| {msg}\x1b[0m"


class FakeRun:
    """One calibration run in `workdir`; `say` prints one log line; `stop` ends it early."""

    def __init__(self, workdir: Path, sim: SimPh2acf, say: Callable[[str], object]):
        self.workdir = workdir
        self.sim = sim
        self.say = say
        self.stop = threading.Event()
        self.run_number: int | None = None
        self.done = False
        self.failed = False

    def next_run_number(self, forced: int | None = None) -> int:
        path = self.workdir / "RunNumbers.dat"
        last = int(path.read_text().split()[0]) if path.exists() and path.read_text().strip() else 0
        n = forced if forced is not None else last + 1
        path.write_text(f"{max(n, last)}\n")
        return n

    def run(self, tag: str, hw_config: Path, forced: int | None = None) -> int:
        """Exit code of the batch program: 0 good, 1 failure, 130 aborted (SIGINT)."""
        t0 = time.monotonic()
        self.workdir.mkdir(parents=True, exist_ok=True)
        if tag not in protocol.OT_TAGS:
            self.say(log_line(f"Error: calibration tag {tag} does not exist", "E"))
            return 1
        self.say(log_line(f"Reading the hardware description {hw_config}"))
        n = self.run_number = self.next_run_number(forced)
        results = self.workdir / "Results" / f"Run_{n}"
        results.mkdir(parents=True, exist_ok=True)
        if hw_config.exists():
            (results / "Configuration.xml").write_bytes(hw_config.read_bytes())
        self.say(log_line(f"Run {n} started"))
        for i in range(self.sim.steps):
            if self.stop.wait(self.sim.step_seconds / self.sim.time_scale):
                self.say(log_line(f"Run {n} stopped"))
                self.say(log_line("Halted"))
                return 130
            if self.sim.fail == "hardware" and i == self.sim.steps // 2:
                self.say(log_line("ControlHub returned error code 3", "E"))
                self.failed = True
                return 1
            if self.sim.fail == "crash" and i == self.sim.steps // 2:
                self.say("terminate called after throwing an instance of 'std::runtime_error'")
                os._exit(134)  # like SIGABRT: no cleanup, no more lines
            self.say(log_line(f"Done with {STEPS[i % len(STEPS)]}."))
        (results / "Results.root").write_bytes(b"root\x00fake " + str(n).encode())
        (results / f"BE0_OG0_FE0_Chip{n % 8}MPA.txt").write_text("registers\n")
        self.say(log_line(f"Closing result file: Results/Run_{n}/Results.root"))
        self.say(log_line(f"Run {n} stopped"))
        self.say(log_line("Halted"))
        self.say(log_line(f"elapsed time: {time.monotonic() - t0:.1f} seconds"))
        self.done = True
        return 0


# -- batch ----------------------------------------------------------------------------------
def batch_main(argv: list[str], sim: SimPh2acf, workdir: Path) -> int:
    ap = argparse.ArgumentParser(prog="runCalibration")
    ap.add_argument("-b", action="store_true")
    ap.add_argument("-f", required=True)
    ap.add_argument("-c", required=True)
    ap.add_argument("-r", type=int)
    args = ap.parse_args(argv)

    def say(line: str) -> None:
        print(line, flush=True)

    run = FakeRun(workdir, sim, say)
    stop_on(run.stop.set, signal.SIGINT, signal.SIGTERM)
    return run.run(args.c, Path(args.f), args.r)


# -- middleware ---------------------------------------------------------------------------
class Middleware:
    def __init__(self, workdir: Path, sim: SimPh2acf, log: Callable[[str], object] = print):
        self.workdir = workdir
        self.sim = sim
        self.log = log
        self.busy = asyncio.Lock()
        self.server: asyncio.Server | None = None
        self.aborted = asyncio.Event()  # what the real server does on an unknown message
        self.stopped = asyncio.Event()  # SIGTERM / Ctrl-C

    async def serve(self, host: str, port: int) -> None:
        self.server = await asyncio.start_server(self._client, host, port)
        self.log(log_line(f"RunController listening on {host}:{port}"))
        async with self.server:
            done = [asyncio.ensure_future(e.wait()) for e in (self.aborted, self.stopped)]
            await asyncio.wait(done, return_when=asyncio.FIRST_COMPLETED)
            for f in done:
                f.cancel()
        if self.aborted.is_set():
            self.log(log_line("RunController aborted", "E"))

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        async with self.busy:  # one client at a time: the next waits, as on the real one
            session = Session()
            try:
                while True:
                    header = await reader.readexactly(protocol.HEADER.size)
                    body = await reader.readexactly(protocol.frame_length(header))
                    answer = self._handle(body.decode("utf-8", "replace"), session)
                    if answer is None:  # the real server aborts: the connection drops
                        self.aborted.set()
                        break
                    writer.write(protocol.frame(answer.encode()))
                    await writer.drain()
            except (asyncio.IncompleteReadError, ConnectionError, protocol.FrameError):
                pass
            finally:
                if session.runner is not None:
                    session.runner.stop.set()
                writer.close()

    def _handle(self, msg: str, s: Session) -> str | None:
        verb = protocol.verb(msg)
        self.log(log_line(f"received {msg}"))
        if verb == "Initialize":
            return "InitializeDone"
        if verb == "Configure":
            fields = protocol.parse_fields(msg)
            if fields.get("Calibration") not in protocol.OT_TAGS:
                self.log(log_line(f"Error: calibration tag {fields.get('Calibration')} does "
                                  "not exist", "E"))  # fmt: skip
                return None
            s.tag, s.xml = fields["Calibration"], fields.get("ConfigurationFile", "")
            return "ConfigureDone"
        if verb == "Start":
            if s.tag is None or self.sim.fail == "abort_middleware":
                return None
            s.runner = FakeRun(self.workdir, self.sim, self.log)
            args = (s.tag, Path(s.xml), protocol.run_number_of(msg))
            s.thread = threading.Thread(target=s.runner.run, args=args, daemon=True)
            s.thread.start()
            return "StartDone"
        if verb == "Status?":
            return "Running" if s.thread is not None and s.thread.is_alive() else "Done"
        if verb in protocol.EXPECTED:
            if verb == "Stop" and s.runner is not None:
                s.runner.stop.set()
                if s.thread is not None:
                    s.thread.join(10)
            return protocol.EXPECTED[verb]
        return None  # unknown message


@dataclass
class Session:
    tag: str | None = None
    xml: str = ""
    runner: FakeRun | None = None
    thread: threading.Thread | None = None


def middleware_main(host: str, port: int, sim: SimPh2acf, workdir: Path) -> int:
    mw = Middleware(workdir, sim)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, mw.stopped.set)
        await mw.serve(host, port)

    asyncio.run(main())
    return 0 if not mw.aborted.is_set() else 134


if __name__ == "__main__":  # python -m trackerdcs.ph2acf.simulator --stand S batch -f X -c T
    from trackerdcs.config import load_stand

    ap = argparse.ArgumentParser()
    ap.add_argument("--stand", required=True)
    ap.add_argument("mode", choices=("batch", "middleware"))
    ap.add_argument("rest", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    stand = load_stand(a.stand)
    cfg = stand.ph2acf
    workdir = cfg.workdir if cfg.workdir.is_absolute() else stand.data_dir / cfg.workdir
    if a.mode == "batch":
        sys.exit(batch_main(a.rest, cfg.sim, workdir))
    host, _, port = cfg.middleware.rpartition(":")
    sys.exit(middleware_main(host or "127.0.0.1", int(port), cfg.sim, workdir))
