"""Ph2_ACF drivers against the simulator as real processes: the batch program (log followed
line by line) and the middleware RunController over TCP (8-byte framing, text protocol)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

import pytest

from trackerdcs.config import load_stand
from trackerdcs.ph2acf import protocol
from trackerdcs.ph2acf.driver import Driver, Outcome, driver_for
from trackerdcs.testing.mosquitto import free_port, wait_port
from trackerdcs.testing.processes import stop_process


def _stand(tmp_path: Path, mode: str = "batch", fail: str | None = None, steps: int = 3,
           step_seconds: float = 0.1) -> Path:  # fmt: skip
    (tmp_path / "hw.xml").write_text("<HwDescription><BeBoard Id='0'/></HwDescription>\n")
    path = tmp_path / "stand.yaml"
    path.write_text(
        f"state_dir: {tmp_path / 'var'}\n"
        "ph2acf:\n  simulate: true\n"
        f"  mode: {mode}\n  hw_config: hw.xml\n  middleware: 127.0.0.1:{free_port()}\n"
        "  reply_timeout: 5\n"
        f"  sim: {{steps: {steps}, step_seconds: {step_seconds}, fail: {fail or 'null'}}}\n"
    )
    return path


def _run(driver: Driver, tag: str, stop_after: float | None = None) -> tuple[Outcome, list]:
    events: list = []

    async def main() -> Outcome:
        if stop_after is not None:
            asyncio.get_running_loop().call_later(stop_after, driver.stop)
        return await asyncio.wait_for(driver.run(tag, events.append), 60)

    return asyncio.run(main()), events


def test_log_lines_are_read_like_the_sites_read_them() -> None:
    line = "\x1b[32m29.05.2025 15:59:56: |140489373334720|I| Run 500749 started\x1b[0m"
    assert protocol.parse(line) == protocol.Event("started", "Run 500749 started", run=500749)
    closing = "29.05.2025 16:04:49: |1|I| Closing result file: Results/Run_5/Results.root"
    assert protocol.parse(closing) == protocol.Event("result", "Results/Run_5/Results.root")
    assert protocol.parse("|1|E| ControlHub returned error code 3").kind == "failure"
    assert protocol.frame(b"Status?") == b"\x00\x00\x00\x0f\x00\x00\x00\x00Status?"


def test_a_batch_run_ends_done_with_its_run_number_and_result(tmp_path: Path) -> None:
    stand = load_stand(_stand(tmp_path))
    out, events = _run(driver_for(stand), "calibration")
    assert out.status == "done", out
    assert out.run_number == 1 and out.result == "Results/Run_1/Results.root"
    workdir = stand.data_dir / "ph2acf"
    assert (workdir / out.result).exists()
    assert (workdir / "Results/Run_1/Configuration.xml").read_text().startswith("<HwDescription")
    assert [e.kind for e in events][:2] == ["started", "step"] and len(out.steps) == 3
    again, _ = _run(driver_for(stand), "pedenoise")
    assert again.run_number == 2  # RunNumbers.dat read and incremented


@pytest.mark.parametrize(("fail", "tag", "reason"), [
    (None, "calibrationn", "Error: calibration tag calibrationn does not exist"),
    ("hardware", "calibration", "ControlHub returned error code 3"),
    ("crash", "calibration", "terminate called after throwing"),
])  # fmt: skip
def test_batch_failures_end_failed_with_the_real_error_text(tmp_path: Path, fail, tag,
                                                            reason) -> None:  # fmt: skip
    out, _ = _run(driver_for(load_stand(_stand(tmp_path, fail=fail))), tag)
    assert out.status == "failed" and reason in out.reason, out
    assert out.result is None


def test_stopping_a_batch_run_aborts_it_with_sigint(tmp_path: Path) -> None:
    out, _ = _run(driver_for(load_stand(_stand(tmp_path, steps=50, step_seconds=0.2))),
                  "calibration", stop_after=1.0)  # fmt: skip
    assert out.status == "aborted" and out.run_number == 1
    assert "Run 1 stopped" in out.log_tail


def _middleware(path: Path, log: Path) -> subprocess.Popen[bytes]:
    with open(log, "wb") as out:
        argv = [sys.executable, "-m", "trackerdcs", "sim", "ph2acf", "--config", str(path)]
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
    port = int(load_stand(path).ph2acf.middleware.rpartition(":")[2])
    wait_port("127.0.0.1", port, 20)
    return proc


def test_a_middleware_run_ends_done(tmp_path: Path) -> None:
    path = _stand(tmp_path, mode="middleware")
    server = _middleware(path, tmp_path / "mw.log")
    try:
        out, events = _run(driver_for(load_stand(path)), "calibration")
        assert out.status == "done", out
        assert out.run_number == 1 and out.result == "Results/Run_1/Results.root"
        assert [e.kind for e in events] == ["started", "result"]
        assert "< StartDone" in out.log_tail and "< HaltDone" in out.log_tail
    finally:
        stop_process(server)


@pytest.mark.parametrize(("fail", "tag"), [(None, "nosuchtag"), ("crash", "calibration"),
                                           ("abort_middleware", "calibration")])  # fmt: skip
def test_a_middleware_that_aborts_or_dies_fails_the_run_in_bounded_time(
    tmp_path: Path, fail, tag
) -> None:
    path = _stand(tmp_path, mode="middleware", fail=fail)
    server = _middleware(path, tmp_path / "mw.log")
    try:
        t0 = time.monotonic()
        out, _ = _run(driver_for(load_stand(path)), tag)
        assert out.status == "failed" and "middleware connection lost" in out.reason, out
        assert time.monotonic() - t0 < 30
    finally:
        stop_process(server)


def test_stopping_a_middleware_run_aborts_it(tmp_path: Path) -> None:
    path = _stand(tmp_path, mode="middleware", steps=50, step_seconds=0.2)
    server = _middleware(path, tmp_path / "mw.log")
    try:
        out, _ = _run(driver_for(load_stand(path)), "calibration", stop_after=1.5)
        assert out.status == "aborted" and "< StopDone" in out.log_tail
    finally:
        stop_process(server)


def test_an_unreachable_middleware_fails_at_once(tmp_path: Path) -> None:
    out, _ = _run(driver_for(load_stand(_stand(tmp_path, mode="middleware"))), "calibration")
    assert out.status == "failed" and "unreachable" in out.reason
