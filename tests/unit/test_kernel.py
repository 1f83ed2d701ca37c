"""The kernel's pure logic, without any server: these run in well under a second."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from trackerdcs.caen.protocol import ON, RAMP_DOWN, channel_state, stand_state
from trackerdcs.core import contracts
from trackerdcs.core.alarms import AlarmTable
from trackerdcs.core.bus import Message
from trackerdcs.core.commands import (
    BadCommand,
    Command,
    CommandRouter,
    Number,
    Refused,
    catalogue,
    command,
    required_role,
)
from trackerdcs.core.publisher import moved
from trackerdcs.core.registry import COOLING, ENVIRONMENT, POWER, families
from trackerdcs.core.signal import Signal, wait_for
from trackerdcs.safety.config import ChillerRule, DewpointRule, ServicesRule, StaleRule
from trackerdcs.safety.levels import ACTION, OK, WARNING, grade
from trackerdcs.safety.rules import Chiller, Dewpoint, Services, Stale, View

OVC = 1 << 3


@pytest.mark.parametrize(
    ("connected", "lv", "hv", "volts", "state"),
    [
        (False, ON, ON, 300.0, "DISCONNECTED"),
        (True, 0, 0, 0.0, "LV_OFF"),
        (True, ON, 0, 0.0, "LV_ON"),
        (True, ON, ON, 300.0, "HV_ON"),
        (True, ON, ON | RAMP_DOWN, 150.0, "HV_RAMP"),
        (True, ON, 0, 150.0, "HV_RAMP"),  # switched off, still ramping down
        (True, 0, ON, 0.0, "ERROR"),  # HV on with LV off
        (True, 0, 0, 40.0, "ERROR"),  # HV up with LV off
        (True, ON, ON | OVC, 300.0, "ERROR"),
    ],
)
def test_channel_state_follows_read_back(connected, lv, hv, volts, state) -> None:
    assert channel_state(connected, lv, hv, volts, 5.0)[0] == state


def test_channel_error_names_the_bits() -> None:
    assert channel_state(True, ON, ON | OVC, 300.0, 5.0)[1] == "HV: over-current"


@pytest.mark.parametrize(
    ("states", "stand"),
    [
        ([], "INIT"),
        (["LV_ON", "LV_ON"], "LV_ON"),
        (["LV_ON", "LV_OFF"], "LV_MIX"),
        (["HV_ON", "LV_ON"], "HV_MIX"),
        (["HV_ON", "HV_RAMP"], "HV_RAMP"),
        (["HV_ON", "DISCONNECTED"], "DISCONNECTED"),
        (["HV_ON", "ERROR", "DISCONNECTED"], "ERROR"),
    ],
)
def test_stand_roll_up(states, stand) -> None:
    assert stand_state(states) == stand


def test_grade_with_hysteresis_in_both_directions() -> None:
    # low margin is bad: warning 5, action 3, hysteresis 1
    assert grade(OK, 6.0, 5, 3, 1, True) == OK
    assert grade(OK, 4.0, 5, 3, 1, True) == WARNING
    assert grade(WARNING, 2.9, 5, 3, 1, True) == ACTION
    assert grade(ACTION, 3.5, 5, 3, 1, True) == ACTION  # not yet 3 + 1
    assert grade(ACTION, 4.0, 5, 3, 1, True) == WARNING
    assert grade(WARNING, 5.5, 5, 3, 1, True) == WARNING
    assert grade(WARNING, 6.0, 5, 3, 1, True) == OK
    # high temperature is bad: warning 35, action 40
    assert grade(OK, 41.0, 35, 40, 1, False) == ACTION
    assert grade(ACTION, 39.5, 35, 40, 1, False) == ACTION
    assert grade(ACTION, 38.9, 35, 40, 1, False) == WARNING


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def table() -> tuple[AlarmTable, list[dict], Clock]:
    out: list[dict] = []
    clock = Clock()
    return AlarmTable("svc", lambda a: out.append(a.payload()), clock), out, clock


def test_alarm_latches_until_condition_ok_and_acknowledged_in_either_order() -> None:
    t, out, _ = table()
    t.raise_("x", "MINOR", "a")
    t.raise_("x", "MAJOR", "b")
    t.clear("x")
    assert out[-1]["severity"] == "MAJOR" and not out[-1]["active"]  # latched
    t.ack("x")
    assert out[-1]["severity"] == "OK" and out[-1]["acknowledged"]
    # the other order: acknowledged while active, then clears
    t.raise_("x", "MAJOR", "c")
    t.ack("x")
    assert out[-1]["severity"] == "MAJOR" and out[-1]["acknowledged"]
    t.clear("x")
    assert out[-1]["severity"] == "OK"


def test_alarm_lower_severity_after_ack_follows_condition() -> None:
    t, out, _ = table()
    t.raise_("x", "MAJOR", "m")
    t.ack("x")
    t.raise_("x", "MINOR", "n")
    assert out[-1]["current"] == "MINOR" and out[-1]["acknowledged"]


def test_alarm_number_only_message_changes_are_rate_limited() -> None:
    t, out, clock = table()
    t.raise_("x", "MINOR", "margin 4.1 K")
    t.raise_("x", "MINOR", "margin 4.0 K")
    assert len(out) == 1
    clock.t += 6
    t.raise_("x", "MINOR", "margin 3.9 K")
    assert len(out) == 2 and out[-1]["message"] == "margin 3.9 K"


def test_alarm_shelf_expires_and_unknown_alarm_is_a_clear_error() -> None:
    t, out, clock = table()
    t.raise_("x", "MAJOR", "m")
    t.shelve("x", 60)
    assert out[-1]["shelved_until"] == clock.t + 60
    clock.t += 61
    t.expire_shelves()
    assert out[-1]["shelved_until"] is None
    with pytest.raises(BadCommand, match="no alarm 'y'"):
        t.ack("y")


def test_alarm_state_is_restored_from_its_file_and_a_corrupt_file_is_not_fatal(
    tmp_path: Path,
) -> None:
    store = tmp_path / "alarms" / "dcs.json"
    first = AlarmTable("dcs", lambda a: None, store=store)
    first.raise_("dcs.watchdog", "MAJOR", "watchdog safe-off")
    first.clear("dcs.watchdog")  # condition gone, not acknowledged: stays latched
    again = AlarmTable("dcs", lambda a: None, store=store)
    assert again.table["dcs.watchdog"].severity == "MAJOR"
    assert again.ack("dcs.watchdog").severity == "OK"
    store.write_text("{not json")
    assert AlarmTable("dcs", lambda a: None, store=store).table == {}


def test_deadbands_hide_noise_but_not_state_changes() -> None:
    bands = {"hv_vMon": 0.5}
    old = {"hv_vMon": 300.0, "fsm_state": "HV_ON", "ts": 1.0}
    assert not moved({"hv_vMon": 300.3, "fsm_state": "HV_ON", "ts": 2.0}, old, bands)
    assert moved({"hv_vMon": 300.6, "fsm_state": "HV_ON", "ts": 2.0}, old, bands)
    assert moved({"hv_vMon": 300.0, "fsm_state": "HV_RAMP", "ts": 2.0}, old, bands)
    assert moved({"hv_vMon": 300.0}, {}, bands)


def test_signal_keeps_only_finite_readings_with_their_own_time() -> None:
    s: Signal[float] = Signal("t", "°C")
    assert s.update(21.5, ts=100.0)
    assert not s.update(float("nan"), ts=200.0)  # no reading: value and time stay
    assert (s.value, s.ts, s.rejected) == (21.5, 100.0, 1)
    s.invalidate()
    assert s.value is None and s.ts is None


def test_wait_for_wakes_on_change_and_times_out() -> None:
    async def scenario() -> tuple[bool, bool]:
        s: Signal[float] = Signal("v")
        asyncio.get_running_loop().call_later(0.01, s.update, 3.0)
        hit = await wait_for(s, lambda: s.value == 3.0, timeout=2)
        miss = await wait_for(s, lambda: s.value == 4.0, timeout=0.05)
        return hit, miss

    assert asyncio.run(scenario()) == (True, False)


def test_wait_for_sees_a_change_that_lands_before_it_first_sleeps() -> None:
    """Found by the interlock benchmark: a safe-off waited 120 s for a ramp-down that had
    already happened, because its waiters registered one loop turn too late."""

    async def scenario() -> bool:
        s: Signal[float] = Signal("v")
        checks: list[int] = []

        def reached() -> bool:
            if not checks:  # the change lands in the very next loop turn
                asyncio.get_running_loop().call_soon(s.update, 3.0)
            checks.append(1)
            return s.value == 3.0

        # the bug waited out the whole timeout (60 s here); the guard bounds the test
        return await asyncio.wait_for(wait_for(s, reached, timeout=60), 10)

    assert asyncio.run(scenario()) is True


def view(**readings: contracts.Reading) -> View:
    return View(now=1000.0, uptime=100.0, kinds={"box": "coldbox", "lab": "ambient"},
                readings=readings, stale_after=30.0)  # fmt: skip


def test_dewpoint_rule_grades_the_margin_and_warns_when_unknown() -> None:
    rule = Dewpoint(DewpointRule())
    box = contracts.Reading(temperature=-10.0, dewpoint=-14.0, ts=999.0)
    [v] = rule.evaluate(view(box=box), {})
    assert (v.state, v.value) == (WARNING, 4.0)
    [v] = rule.evaluate(view(), {})
    assert v.state == WARNING and "margin unknown" in v.message


def test_stale_rule_uses_the_reading_time() -> None:
    rule = Stale(StaleRule(warning=15, action=30))
    states = {v.key: v.state for v in rule.evaluate(
        view(box=contracts.Reading(temperature=1.0, ts=960.0),
             lab=contracts.Reading(temperature=20.0, ts=995.0)), {})}  # fmt: skip
    assert states == {"stale.box": ACTION, "stale.lab": OK}


def test_reading_contract_turns_non_finite_into_no_value() -> None:
    r = contracts.parse(contracts.Reading, b'{"temperature": NaN, "ts": 5}')
    assert r is not None and r.temperature is None
    assert contracts.parse(contracts.Reading, b"[1, 2") is None


def test_families_register_themselves_with_roles() -> None:
    fams = families()
    assert {"caen", "julabo", "sensors", "safety", "recorder", "web"} <= set(fams)
    assert POWER in fams["caen"].roles and COOLING in fams["julabo"].roles
    assert ENVIRONMENT in fams["sensors"].roles
    assert fams["caen"].topic_root == "dcs"


class _Owner:
    def __init__(self) -> None:
        self.order: list[str] = []

    def _no_on_friday(self, cmd: Command) -> None:
        if cmd.value == "friday":
            raise Refused("not on a friday")

    @command("set/+", Number, role="expert", guard=_no_on_friday)
    def set(self, cmd: Command, body: Number) -> float:
        self.order.append(f"set/{cmd.args[0]}")
        return body.value

    @command("go", guard=_no_on_friday)
    def go(self, cmd: Command) -> str:
        self.order.append(f"go:{cmd.user}")
        return "gone"


def _router(first_from: frozenset[str] = frozenset()) -> tuple[CommandRouter, list[dict]]:
    sent: list[dict] = []
    return CommandRouter("svc", lambda t, r: sent.append(r), _Owner(), first_from), sent


def test_router_validates_guards_and_replies_to_everything() -> None:
    async def scenario() -> list[dict]:
        router, _ = _router()
        return [await router.handle("set/a", b"2.5"), await router.handle("set/a", b"lots"),
                await router.handle("go", b'"friday"'), await router.handle("fly", b""),
                await router.handle("go", b'{"id": 7')]  # fmt: skip

    ok, bad, refused, unknown, malformed = asyncio.run(scenario())
    assert ok["ok"] and ok["result"] == 2.5
    assert not bad["ok"] and "must be a number" in bad["error"]
    assert refused["refused"] and refused["error"] == "not on a friday"
    assert "unknown command 'fly'" in unknown["error"] and "set/+" in unknown["error"]
    assert "malformed JSON" in malformed["error"]
    specs = catalogue(_Owner)
    assert required_role(specs, "set/b") == "expert" and required_role(specs, "go") == "operator"


def test_router_runs_safety_orders_first_and_ignores_retained_commands() -> None:
    async def scenario() -> tuple[list[str], list[dict]]:
        router, sent = _router(frozenset({"safety"}))
        router.on_message(Message("svc/cmd/go", b'{"user": "alice"}'))
        router.on_message(Message("svc/cmd/go", b'{"user": "safety"}'))
        router.on_message(Message("svc/cmd/go", b"", retain=True))
        serving = asyncio.ensure_future(router.serve())
        await asyncio.sleep(0.01)
        serving.cancel()
        return router.owner.order, sent  # type: ignore[attr-defined]

    order, sent = asyncio.run(scenario())
    assert order == ["go:safety", "go:alice"]
    assert "retained" in sent[0]["error"] and len(sent) == 3


def test_chiller_rule_waits_out_its_grace_only_while_modules_are_powered() -> None:
    rule = Chiller(ChillerRule(grace=120), ["julabo"])
    v = view()
    v.online = {"julabo": True, "dcs": True}
    v.cooling = {"julabo": contracts.ChillerStatus(fsm_state="OFF")}
    v.power = {"dcs": contracts.PowerStatus(channels={"1": "LV_OFF"})}
    assert rule.evaluate(v, {})[0].state == OK  # nothing powered: a stopped chiller is fine
    v.power["dcs"].channels["1"] = "LV_ON"
    assert rule.evaluate(v, {})[0].state == WARNING
    v.now += 121
    [verdict] = rule.evaluate(v, {})
    assert verdict.state == ACTION and "action after 120 s" in verdict.message


def test_services_rule_warns_at_once_and_acts_only_with_a_limit() -> None:
    warn_only = Services(ServicesRule(), ["julabo"])
    acting = Services(ServicesRule(action_after=30), ["julabo"])
    v = view()
    assert warn_only.evaluate(v, {})[0].state == WARNING
    assert acting.evaluate(v, {})[0].state == WARNING
    v.now += 31
    assert warn_only.evaluate(v, {})[0].state == WARNING
    assert acting.evaluate(v, {})[0].state == ACTION
    v.online["julabo"] = True
    assert acting.evaluate(v, {})[0].state == OK


def test_a_service_still_starting_is_not_offline_and_one_that_never_came_says_so() -> None:
    rule = Services(ServicesRule(startup=30), ["dcs", "julabo"])
    v = view()
    v.uptime = 5.0  # both started with safety; the CAEN's imports take a while
    v.online = {"julabo": True}
    v.ever_online = {"julabo"}
    verdicts = {x.key: x for x in rule.evaluate(v, {})}
    assert verdicts["service.dcs"].state == OK and "starting" in verdicts["service.dcs"].message
    v.online["julabo"] = False  # went away after it was up: at once
    assert {x.key: x.state for x in rule.evaluate(v, {})}["service.julabo"] == WARNING
    v.uptime = 31.0
    late = {x.key: x for x in rule.evaluate(v, {})}["service.dcs"]
    assert late.state == WARNING and "never came online" in late.message


def test_a_command_past_its_deadline_is_refused_not_run() -> None:
    async def scenario() -> tuple[dict, dict, list[str]]:
        router, _ = _router()
        late = await router.handle("go", f'{{"deadline": {time.time() - 3}}}'.encode())
        fresh = await router.handle("go", f'{{"deadline": {time.time() + 30}}}'.encode())
        return late, fresh, router.owner.order  # type: ignore[attr-defined]

    late, fresh, order = asyncio.run(scenario())
    assert late["refused"] and "expired" in late["error"]
    assert fresh["ok"] and order == ["go:None"]


def test_an_unread_power_state_counts_as_powered_only_after_the_start_up_window() -> None:
    v = view()
    v.online = {"dcs": True}
    v.power = {"dcs": contracts.PowerStatus(channels={"1": "INIT"})}
    v.uptime = 5.0  # the power service is still reading back its channels
    assert not v.powered()
    v.uptime = 11.0  # past stale_warning: unknown is not off
    assert v.powered()
    v.uptime = 5.0
    v.power["dcs"].channels["1"] = "LV_ON"  # known on is on at once
    assert v.powered()
