"""The runs service (`trackerdcs run runs`, topic root `runs`): calibration runs on Ph2_ACF.

`runs/cmd/start {calibration, modules?, note?}` checks the preconditions (power as the tag
needs, temperature stable, dew-point margin, no ACTION or unacknowledged MAJOR alarm, no run
going), then runs Ph2_ACF (batch or middleware, `trackerdcs.ph2acf.driver`). While it runs,
a safety ACTION or lost power stops it; it ends `done`, `failed` or `aborted` with the
reason. Its document (run store) holds the conditions over its UTC window, read from the
historian. A run interrupted by a restart of this service is found again and its outcome
recorded from what Ph2_ACF left on disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from trackerdcs.config.loader import ConfigError
from trackerdcs.config.model import StandBase
from trackerdcs.core import contracts, peers
from trackerdcs.core import payload as pl
from trackerdcs.core.bus import Message
from trackerdcs.core.commands import BadCommand, Command, Refused, command
from trackerdcs.core.ordering import Newest, ts_of
from trackerdcs.core.publisher import StatePublisher
from trackerdcs.core.service import Service
from trackerdcs.ph2acf.driver import BatchDriver, Driver, Outcome, driver_for
from trackerdcs.ph2acf.protocol import Event
from trackerdcs.power.modules import side_readings
from trackerdcs.runs import conditions, preconditions, recipe
from trackerdcs.runs.config import RunsConfig
from trackerdcs.runs.iv_scan import IvRequest, IvScan
from trackerdcs.runs.preconditions import Readiness
from trackerdcs.runs.sequencer import Sequencer
from trackerdcs.runs.store import open_run_store
from trackerdcs.runtime.pids import alive
from trackerdcs.storage.historian import open_historian
from trackerdcs.storage.schema import for_stand

WATCH = 0.5  # s between checks of safety and power during a run


class Start(BaseModel):
    calibration: str = Field(min_length=1)
    modules: list[str] | None = None  # channel ids or module names; default: every module
    config: str | None = None  # another hardware XML (relative to the stand file)
    mode: Literal["batch", "middleware"] | None = None  # default: the stand file's
    note: str = ""


class Stop(BaseModel):
    reason: str | None = None


class SequenceStart(BaseModel):
    recipe: str = Field(min_length=1, description="file in the recipes folder, or the name "
                        "of the text sent")  # fmt: skip
    text: str | None = Field(None, max_length=200_000, description="the recipe itself")
    note: str = ""


class Resume(BaseModel):
    from_step: int | None = Field(None, ge=1, description="re-start at this step (1-based)")


@dataclass
class Active:
    doc: dict[str, Any]
    driver: Driver | None  # None: a procedure of ours (an IV scan)
    started: float = field(default_factory=time.monotonic)
    state: str = "preparing"
    step: str = ""
    steps: int = 0
    progress: float | None = None
    stop_reason: str = ""
    task: asyncio.Task[None] | None = None
    stopping: asyncio.Event = field(default_factory=asyncio.Event)


class RunsService(Service):
    section = "runs"
    default_name = "runs"
    cfg: RunsConfig

    def __init__(self, stand: StandBase, name: str | None = None):
        super().__init__(stand, name)
        self.store = open_run_store(stand, self.cfg.store)
        powers = peers.power(stand)
        self.power = powers[0] if powers else None
        self.ready = Readiness()
        self.newest = Newest()
        self.active: Active | None = None
        self.chiller: contracts.ChillerStatus | None = None
        self.recovering: set[int] = set()  # runs whose outcome is being recovered
        self.scale = stand.stand.time_scale
        self.stable = self.cfg.stable.model_copy(
            update={"for_s": self.window(self.cfg.stable.for_s)}
        )
        self._keep = max(self.stable.for_s * 2, 60.0)
        self.status_pub = StatePublisher(self.bus, f"{self.name}/status")
        self.sequencer = Sequencer(self)
        if self.power:
            self.subscribe(f"{self.power}/channel/+", self._on_channel)
        self.subscribe(f"{peers.safety(stand)}/status", self._on_safety)
        self.subscribe("alarms/+", self._on_alarm)
        for env in peers.environment(stand):
            self.subscribe(f"{env}/+", self._on_reading)
        for cooling in peers.cooling(stand)[:1]:
            self.subscribe(f"{cooling}/status", self._on_chiller)
        self.every(1.0, self._publish_status)
        self.every(1.0, self.sequencer.publish)

    # -- what the stand says ----------------------------------------------------------------
    def _on_channel(self, msg: Message) -> None:
        data = contracts.parse_dict(msg.payload)
        if data is not None and self.newest.accept(msg.topic, ts_of(data)):
            self.ready.channels[msg.topic.rsplit("/", 1)[1]] = data

    def _on_safety(self, msg: Message) -> None:
        s = contracts.parse(contracts.SafetyStatus, msg.payload)
        if s is not None and self.newest.accept(msg.topic, s.ts):
            self.ready.safety = s

    def _on_alarm(self, msg: Message) -> None:
        a = contracts.parse(contracts.AlarmState, msg.payload)
        if a is not None:
            self.ready.alarms[a.name] = a

    def _on_chiller(self, msg: Message) -> None:
        st = contracts.parse(contracts.ChillerStatus, msg.payload)
        if st is not None and self.newest.accept(msg.topic, st.ts):
            self.chiller = st

    def window(self, for_s: float) -> float:
        """A stability window in accelerated time, but never shorter than a few readings of
        the sensors (their period is not scaled)."""
        return max(for_s / self.scale, min(for_s, 5.0))

    def keep_temperatures(self, for_s: float) -> None:
        """Keep enough temperature history for a stability check over `for_s`."""
        self._keep = max(self._keep, 2 * for_s)

    def hv_off_threshold(self) -> float:
        caen = self.stand.section("caen")
        return float(caen.hv_off_threshold) if caen is not None else 5.0

    def calibration_estimate(self, step: Any) -> float | None:
        tag = getattr(step.body, "tag", None)
        return self.cfg.calibration(tag).duration if tag else None

    def _on_reading(self, msg: Message) -> None:
        r = contracts.parse(contracts.Reading, msg.payload)
        if r is None or r.temperature is None or r.ts is None:
            return
        if self.newest.accept(msg.topic, r.ts):
            self.ready.latest[msg.topic.split("/", 1)[1]] = r
            self.ready.add_temperature(msg.topic.split("/", 1)[1], r.ts, r.temperature, self._keep)

    # -- modules ----------------------------------------------------------------------------
    def modules(self, wanted: list[str] | None) -> dict[str, str]:
        caen = self.stand.section("caen")
        known = {str(cid): ch.module for cid, ch in (caen.channels.items() if caen else [])
                 if ch.module}  # fmt: skip
        if not wanted:
            return known
        out = {}
        for w in wanted:
            cid = w if w in known else next((c for c, m in known.items() if m == w), None)
            if cid is None:
                raise BadCommand(f"unknown module or channel {w!r}; modules: "
                                 + ", ".join(f"{c}={m}" for c, m in known.items()))  # fmt: skip
            out[cid] = known[cid]
        return out

    def stability_sensors(self) -> list[str]:
        if self.cfg.stable.sensors:
            return self.cfg.stable.sensors
        sensors = self.stand.section("sensors")
        return [s.name for s in (sensors.sensors if sensors else []) if s.kind == "coldbox"]

    def margin_min(self) -> float | None:
        if self.cfg.margin_min is not None:
            return self.cfg.margin_min
        safety = self.stand.section("safety")
        return float(safety.dewpoint.warning) if safety is not None else None

    def problems(self, tag: str, modules: dict[str, str], sequence: int | None = None
                 ) -> list[str]:  # fmt: skip
        need = self.cfg.calibration(tag)
        out = []
        seq = self.sequencer.current
        if sequence is None and seq is not None and self.sequencer.busy:
            out.append(f"sequence {seq.id} ({seq.recipe.name}) is {seq.state}")
        if self.active is not None:
            out.append(f"run {self.active.doc['id']} ({self.active.doc['calibration']}) is "
                       f"{self.active.state}")  # fmt: skip
        if not modules:
            out.append("no module to test (assign modules to channels in the stand file)")
        out += preconditions.power_problems(self.ready, modules, need)
        out += preconditions.stability_problems(self.ready, self.stability_sensors(),
                                                self.stable, pl.now())  # fmt: skip
        out += preconditions.safety_problems(self.ready, self.margin_min())
        return out

    # -- commands ---------------------------------------------------------------------------
    @command("start", Start, help="{calibration, modules?, note?}: start a Ph2_ACF run")
    async def start(self, cmd: Command, body: Start) -> dict[str, Any]:
        run = await self.open_calibration(body, cmd.user or "")
        modules = [m["module"] for m in run.doc["modules"]]
        return {"id": run.doc["id"], "calibration": body.calibration, "modules": modules}

    async def open_calibration(self, body: Start, operator: str, sequence: int | None = None
                               ) -> Active:  # fmt: skip
        """Checks, then starts a calibration run; Refused with every reason why not."""
        if self.stand.section("ph2acf") is None:
            raise Refused("the stand file has no ph2acf section: no DAQ to run")
        modules = self.modules(body.modules)
        await self.fresh_safety()
        problems = self.problems(body.calibration, modules, sequence)
        if problems:
            raise Refused("not ready: " + "; ".join(problems))
        cfg = self.stand.ph2acf
        hw = self.stand.path(body.config or cfg.hw_config)
        if body.config and not hw.is_file():
            raise Refused(f"hardware description {hw} not found")
        driver = driver_for(self.stand, body.mode, hw)
        doc = self.new_doc(operator, "calibration", body.calibration, body.mode or cfg.mode,
                           modules, body.note, sequence)  # fmt: skip
        text = hw.read_text(errors="replace") if hw.exists() else None
        doc.update(hw_config={"path": str(hw), "text": text}, results_dir=None, pid=None,
                   workdir=str(driver.workdir),
                   log=str(driver.workdir / "logs" / f"run-{doc['id']}.log"))  # fmt: skip
        self.store.save(doc)
        run = self.active = Active(doc, driver)
        run.task = self.spawn(self._run(run, modules), f"run-{doc['id']}")
        self._publish_status()
        return run

    def new_doc(self, operator: str, kind: str, calibration: str, mode: str,
                modules: dict[str, str], note: str, sequence: int | None = None
                ) -> dict[str, Any]:  # fmt: skip
        """What every run document holds, before the run says more."""
        return {
            "id": self.store.next_id(), "kind": kind, "calibration": calibration, "mode": mode,
            "status": "preparing", "reason": "", "sequence": sequence,
            "modules": [{"channel": c, "module": m} for c, m in modules.items()],
            "operator": operator, "note": note, "start": pl.now(), "end": None,
            "run_number": None, "result": None, "log_tail": [], "conditions": None,
            "checked": self._checked(),
        }  # fmt: skip

    def _checked(self) -> dict[str, Any]:
        """What the start was allowed on: safety's verdict and each channel's read-back."""
        s = self.ready.safety
        dew = (s.interlocks or {}).get("dewpoint") if s is not None else None
        return {
            "safety": s.state if s is not None else None,
            "dewpoint_margin": dew.get("value") if isinstance(dew, dict) else None,
            "channels": {cid: {k: ch.get(k) for k in ("fsm_state", "lv_vMon", "hv_vMon")}
                         for cid, ch in self.ready.channels.items()},
        }  # fmt: skip

    async def fresh_safety(self) -> None:
        """Safety's verdict now, not its last published status (values may be seconds old)."""
        try:
            reply = await self.bus.request(peers.safety(self.stand), "evaluate", None, 5.0)
        except (TimeoutError, ConnectionError):
            self.ready.safety = None  # refused below: "no safety status"
            return
        if reply.get("ok") and isinstance(reply.get("result"), dict):
            status = contracts.SafetyStatus.model_validate({**reply["result"], "ts": pl.now()})
            self.ready.safety = status

    @command("check", Start, role="viewer", help="{calibration, modules?}: would a start go?")
    async def check(self, cmd: Command, body: Start) -> dict[str, Any]:
        modules = self.modules(body.modules)
        await self.fresh_safety()
        problems = self.problems(body.calibration, modules)
        return {"ready": not problems, "problems": problems, "modules": list(modules.values())}

    @command("stop", Stop, help="stop the run (Ph2_ACF stops and halts): aborted")
    def stop_cmd(self, cmd: Command, body: Stop) -> dict[str, Any]:
        return self.stop_run(body.reason or f"stopped by {cmd.user or 'bus'}")

    @command("abort", Stop, help="abort the run now: aborted")
    def abort_cmd(self, cmd: Command, body: Stop) -> dict[str, Any]:
        return self.stop_run(body.reason or f"aborted by {cmd.user or 'bus'}")

    def stop_run(self, reason: str) -> dict[str, Any]:
        run = self.active
        if run is None:
            raise Refused("no run in progress")
        run.stop_reason = run.stop_reason or reason
        run.state = "stopping"
        run.stopping.set()
        if run.driver is not None:
            run.driver.stop()
        self._publish_status()
        return {"id": run.doc["id"], "stopping": True}

    @command("list", role="viewer", help="the latest runs (newest first)")
    def list_runs(self, cmd: Command) -> dict[str, Any]:
        return {"runs": [summary(d) for d in self.store.recent(50)]}

    @command("show/+", role="viewer", help="one run's document")
    def show(self, cmd: Command) -> dict[str, Any]:
        try:
            doc = self.store.get(int(cmd.args[0]))
        except ValueError:
            raise BadCommand(f"run id must be a number, got {cmd.args[0]!r}") from None
        if doc is None:
            raise BadCommand(f"no run {cmd.args[0]}")
        return doc

    # -- IV scans ---------------------------------------------------------------------------
    @command("iv/start", IvRequest, help="IV scan: {start, stop, step, compliance, settle, ...}")
    async def iv_start(self, cmd: Command, body: IvRequest) -> dict[str, Any]:
        run = await self.open_iv(body, cmd.user or "")
        return {
            "id": run.doc["id"],
            "kind": "iv",
            "steps": run.doc["steps_planned"],
            "modules": [m["module"] for m in run.doc["modules"]],
        }

    async def open_iv(self, body: IvRequest, operator: str, sequence: int | None = None
                      ) -> Active:  # fmt: skip
        """Checks, then starts an IV scan; Refused with every reason why not."""
        if self.power is None:
            raise Refused("no power service on this stand")
        modules = self.modules(body.modules)
        await self.fresh_safety()
        problems = self.problems("iv", modules, sequence)
        if problems:
            raise Refused("not ready: " + "; ".join(problems))
        doc = self.new_doc(operator, "iv", "iv", "iv", modules, body.note, sequence)
        doc.update(request=body.model_dump(), curves={})
        if self.scale != 1.0:  # a simulated stand in accelerated time: so is the settling
            body = body.model_copy(update={"settle": body.settle / self.scale,
                                           "interval": body.interval / self.scale})  # fmt: skip
        self.store.save(doc)
        run = Active(doc, None)
        self.active = run

        def on_step(k: int, v: float) -> None:
            run.steps, run.step = k, f"{v:g} V"
            self._publish_status()

        scan = IvScan(self.bus, self.power, body, modules, lambda: self.ready.channels,
                      self._climate, run.stopping, on_step)  # fmt: skip
        doc["steps_planned"] = len(scan.volts)
        doc["setpoints_before"] = scan.before  # given back at the end, after a restart too
        self.store.save(doc)
        run.task = self.spawn(self._iv(run, scan, modules), f"iv-{doc['id']}")
        self._publish_status()
        return run

    def _climate(self) -> tuple[float | None, float | None]:
        """Mean temperature and humidity of the cold-box sensors now (fresh readings only)."""
        names = self.stability_sensors() or list(self.ready.latest)
        now = pl.now()
        fresh = [r for n in names if (r := self.ready.latest.get(n)) is not None
                 and r.ts is not None and now - r.ts < 30]  # fmt: skip
        temps = [r.temperature for r in fresh if r.temperature is not None]
        hums = [r.humidity for r in fresh if r.humidity is not None]
        return (sum(temps) / len(temps) if temps else None,
                sum(hums) / len(hums) if hums else None)  # fmt: skip

    async def _iv(self, run: Active, scan: IvScan, modules: dict[str, str]) -> None:
        run.state = run.doc["status"] = "running"
        self.store.save(run.doc)
        watcher = self.spawn(self._watch(run, modules, self.cfg.calibration("iv")), "iv-watch")
        try:
            why = await scan.run()
        except asyncio.CancelledError:
            run.doc.update(end=pl.now(), status="aborted", curves=scan.curves,
                           reason="the runs service was stopped during the scan")  # fmt: skip
            self.store.save(run.doc)
            raise
        finally:
            watcher.cancel()
        statuses = [c["status"] for c in scan.curves.values()]
        if run.stop_reason or why:
            status, reason = "aborted", run.stop_reason or why
        elif statuses and all(st == "failed" for st in statuses):
            status, reason = "failed", "; ".join(c["reason"] for c in scan.curves.values())
        else:
            status, reason = "done", ""
        run.doc.update(end=pl.now(), status=status, reason=reason, curves=scan.curves)
        run.doc["conditions"] = await self._conditions(run.doc)
        self.store.save(run.doc)
        self.log.log(logging.INFO if status == "done" else logging.WARNING, "IV scan %s %s%s",
                     run.doc["id"], status, f": {reason}" if reason else "")  # fmt: skip
        self.publish_state(f"run/{run.doc['id']}", summary(run.doc))
        self.active = None
        self._publish_status()

    # -- the run ----------------------------------------------------------------------------
    async def _run(self, run: Active, modules: dict[str, str]) -> None:
        run.state = run.doc["status"] = "running"
        self.store.save(run.doc)
        need = self.cfg.calibration(run.doc["calibration"])
        watcher = self.spawn(self._watch(run, modules, need), "run-watch")

        def progress(ev: Event) -> None:
            if ev.kind == "started" and ev.run is not None:
                run.doc["run_number"] = ev.run
                run.doc["pid"] = getattr(run.driver, "pid", None)
                self.store.save(run.doc)
            elif ev.kind == "step":
                run.steps += 1
                run.step = ev.text
            elif ev.kind == "progress":
                run.progress = ev.value
            self._publish_status()

        try:
            assert run.driver is not None
            out = await run.driver.run(run.doc["calibration"], progress, Path(run.doc["log"]))
        except asyncio.CancelledError:
            # this service stops: Ph2_ACF was told to abort; the document says so
            tail = list(run.driver.tail) if run.driver is not None else []
            run.doc.update(end=pl.now(), status="aborted", log_tail=tail,
                           reason="the runs service was stopped during the run")  # fmt: skip
            self.store.save(run.doc)
            raise
        except Exception as exc:  # the driver's own failure is the run's failure
            self.log.exception("run %s", run.doc["id"])
            out = Outcome("failed", f"internal error: {type(exc).__name__}: {exc}")
        finally:
            watcher.cancel()
        if run.stop_reason and out.status != "done":
            out.status, out.reason = "aborted", run.stop_reason
        await self._finish(run.doc, out)
        self.active = None
        self._publish_status()

    async def _watch(self, run: Active, modules: dict[str, str], need: Any) -> None:
        """A safety ACTION or power lost under the run stops it (recorded as aborted)."""
        while run.stop_reason == "":
            await asyncio.sleep(WATCH)
            s = self.ready.safety
            why = ""
            if s is not None and s.state == "ACTION":
                why = f"safety ACTION: {s.message}"
            elif problems := preconditions.power_problems(self.ready, modules, need):
                why = "power lost: " + "; ".join(problems)
            if why:
                self.log.error("run %s: %s; stopping it", run.doc["id"], why)
                self.stop_run(why)

    async def _finish(self, doc: dict[str, Any], out: Outcome) -> None:
        doc.update(end=pl.now(), status=out.status, reason=out.reason, log_tail=out.log_tail,
                   steps=out.steps)  # fmt: skip
        if out.run_number is not None:
            doc["run_number"] = out.run_number
        if out.result:
            doc["result"] = out.result
            doc["results_dir"] = str(Path(doc["workdir"]) / Path(out.result).parent)
        doc["conditions"] = await self._conditions(doc)
        self.store.save(doc)
        why = f": {doc['reason']}" if doc["reason"] else ""
        level = logging.INFO if doc["status"] == "done" else logging.WARNING
        self.log.log(level, "run %s %s%s", doc["id"], doc["status"], why)
        self.publish_state(f"run/{doc['id']}", summary(doc))

    async def _conditions(self, doc: dict[str, Any]) -> dict[str, Any] | None:
        """Read after the recorder has written what it holds (its flush, bounded)."""
        await asyncio.sleep(max(0.0, doc["end"] + self.cfg.settle - pl.now()))
        with contextlib.suppress(TimeoutError, ConnectionError):
            await self.bus.request("recorder", "flush", None, self.cfg.flush_timeout)
        modules = {m["module"] for m in doc["modules"]}
        cooling = {n: c.recorded() for n, c in peers.cooling_contracts(self.stand).items()}
        reference = {t: m.name for t, m in for_stand(self.stand, "reference").reference.items()}
        sources = side_readings(self.stand)

        def read() -> dict[str, Any]:
            h = open_historian(self.stand)
            try:
                return conditions.snapshot(h, doc["start"], doc["end"], sources, cooling,
                                           peers.safety(self.stand), modules,
                                           reference)  # fmt: skip
            finally:
                h.close()

        try:
            return await asyncio.to_thread(read)
        except Exception as exc:
            self.log.error("conditions of run %s not read: %s", doc["id"], exc)
            return {"error": str(exc)}

    # -- after a restart ----------------------------------------------------------------------
    async def main(self) -> None:
        for doc in sorted(self.store.unfinished(), key=lambda d: d["id"]):
            if doc.get("kind") == "sequence":
                self.sequencer.recover(doc)
            else:
                self.recovering.add(doc["id"])
                self.spawn(self._recover(doc), f"recover-{doc['id']}")

    async def _recover(self, doc: dict[str, Any]) -> None:
        try:
            if doc.get("kind") == "iv":
                await self._recover_iv(doc)
            else:
                await self._recover_calibration(doc)
        finally:
            self.recovering.discard(doc["id"])
            self.sequencer.publish()

    async def _recover_iv(self, doc: dict[str, Any]) -> None:
        """A scan cut by a restart: its channels still sit at the last step's voltage. The
        ramp-down the scan always does is done now, by the scan's own code."""
        req = IvRequest.model_validate(doc["request"])
        modules = {m["channel"]: m["module"] for m in doc["modules"]}
        scan = IvScan(self.bus, self.power or "dcs", req, modules, lambda: self.ready.channels,
                      self._climate, asyncio.Event(),
                      before=doc.get("setpoints_before") or {})  # fmt: skip
        if await self._power_answers():
            await scan.ramp_down(list(modules))
            errors = [c["reason"].lstrip("; ") for c in scan.curves.values() if c["reason"]]
        else:
            errors = ["the power service did not answer"]
        end = req.end_voltage
        why = (f"the runs service restarted during the scan; channels ramped down to {end:g} V"
               + (f" (not all: {'; '.join(errors)})" if errors else ""))  # fmt: skip
        self.log.error("IV scan %s: %s", doc["id"], why)
        doc.update(end=pl.now(), status="aborted", reason=why)
        doc["conditions"] = await self._conditions(doc)
        self.store.save(doc)
        self.publish_state(f"run/{doc['id']}", summary(doc))

    async def _power_answers(self, attempts: int = 30) -> bool:
        """The power service may be starting too: wait (backing off) until it answers."""
        for attempt in range(attempts):
            try:
                await self.bus.request(self.power or "dcs", "ping", None, 5.0)
                return True
            except (TimeoutError, ConnectionError):
                await asyncio.sleep(min(2.0, 0.2 * (attempt + 1)))
        return False

    async def _recover_calibration(self, doc: dict[str, Any]) -> None:
        """The truth about a run this service lost sight of: wait for its program if it still
        runs, then judge by what it left on disk."""
        pid = doc.get("pid")
        if pid and alive(pid):
            self.log.warning("run %s: Ph2_ACF (pid %s) still runs; waiting for it", doc["id"],
                             pid)  # fmt: skip
            while alive(pid):
                await asyncio.sleep(1.0)
        driver = driver_for(self.stand, doc.get("mode"))
        if isinstance(driver, BatchDriver) and doc.get("log"):
            out = driver.judge_log(Path(doc["log"]))  # what Ph2_ACF itself said
            if out.status == "done":
                out.reason = "recorded from its log after a restart of the runs service"
            else:
                out.reason = f"the runs service restarted during the run; {out.reason}"
        else:
            out = Outcome("failed", "the runs service restarted during the run: the "
                          "middleware session was lost", doc.get("run_number"))  # fmt: skip
        await self._finish(doc, out)

    # -- status -----------------------------------------------------------------------------
    def _publish_status(self) -> None:
        run = self.active
        if run is None:
            self.status_pub.offer({"state": "idle", "run": None})
            return
        elapsed = time.monotonic() - run.started
        expected = self.cfg.calibration(run.doc["calibration"]).duration
        self.status_pub.offer({
            "state": run.state, "run": run.doc["id"], "run_number": run.doc["run_number"],
            "calibration": run.doc["calibration"], "step": run.step, "steps_done": run.steps,
            "progress": run.progress, "elapsed": round(elapsed, 1),
            "remaining": round(max(0.0, expected - elapsed), 1) if expected else None,
        })  # fmt: skip

    def republish(self) -> None:
        self._publish_status()
        self.sequencer.publish()

    def summary(self, doc: dict[str, Any]) -> dict[str, Any]:
        return summary(doc)

    # -- sequences ----------------------------------------------------------------------------
    def _recipe_text(self, body: SequenceStart) -> tuple[str, str]:
        if body.text is not None:
            return body.text, body.recipe
        folder = self.stand.path(self.cfg.recipes)
        if "/" in body.recipe or body.recipe.startswith("."):
            raise BadCommand("recipe: a file name in the recipes folder (or send its text)")
        path = folder / body.recipe
        if not path.suffix:
            path = path.with_suffix(".yaml")
        if not path.is_file():
            known = ", ".join(sorted(p.name for p in folder.glob("*.y*ml"))) or "none"
            raise Refused(f"no recipe {body.recipe!r} in {folder} (there: {known})")
        return path.read_text(encoding="utf-8", errors="replace"), str(path)

    @command("sequence/start", SequenceStart, help="{recipe, text?, note?}: run a recipe")
    def sequence_start(self, cmd: Command, body: SequenceStart) -> dict[str, Any]:
        text, name = self._recipe_text(body)
        seq = self.sequencer.start(text, name, cmd.user or "", body.note)
        return {"id": seq.id, "name": seq.recipe.name, "steps": len(seq.steps),
                "modules": list(seq.modules.values())}  # fmt: skip

    @command("sequence/pause", help="hold at the end of the current step (a wait holds at once)")
    def sequence_pause(self, cmd: Command) -> dict[str, Any]:
        seq = self.sequencer.pause()
        return {"id": seq.id, "state": seq.state}

    @command("sequence/resume", Resume, help="{from_step?}: go on (after a pause or a restart)")
    def sequence_resume(self, cmd: Command, body: Resume) -> dict[str, Any]:
        return self.sequencer.resume(cmd.user or "", body.from_step)

    @command("sequence/abort", Stop, help="abort: the step stops, the modules are switched off")
    def sequence_abort(self, cmd: Command, body: Stop) -> dict[str, Any]:
        seq = self.sequencer.abort(body.reason or f"aborted by {cmd.user or 'bus'}")
        return {"id": seq.id, "state": seq.state}

    @command("sequence/status", role="viewer", help="the sequence now (as on runs/sequence)")
    def sequence_status(self, cmd: Command) -> dict[str, Any]:
        return self.sequencer.status()

    @command("sequence/recipes", role="viewer", help="the recipes in the recipes folder")
    def sequence_recipes(self, cmd: Command) -> dict[str, Any]:
        folder = self.stand.path(self.cfg.recipes)
        out = []
        for path in sorted(folder.glob("*.y*ml")):
            text = path.read_text(encoding="utf-8", errors="replace")
            try:
                r = recipe.parse(text, str(path))
                out.append({"file": path.name, "name": r.name, "description": r.description,
                            "version": r.version, "steps": len(recipe.plan(r))})  # fmt: skip
            except ConfigError as exc:
                out.append({"file": path.name, "error": str(exc)})
        return {"folder": str(folder), "recipes": out}

    async def shutdown(self) -> None:
        # a clean stop aborts the run (above); after a crash of this service the program goes
        # on in its own session, and the next start records its outcome (pid in the document)
        self.sequencer.close()
        self.store.close()


def summary(doc: dict[str, Any]) -> dict[str, Any]:
    keys = ("id", "kind", "calibration", "status", "reason", "run_number", "start", "end",
            "operator", "result")  # fmt: skip
    return {k: doc.get(k) for k in keys} | {"modules": [m["module"] for m in doc["modules"]]}
