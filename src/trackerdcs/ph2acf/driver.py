"""Running one calibration on Ph2_ACF, batch or middleware, behind one interface.

`await driver.run(tag, progress)` returns an `Outcome` (done | failed | aborted, with the
run number, result path, reason and log tail); `driver.stop()` ends the run early (SIGINT to
the batch program, `Stop` + `Halt` to the middleware) and the outcome is then `aborted`.
Nothing here can hang: a silent program or server is a failure after its timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trackerdcs.config.model import StandBase
from trackerdcs.ph2acf import protocol
from trackerdcs.ph2acf.protocol import Event

TAIL = 40  # log lines kept with the run
FOLLOW = 0.1  # s between looks at a batch program's log


@dataclass
class Outcome:
    status: str  # done | failed | aborted
    reason: str = ""
    run_number: int | None = None
    result: str | None = None
    steps: list[str] = field(default_factory=list)
    log_tail: list[str] = field(default_factory=list)
    pid: int | None = None


Progress = Callable[[Event], None]


class Driver:
    def __init__(self, workdir: Path, hw_config: Path):
        self.workdir = workdir
        self.hw_config = hw_config
        self._stop = asyncio.Event()
        self.tail: deque[str] = deque(maxlen=TAIL)

    def stop(self) -> None:
        self._stop.set()

    async def run(self, tag: str, progress: Progress, log: Path | None = None) -> Outcome:
        raise NotImplementedError


class BatchDriver(Driver):
    """`runCalibration -b -f <xml> -c <tag>` (or `CMSITminiDAQ`) as a subprocess."""

    def __init__(self, workdir: Path, hw_config: Path, command: list[str],
                 silence_timeout: float = 600.0):  # fmt: skip
        super().__init__(workdir, hw_config)
        self.command = command
        self.silence_timeout = silence_timeout
        self.pid: int | None = None

    async def run(self, tag: str, progress: Progress, log: Path | None = None) -> Outcome:
        """`log`: where the program's output goes (a file, not a pipe: the program must not
        die of SIGPIPE when this service does; the log stays with the run's results)."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        log = log or self.workdir / "logs" / f"{tag}-{int(time.time())}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "wb") as sink:
            proc = await asyncio.create_subprocess_exec(
                *self.command, "-f", str(self.hw_config), "-c", tag,
                cwd=self.workdir, stdout=sink, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # our Ctrl-C is not its Ctrl-C: we decide when it stops
            )  # fmt: skip
        self.pid = proc.pid
        out = Outcome("failed", pid=proc.pid)
        pending = ""
        quiet_since = time.monotonic()
        try:
            with open(log, "rb") as follow:
                while True:
                    chunk = follow.read()
                    if chunk:
                        quiet_since = time.monotonic()
                        pending += chunk.decode("utf-8", "replace")
                        *lines, pending = pending.split("\n")
                        for line in lines:
                            self._line(line, out, progress)
                        continue
                    if proc.returncode is not None:
                        break
                    if self._stop.is_set():
                        await self._interrupt(proc)
                        out.status, out.reason = "aborted", out.reason or "stopped"
                        continue  # read what it printed while stopping
                    if time.monotonic() - quiet_since > self.silence_timeout:
                        await self._interrupt(proc)
                        out.reason = f"no output for {self.silence_timeout:g} s: stopped"
                        continue
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(proc.wait(), FOLLOW)
                if pending:
                    self._line(pending, out, progress)
        finally:
            if proc.returncode is None:
                # cancelled (our service stops): Ph2_ACF's own abort first, so that it halts
                # the hardware and closes its files
                await self._interrupt(proc)
        self._judge(out, proc.returncode)
        return out

    def _judge(self, out: Outcome, code: int | None) -> None:
        if out.status == "aborted":
            pass
        elif out.reason:
            out.status = "failed"
        elif out.result is None:
            out.reason = f"exited with code {code} without closing a result file"
            if code is not None and code < 0:
                out.reason = f"killed by signal {-code} without closing a result file"
        elif code not in (0, None):
            out.status, out.reason = "failed", f"exited with code {code}"
        else:
            out.status = "done"
        out.log_tail = list(self.tail)

    def judge_log(self, log: Path) -> Outcome:
        """The outcome of a run from its log alone (after a restart of this service)."""
        out = Outcome("failed")
        try:
            text = log.read_text(errors="replace")
        except OSError as exc:
            out.reason = f"no log ({exc})"
            return out
        for line in text.splitlines():
            self._line(line, out, lambda ev: None)
        self._judge(out, None)
        return out

    def _line(self, line: str, out: Outcome, progress: Progress) -> None:
        text = protocol.message(line)
        if text:
            self.tail.append(text)
        ev = protocol.parse(line)
        if ev is None:
            return
        if ev.kind == "started":
            out.run_number = ev.run
        elif ev.kind == "step":
            out.steps.append(ev.text)
        elif ev.kind == "result":
            out.result = ev.text
        elif ev.kind == "failure" and not out.reason:
            out.reason = ev.text
        progress(ev)

    async def _interrupt(self, proc: asyncio.subprocess.Process) -> None:
        """SIGINT (Ph2_ACF's abort), then SIGKILL if it does not end."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGINT)
        try:
            await asyncio.wait_for(proc.wait(), 30)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)


class MiddlewareDriver(Driver):
    """A TCP client of Ph2_ACF's RunController (text protocol, 8-byte framing)."""

    def __init__(self, workdir: Path, hw_config: Path, address: str,
                 connect_timeout: float = 10.0, reply_timeout: float = 30.0,
                 poll: float = 1.0, codec: protocol.TextCodec | None = None):  # fmt: skip
        super().__init__(workdir, hw_config)
        self.codec = codec or protocol.TextCodec()
        host, _, port = address.rpartition(":")
        self.host, self.port = host or "127.0.0.1", int(port)
        self.connect_timeout = connect_timeout
        self.reply_timeout = reply_timeout
        self.poll = poll

    def _next_run_number(self) -> int:
        path = self.workdir / "RunNumbers.dat"
        try:
            return int(path.read_text().split()[0]) + 1
        except (OSError, ValueError, IndexError):
            return 1

    async def run(self, tag: str, progress: Progress, log: Path | None = None) -> Outcome:
        """`log`: the exchange with the server is written there at the end."""
        out = await self._run(tag, progress)
        if log is not None:
            log.parent.mkdir(parents=True, exist_ok=True)
            log.write_text("\n".join(self.tail) + "\n")
        return out

    async def _run(self, tag: str, progress: Progress) -> Outcome:
        out = Outcome("failed")
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(self.host, self.port), self.connect_timeout
            )
        except (OSError, TimeoutError) as exc:
            out.reason = f"middleware {self.host}:{self.port} unreachable: {exc or 'timeout'}"
            return out

        codec = self.codec

        async def ask(verb: str, **fields: Any) -> bytes:
            request = codec.request(verb, **fields)
            self.tail.append(f"> {codec.text(request)}")
            writer.write(protocol.frame(request))
            await writer.drain()
            header = await asyncio.wait_for(reader.readexactly(protocol.HEADER.size),
                                            self.reply_timeout)  # fmt: skip
            body = await asyncio.wait_for(reader.readexactly(protocol.frame_length(header)),
                                          self.reply_timeout)  # fmt: skip
            self.tail.append(f"< {codec.text(body)}")
            return body

        async def expect(verb: str, **fields: Any) -> None:
            got = await ask(verb, **fields)
            if not codec.accepted(verb, got):
                raise protocol.FrameError(f"{verb}: refused, got {codec.text(got)!r}")

        number = self._next_run_number()
        try:
            await expect("Initialize")
            await expect("Configure", calibration=tag, config_file=str(self.hw_config))
            await expect("Start", run_number=number)
            out.run_number = number
            progress(Event("started", f"Run {number} started", run=number))
            while True:
                if self._stop.is_set():
                    await expect("Stop")
                    await expect("Halt")
                    out.status, out.reason = "aborted", "stopped"
                    break
                if codec.finished(await ask("Status?")):
                    await expect("Halt")
                    break
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), self.poll)
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            out.reason = f"middleware connection lost ({type(exc).__name__}): run failed"
        except TimeoutError:
            out.reason = f"middleware silent for {self.reply_timeout:g} s: run failed"
        except protocol.FrameError as exc:
            out.reason = f"middleware protocol error: {exc}"
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
        result = self.workdir / "Results" / f"Run_{number}" / "Results.root"
        if out.status != "aborted" and not out.reason:
            if result.exists():
                out.status, out.result = "done", str(result.relative_to(self.workdir))
                progress(Event("result", out.result))
            else:
                out.reason = f"the run ended without a result file ({result})"
        out.log_tail = list(self.tail)
        return out


def driver_for(stand: StandBase, mode: str | None = None, hw: Path | None = None) -> Driver:
    """The driver the stand's `ph2acf` section asks for (the simulator when `simulate`);
    `mode` and `hw` (the hardware XML) override the section for one run."""
    cfg = stand.ph2acf
    workdir = stand.data_dir / cfg.workdir if not cfg.workdir.is_absolute() else cfg.workdir
    hw = hw or stand.path(cfg.hw_config)
    if (mode or cfg.mode) == "middleware":
        return MiddlewareDriver(workdir, hw, cfg.middleware, cfg.connect_timeout,
                                cfg.reply_timeout)  # fmt: skip
    command = list(cfg.command)
    if cfg.simulate:
        if stand.source is None:
            raise ValueError("the simulated Ph2_ACF needs a stand file")
        command = [sys.executable, "-m", "trackerdcs.ph2acf.simulator",
                   "--stand", str(stand.source), "batch"]  # fmt: skip
    return BatchDriver(workdir, hw, command)
