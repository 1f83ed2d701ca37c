"""The sequencer: a recipe's steps in order over a set of modules, for hours, unattended.

It lives in the runs service (one procedure at a time on a stand: its IV scans and
calibrations are the service's own runs, with the same preconditions and watchers). Its
document in the run store holds the recipe's text, every step's outcome (failed ones with
the reason) and its position, saved before and after every step. After a crash the service
finds the document again and reports it `interrupted`; nothing moves until an operator
resumes (`resume` re-runs the interrupted step by its kind's policy, `recipe.RESUME`, and
only when the stand's power is what the recipe had left it in) or aborts.

Safety wins: an ACTION aborts the sequence; a failed or aborted sequence ends with HV off,
then LV off, on its modules (unless the recipe says `at_end_of_failure: keep`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from trackerdcs.config.loader import ConfigError
from trackerdcs.config.modules import Side
from trackerdcs.core import payload as pl
from trackerdcs.core import peers
from trackerdcs.core.commands import Refused
from trackerdcs.core.publisher import StatePublisher
from trackerdcs.core.registry import COOLING, with_role
from trackerdcs.power import routes
from trackerdcs.runs import preconditions, recipe
from trackerdcs.runs.config import Calibration, Stable
from trackerdcs.runs.iv_scan import IvRequest
from trackerdcs.runs.recipe import Planned, Recipe

if TYPE_CHECKING:
    from trackerdcs.runs.service import Active, RunsService

WATCH = 0.5  # s between checks (safety, read-backs)
SUB_RUN_GRACE = 180.0  # s an aborted IV scan or calibration gets to ramp down and end
END_TIMEOUT = 120.0  # s for HV and LV to read off at the end of a failed sequence
LIVE = ("running", "pausing", "paused", "aborting")


@dataclass
class Sequence:
    doc: dict[str, Any]
    recipe: Recipe
    steps: list[Planned]
    modules: dict[str, str]  # channel id -> module
    state: str = "running"  # running, pausing, paused, aborting, interrupted
    index: int = 0
    step_started: float = field(default_factory=time.monotonic)
    remaining: float | None = None  # s left in a wait step
    pause: bool = False
    resumed: asyncio.Event = field(default_factory=asyncio.Event)
    abort_reason: str = ""
    sub: Active | None = None  # the IV scan or calibration a step runs
    task: asyncio.Task[None] | None = None
    step_task: asyncio.Task[str] | None = None

    @property
    def id(self) -> int:
        return int(self.doc["id"])

    def record(self, event: str, detail: str) -> None:
        self.doc.setdefault("events", []).append({"ts": pl.now(), "event": event,
                                                   "detail": detail})  # fmt: skip


class Sequencer:
    def __init__(self, host: RunsService):
        self.host = host
        self.current: Sequence | None = None
        self.last: dict[str, Any] | None = None  # the status of the last one that ended
        self.pub = StatePublisher(host.bus, f"{host.name}/sequence")
        self.scale = host.stand.stand.time_scale
        self.routes = routes.module_routes(host.stand)
        safety = host.stand.section("safety")
        self.notifier = None
        if safety is not None:
            from trackerdcs.safety.notify import Notifier

            self.notifier = Notifier(safety.notify, host.stand.stand.name)

    @property
    def log(self) -> Any:
        return self.host.log

    @property
    def busy(self) -> bool:
        """A sequence is executing (not when paused or interrupted)."""
        return self.current is not None and self.current.state in ("running", "pausing",
                                                                   "aborting")  # fmt: skip

    # -- start --------------------------------------------------------------------------------
    def start(self, text: str, name: str, operator: str, note: str) -> Sequence:
        if self.current is not None:
            c = self.current
            raise Refused(f"sequence {c.id} ({c.recipe.name}) is {c.state}"
                          + (": resume or abort it first" if c.state in ("paused", "interrupted")
                             else ""))  # fmt: skip
        if self.host.active is not None:
            raise Refused(f"run {self.host.active.doc['id']} is {self.host.active.state}")
        try:
            rec = recipe.parse(text, name)
        except ConfigError as exc:
            raise Refused(f"recipe not valid:\n{exc}") from None
        modules = self.host.modules(rec.modules)
        if not modules:
            raise Refused("no module to test (assign modules to channels in the stand file)")
        steps = recipe.plan(rec)
        doc = self.host.new_doc(operator, "sequence", rec.name, "sequence", modules, note)
        doc.update(
            recipe={"name": rec.name, "version": rec.version, "file": name,
                    "sha256": recipe.digest(text), "text": text},
            steps=[{**s.as_dict(), "status": "pending", "reason": "", "start": None,
                    "end": None, "attempts": 0, "runs": []} for s in steps],
            position={"index": 0, "at": "before"}, events=[], time_scale=self.scale,
        )  # fmt: skip
        seq = Sequence(doc, rec, steps, modules)
        seq.record("started", f"by {operator or 'bus'}: {len(steps)} steps over "
                   f"{len(modules)} modules")  # fmt: skip
        doc["status"] = "running"
        self.host.store.save(doc)
        self.current = seq
        seq.task = self.host.spawn(self._execute(seq, 0), f"sequence-{seq.id}")
        self.publish()
        return seq

    # -- the loop -----------------------------------------------------------------------------
    async def _execute(self, seq: Sequence, first: int) -> None:
        watcher = self.host.spawn(self._watch(seq), f"sequence-{seq.id}-watch")
        failed = 0
        try:
            i = first
            while i < len(seq.steps) and not seq.abort_reason:
                await self._gate(seq)
                if seq.abort_reason:
                    break
                status, reason = await self._one(seq, i)
                if status == "failed":
                    failed += 1
                    if recipe.on_failure(seq.recipe, seq.steps[i]) == "stop":
                        await self._end(seq, "failed", f"step {i + 1} ({seq.steps[i].label}) "
                                        f"failed: {reason}")  # fmt: skip
                        return
                i += 1
            if seq.abort_reason:
                await self._end(seq, "aborted", seq.abort_reason)
            else:
                await self._end(seq, "done", f"{failed} failed step(s) passed over "
                                "(on_failure: continue)" if failed else "")  # fmt: skip
        finally:
            watcher.cancel()

    async def _gate(self, seq: Sequence) -> None:
        """Between steps: hold while paused."""
        if not seq.pause:
            return
        seq.state = seq.doc["status"] = "paused"
        self.host.store.save(seq.doc)
        self.publish()
        self.log.info("sequence %s paused before step %d", seq.id, seq.index + 1)
        await seq.resumed.wait()

    async def _one(self, seq: Sequence, i: int) -> tuple[str, str]:
        step = seq.steps[i]
        rec = seq.doc["steps"][i]
        seq.index, seq.step_started, seq.remaining = i, time.monotonic(), None
        rec.update(status="running", reason="", start=pl.now(), end=None,
                   attempts=rec["attempts"] + 1)  # fmt: skip
        seq.doc["position"] = {"index": i, "at": "before"}
        self.host.store.save(seq.doc)  # before: a crash from here on re-runs this step
        self.publish()
        self.log.info("sequence %s step %d/%d: %s", seq.id, i + 1, len(seq.steps), step.label)
        seq.step_task = self.host.spawn(self._do_caught(seq, step, rec), f"step-{i + 1}")
        await asyncio.wait({seq.step_task})
        if seq.step_task.cancelled():
            status, reason = "aborted", seq.abort_reason or "cancelled"
        else:
            reason = seq.step_task.result()
            status = "failed" if reason else "done"
            if seq.abort_reason and status == "failed":
                status, reason = "aborted", f"{seq.abort_reason} ({reason})"
        seq.sub, seq.step_task = None, None
        rec.update(status=status, reason=reason, end=pl.now())
        seq.doc["position"] = {"index": i, "at": "after"}
        self.host.store.save(seq.doc)  # after: a crash from here on goes to the next step
        self.publish()
        if status != "done":
            self.log.error("sequence %s step %d (%s) %s: %s", seq.id, i + 1, step.label, status,
                           reason)  # fmt: skip
        return status, reason

    async def _do_caught(self, seq: Sequence, step: Planned, rec: dict[str, Any]) -> str:
        try:
            return await self._do(seq, step, rec)
        except Refused as exc:
            return str(exc)
        except Exception as exc:
            self.log.exception("sequence %s step %d", seq.id, step.index + 1)
            return f"internal error: {type(exc).__name__}: {exc}"

    async def _do(self, seq: Sequence, step: Planned, rec: dict[str, Any]) -> str:
        """'' when the step did what it says, else why not."""
        b: Any = step.body
        if step.kind == "wait":
            return await self._wait(seq, b.seconds / self.scale)
        if step.kind == "lv":
            return await (self._lv_on(seq, b) if b.state == "on" else self._lv_off(seq, b.timeout))
        if step.kind == "hv":
            return await (self._hv_on(seq, b) if b.state == "on" else self._hv_off(seq, b.timeout))
        if step.kind == "chiller":
            return await self._chiller(b)
        if step.kind in ("iv", "calibration"):
            return await self._sub_run(seq, step, rec)
        return f"unknown step kind {step.kind}"

    async def _watch(self, seq: Sequence) -> None:
        """Safety wins: an ACTION aborts the sequence (running or paused)."""
        while seq.state in LIVE:
            s = self.host.ready.safety
            if s is not None and s.state == "ACTION" and not seq.abort_reason:
                self.log.error("sequence %s: safety ACTION (%s): aborting", seq.id, s.message)
                self.abort(f"safety ACTION: {s.message}")
            await asyncio.sleep(WATCH)

    # -- steps --------------------------------------------------------------------------------
    async def _wait(self, seq: Sequence, seconds: float) -> str:
        """Time counts only while not paused."""
        seq.remaining = seconds
        last = time.monotonic()
        while seq.remaining > 0:
            await asyncio.sleep(min(WATCH, seq.remaining))
            now = time.monotonic()
            if not seq.pause:
                seq.remaining -= now - last
            elif seq.state != "paused":
                seq.state = seq.doc["status"] = "paused"
                self.host.store.save(seq.doc)
                self.publish()
            last = now
        return ""

    async def _ask(self, service: str | None, name: str, value: Any = None) -> str:
        if service is None:
            return "no such service on this stand"
        err = await self.host.bus.ask(service, name, value)
        return f"{service} {err}" if err else ""

    async def _until(self, problems: Callable[[], list[str]], timeout: float, what: str) -> str:
        deadline = time.monotonic() + timeout
        while left := problems():
            if time.monotonic() > deadline:
                return f"{what} not reached within {timeout:g} s: " + "; ".join(left)
            await asyncio.sleep(WATCH)
        return ""

    async def _may_power_on(self) -> list[str]:
        await self.host.fresh_safety()
        return preconditions.safety_problems(self.host.ready, self.host.margin_min())

    async def _each(self, seq: Sequence, name: str, value: Any) -> str:
        """`<name>/<channel>` to every module's channel at once; the refusals, joined."""
        errors = await asyncio.gather(*(self._ask(self.host.power, f"{name}/{cid}", value)
                                        for cid in seq.modules))  # fmt: skip
        return "; ".join(e for e in errors if e)

    async def _switch(self, seq: Sequence, side: Side, on: bool) -> str:
        """Each module's side through whichever services give it (the module-addressed
        command of the power contract), the modules at once; a module's chain (a relay and
        its supply) in order, stopped at the first refusal."""
        value = "on" if on else "off"

        async def one(module: str) -> str:
            services = routes.in_order(self.routes.get((module, side), []), on)
            if not services:
                return f"no service gives module {module} its {side.upper()}"
            for service in services:
                if err := await self._ask(service, routes.command(module, side), value):
                    return err
            return ""

        errors = await asyncio.gather(*(one(m) for m in seq.modules.values()))
        return "; ".join(e for e in errors if e)

    async def _lv_on(self, seq: Sequence, b: Any) -> str:
        if problems := await self._may_power_on():
            return "LV not switched on: " + "; ".join(problems)
        if err := await self._switch(seq, "lv", True):
            return err
        need = Calibration(power="lv")
        return await self._until(
            lambda: preconditions.power_problems(self.host.ready, seq.modules, need),
            b.timeout, "LV on")  # fmt: skip

    async def _hv_on(self, seq: Sequence, b: Any) -> str:
        problems = await self._may_power_on()
        problems += preconditions.power_problems(self.host.ready, seq.modules,
                                                 Calibration(power="lv"))  # fmt: skip
        if problems:
            return "HV not switched on: " + "; ".join(problems)
        if b.voltage is not None and (err := await self._each(seq, "setv/hv", b.voltage)):
            return err
        if err := await self._switch(seq, "hv", True):
            return err
        need = Calibration(power="hv", bias=b.voltage, bias_band=b.band)
        return await self._until(
            lambda: preconditions.power_problems(self.host.ready, seq.modules, need),
            b.timeout, "HV on" + (f" at {b.voltage:g} V" if b.voltage is not None else ""),
        )  # fmt: skip

    def _hv_up(self, modules: dict[str, str]) -> list[str]:
        threshold = self.host.hv_off_threshold()
        out = []
        for cid, m in modules.items():
            ch = self.host.ready.channels.get(cid, {})
            v = ch.get("hv_vMon")
            if ch.get("hv_pw") or not isinstance(v, int | float) or abs(v) > threshold:
                out.append(f"{m} HV reads {v} V")
        return out

    def _lv_up(self, modules: dict[str, str]) -> list[str]:
        return [
            f"{m} is {ch.get('fsm_state')}"
            for cid, m in modules.items()
            if (ch := self.host.ready.channels.get(cid, {})).get("fsm_state") != "LV_OFF"
        ]

    async def _hv_off(self, seq: Sequence, timeout: float) -> str:
        err = await self._switch(seq, "hv", False)
        return err or await self._until(lambda: self._hv_up(seq.modules), timeout, "HV off")

    async def _lv_off(self, seq: Sequence, timeout: float) -> str:
        err = await self._switch(seq, "lv", False)  # the power service ramps HV down first
        return err or await self._until(lambda: self._lv_up(seq.modules), timeout, "LV off")

    async def _chiller(self, b: Any) -> str:
        contracts_ = peers.cooling_contracts(self.host.stand)
        if not contracts_:
            return "no chiller on this stand"
        name, contract = next(iter(contracts_.items()))
        t0 = time.monotonic()
        status = self.host.chiller.fields() if self.host.chiller else {}
        for order, payload in contract.pending(contract.regulate, b.setpoint, 1, status):
            if order.after:

                def not_yet(states: tuple[str, ...] = order.after) -> list[str]:
                    st = self.host.chiller
                    now = st.fsm_state if st else "unknown"
                    return [] if now in states else [f"{name} is {now}"]

                left = max(1.0, b.timeout - (time.monotonic() - t0))
                if err := await self._until(not_yet, left, f"{name} {'/'.join(order.after)}"):
                    return f"chiller: {err}"
            if err := await self._ask(name, order.command, payload):
                return f"chiller: {err}"
        if not b.wait_stable:
            return ""
        # an unchanged status is republished every heartbeat
        beats = [sec.heartbeat for f in with_role(COOLING)
                 if (sec := self.host.stand.section(f.name)) is not None]  # fmt: skip
        max_age = max([30.0, *(3 * b for b in beats)])

        def bath() -> list[str]:
            st = self.host.chiller
            if st is None or st.ts is None or pl.now() - st.ts > max_age:
                return ["no fresh chiller status"]
            reached = st.number(contract.reading)
            if reached is None or abs(reached - b.setpoint) > b.tolerance:
                return [f"{contract.reading} at {reached} °C, set-point {b.setpoint:g} °C"]
            return []

        if err := await self._until(bath, b.timeout, f"chiller at {b.setpoint:g} °C"):
            return err
        cfg = self.host.cfg.stable  # not yet scaled
        for_s = self.host.window(b.stable_for if b.stable_for is not None else cfg.for_s)
        stable = Stable(sensors=cfg.sensors, band=b.band or cfg.band, for_s=for_s)
        self.host.keep_temperatures(for_s)
        sensors = self.host.stability_sensors()
        return await self._until(
            lambda: preconditions.stability_problems(self.host.ready, sensors, stable, pl.now()),
            max(1.0, b.timeout - (time.monotonic() - t0)), "cold box stable")  # fmt: skip

    async def _sub_run(self, seq: Sequence, step: Planned, rec: dict[str, Any]) -> str:
        b: Any = step.body
        operator = seq.doc["operator"]
        note = f"sequence {seq.id} step {step.index + 1}"
        modules = list(seq.modules)
        if step.kind == "iv":
            fields = b.model_dump(exclude={"on_failure", "label"})
            req = IvRequest.model_validate({**fields, "modules": b.modules or modules,
                                            "note": b.note or note})  # fmt: skip
            run = await self.host.open_iv(req, operator, seq.id)
        else:
            from trackerdcs.runs.service import Start

            run = await self.host.open_calibration(
                Start(calibration=b.tag, modules=modules, config=b.config, mode=b.mode,
                      note=note), operator, seq.id)  # fmt: skip
        seq.sub = run
        rec["runs"].append(run.doc["id"])
        self.host.store.save(seq.doc)
        assert run.task is not None
        await asyncio.shield(run.task)
        doc = self.host.store.get(run.doc["id"]) or run.doc
        if step.kind == "iv":
            rec["result"] = {c["module"]: c["status"] for c in doc.get("curves", {}).values()}
        if doc["status"] != "done":
            return f"{'IV scan' if step.kind == 'iv' else 'run'} {doc['id']} {doc['status']}: " \
                   f"{doc.get('reason', '')}"  # fmt: skip
        return ""

    # -- end ----------------------------------------------------------------------------------
    async def _end(self, seq: Sequence, status: str, reason: str) -> None:
        if status != "done" and seq.recipe.at_end_of_failure == "power_off":
            seq.doc["end_actions"] = await self._power_off(seq)
        seq.doc.update(status=status, reason=reason, end=pl.now())
        seq.record(status, reason or "all steps done")
        self.host.store.save(seq.doc)
        self.log.log(logging.INFO if status == "done" else logging.WARNING, "sequence %s %s%s",
                     seq.id, status, f": {reason}" if reason else "")  # fmt: skip
        seq.state = status
        self.last = self._status(seq)
        self.current = None
        self.publish()
        self.host.publish_state(f"run/{seq.id}", self.host.summary(seq.doc))
        self._notify(seq, status, reason)

    async def _power_off(self, seq: Sequence) -> list[str]:
        """HV off, read back, then LV off: the modules safe whatever the sequence did."""
        out = []
        err = await self._hv_off(seq, END_TIMEOUT)
        out.append(f"HV off: {err or 'done'}")
        err = await self._lv_off(seq, END_TIMEOUT)
        out.append(f"LV off: {err or 'done'}")
        self.log.warning("sequence %s ends with the modules off: %s", seq.id, "; ".join(out))
        return out

    def _notify(self, seq: Sequence, status: str, reason: str) -> None:
        if self.notifier is None:
            return
        done = sum(1 for s in seq.doc["steps"] if s["status"] == "done")
        text = (f"Sequence {seq.id} ({seq.recipe.name}) {status}"
                + (f": {reason}" if reason else "") + f"\n{done} of {len(seq.steps)} steps done"
                + "\nModules: " + ", ".join(seq.modules.values()) + "\n")  # fmt: skip
        self.notifier.notice(f"sequence {seq.id}", f"sequence {seq.id} {status}: "
                             f"{seq.recipe.name}", text,
                             {"sequence": self.host.summary(seq.doc)})  # fmt: skip

    # -- operator commands --------------------------------------------------------------------
    def _live(self) -> Sequence:
        if self.current is None:
            raise Refused("no sequence")
        return self.current

    def pause(self) -> Sequence:
        seq = self._live()
        if seq.state not in ("running", "pausing"):
            raise Refused(f"sequence {seq.id} is {seq.state}")
        seq.pause = True
        seq.resumed.clear()
        seq.state = "pausing"
        seq.record("pause", f"requested during step {seq.index + 1} ({seq.steps[seq.index].label})")
        self.host.store.save(seq.doc)
        self.publish()
        return seq

    def abort(self, reason: str) -> Sequence:
        seq = self._live()
        if seq.state == "interrupted":
            seq.abort_reason = reason
            seq.state = "aborting"
            seq.record("abort", reason)
            seq.task = self.host.spawn(self._end(seq, "aborted", reason), f"sequence-{seq.id}")
            return seq
        if seq.abort_reason:
            return seq
        seq.abort_reason = reason
        seq.state = "aborting"
        seq.record("abort", reason)
        seq.resumed.set()  # a paused sequence wakes up to end
        if seq.sub is not None and seq.sub.task is not None and not seq.sub.task.done():
            # an IV scan or calibration stops by itself (ramping down); bounded
            self.host.stop_run(reason)
            self.host.spawn(self._cancel_later(seq), "sequence-abort-grace")
        elif seq.step_task is not None:
            seq.step_task.cancel()
        self.publish()
        return seq

    async def _cancel_later(self, seq: Sequence) -> None:
        task = seq.step_task
        await asyncio.sleep(SUB_RUN_GRACE)
        if task is not None and not task.done():
            task.cancel()

    def resume(self, operator: str, from_step: int | None) -> dict[str, Any]:
        seq = self._live()
        if seq.state in ("pausing", "paused"):
            seq.pause = False
            if seq.state == "paused":
                seq.state = seq.doc["status"] = "running"
            else:
                seq.state = "running"
            seq.record("resumed", f"by {operator or 'bus'}")
            self.host.store.save(seq.doc)
            seq.resumed.set()
            self.publish()
            return {"id": seq.id, "state": seq.state, "step": seq.index + 1}
        if seq.state != "interrupted":
            raise Refused(f"sequence {seq.id} is {seq.state}")
        return self._resume_interrupted(seq, operator, from_step)

    def _resume_interrupted(
        self, seq: Sequence, operator: str, from_step: int | None
    ) -> dict[str, Any]:
        if self.host.recovering:
            raise Refused("runs interrupted with the service are still being recovered "
                          f"({', '.join(map(str, sorted(self.host.recovering)))}); try again "
                          "when they are recorded")  # fmt: skip
        if self.host.active is not None:
            raise Refused(f"run {self.host.active.doc['id']} is {self.host.active.state}")
        pos = seq.doc["position"]
        at = pos["index"] + (1 if pos["at"] == "after" else 0)
        how = "interrupted step re-run"
        if from_step is not None:
            if not 1 <= from_step <= len(seq.steps):
                raise Refused(f"step must be 1..{len(seq.steps)}")
            at, how = from_step - 1, f"from step {from_step} as asked"
        elif at < len(seq.steps) and seq.doc["steps"][at]["status"] == "interrupted":
            policy = recipe.RESUME[seq.steps[at].kind]
            if policy == "rerun_unless_done" and self._sub_run_done(seq.doc["steps"][at]):
                why = "completed while the runs service was down (recorded from Ph2_ACF's log)"
                seq.doc["steps"][at].update(status="done", reason=why)
                at += 1
                how = "interrupted calibration had completed: next step"
        if problems := self._power_mismatch(seq, at):
            raise Refused(f"cannot resume at step {at + 1}: " + "; ".join(problems)
                          + " (switched while the sequencer was down?). Resume from an earlier "
                          "step ({\"from_step\": N}) or abort")  # fmt: skip
        seq.state = seq.doc["status"] = "running"
        seq.record("resumed", f"by {operator or 'bus'} at step {at + 1}: {how}")
        self.host.store.save(seq.doc)
        seq.task = self.host.spawn(self._execute(seq, at), f"sequence-{seq.id}")
        self.publish()
        return {"id": seq.id, "state": "running", "step": at + 1, "how": how}

    def _sub_run_done(self, rec: dict[str, Any]) -> bool:
        if not rec.get("runs"):
            return False
        doc = self.host.store.get(rec["runs"][-1])
        return doc is not None and doc.get("status") == "done"

    def _power_mismatch(self, seq: Sequence, at: int) -> list[str]:
        """The recipe's power state before step `at` against the read-back now."""
        want = recipe.power_before(seq.steps, at)
        out = []
        for cid, m in seq.modules.items():
            ch = self.host.ready.channels.get(cid)
            if ch is None or not ch.get("connected"):
                out.append(f"{m}: power state unknown")
                continue
            state = str(ch.get("fsm_state"))
            lv_on = state in ("LV_ON", "HV_RAMP", "HV_ON")
            hv_on = state in ("HV_RAMP", "HV_ON")
            if want["lv"] is not None and want["lv"] != lv_on:
                out.append(f"{m} is {state} but the recipe had LV {'on' if want['lv'] else 'off'}")
            elif want["hv"] is not None and want["hv"] != hv_on:
                out.append(f"{m} is {state} but the recipe had HV {'on' if want['hv'] else 'off'}")
        return out

    # -- after a restart ----------------------------------------------------------------------
    def recover(self, doc: dict[str, Any]) -> None:
        """A sequence this service was running when it stopped: report it, wait for an operator."""
        try:
            rec = recipe.parse(doc["recipe"]["text"], doc["recipe"]["file"])
        except (ConfigError, KeyError) as exc:
            doc.update(status="failed", end=pl.now(), reason=f"cannot recover: {exc}")
            self.host.store.save(doc)
            return
        steps = recipe.plan(rec)
        pos = doc.get("position") or {"index": 0, "at": "before"}
        i = pos["index"]
        label = steps[i].label if i < len(steps) else "end"
        if doc["status"] != "interrupted":
            where = "during" if pos["at"] == "before" else "after"
            for r in doc["steps"]:
                if r["status"] == "running":
                    r.update(status="interrupted", end=pl.now(),
                             reason="the runs service stopped during this step")  # fmt: skip
            doc["status"] = "interrupted"
            doc["reason"] = f"the runs service stopped {where} step {i + 1} ({label})"
            doc.setdefault("events", []).append({"ts": pl.now(), "event": "interrupted",
                                                 "detail": doc["reason"]})  # fmt: skip
            self.host.store.save(doc)
        modules = {m["channel"]: m["module"] for m in doc["modules"]}
        seq = Sequence(doc, rec, steps, modules, state="interrupted", index=i)
        self.current = seq
        self.log.error("sequence %s interrupted: %s; waiting for resume or abort", doc["id"],
                       doc["reason"])  # fmt: skip
        if self.notifier is not None:
            self.notifier.notice(f"sequence {seq.id}", f"sequence {seq.id} interrupted: "
                                 f"{rec.name}", doc["reason"] + "\n",
                                 {"sequence": self.host.summary(doc)})  # fmt: skip
        self.publish()

    # -- status -------------------------------------------------------------------------------
    def _status(self, seq: Sequence) -> dict[str, Any]:
        i = min(seq.index, len(seq.steps) - 1)
        step = seq.steps[i]
        recs = seq.doc["steps"]
        known, eta = True, 0.0
        if seq.state in LIVE:
            for s in seq.steps[i:]:
                est = recipe.estimate(s, self.host.calibration_estimate(s))
                if est is None:
                    known = False
                else:
                    eta += est / self.scale
            if seq.remaining is not None and step.kind == "wait":
                eta -= step.body.seconds / self.scale - seq.remaining  # type: ignore[attr-defined]
        return {
            "state": seq.state, "id": seq.id, "name": seq.recipe.name,
            "index": i, "step_no": i + 1, "total": len(seq.steps), "step": step.label,
            "kind": step.kind, "path": step.path, "cycle": recipe.cycle_text(step.cycle),
            "elapsed": round(pl.now() - seq.doc["start"], 1),
            "step_elapsed": round(time.monotonic() - seq.step_started, 1)
            if seq.state in LIVE else None,
            "remaining_in_step": round(seq.remaining, 1) if seq.remaining is not None else None,
            "eta": round(max(0.0, eta), 1) if seq.state in LIVE else None,
            "eta_complete": known,
            "done_steps": sum(1 for r in recs if r["status"] == "done"),
            "failed_steps": sum(1 for r in recs if r["status"] == "failed"),
            "reason": seq.abort_reason or seq.doc.get("reason", ""),
            "modules": list(seq.modules.values()),
            "sub_run": seq.sub.doc["id"] if seq.sub is not None else None,
        }  # fmt: skip

    def status(self) -> dict[str, Any]:
        if self.current is not None:
            return self._status(self.current)
        return self.last or {"state": "idle", "id": None}

    def publish(self) -> None:
        self.pub.offer(self.status())

    def close(self) -> None:
        if self.notifier is not None:
            self.notifier.close()

    async def stop(self) -> None:
        """The service stops: the sequence stays as it is, reported interrupted next start."""
        seq = self.current
        if seq is not None and seq.task is not None:
            seq.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await seq.task
