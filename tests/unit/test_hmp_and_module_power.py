"""The HMP's SCPI as the instrument reads it (the simulator's parser and our answers'
parsers), and the word of other supplies on a module's power: stale, offline, never heard
and late words are unknown or ignored, never "off"."""

from __future__ import annotations

import json

import pytest

from trackerdcs.core import payload as pl
from trackerdcs.core.bus import Message
from trackerdcs.hmp import protocol as p
from trackerdcs.hmp.config import HmpConfig
from trackerdcs.hmp.simulator import HmpInstrument, normalise
from trackerdcs.power.lv_supply import roll_up
from trackerdcs.power.modules import ModulePower


@pytest.mark.parametrize(
    ("header", "short"),
    [
        ("SOURce:VOLTage:PROTection:LEVel", "VOLT:PROT"),
        ("volt:prot:lev?", "VOLT:PROT?"),
        ("VOLTage:PROTection:TRIPped?", "VOLT:PROT:TRIP?"),
        ("INSTrument:NSELect", "INST:NSEL"),
        ("MEASure:SCALar:CURRent?", "MEAS:CURR?"),
        ("OUTPut:STATe", "OUTP"),
        ("SYSTem:ERRor?", "SYST:ERR?"),
    ],
)
def test_scpi_long_and_short_forms_are_one_command(header: str, short: str) -> None:
    assert normalise(header) == short


def test_the_instrument_refuses_with_its_error_texts_and_trips_its_ovp() -> None:
    hmp = HmpInstrument(HmpConfig(port=5025))
    assert hmp.handle("VOLT 40") is None  # beyond the HMP4040's 32 V
    assert p.parse_error(hmp.handle("SYST:ERR?") or "") == (-222, "Data out of range")
    assert hmp.handle("FOO:BAR 1") is None
    assert p.parse_error(hmp.handle("SYST:ERR?") or "") == (-113, "Undefined header")
    assert hmp.handle("SYST:ERR?") == '0,"No error"'
    for line in ("INST:NSEL 2", "VOLT 10.5", "CURR 2", "VOLT:PROT:LEV 11", "OUTP:SEL 1",
                 "OUTP:GEN 1"):  # fmt: skip
        hmp.handle(line)
    hmp.step(5.0)
    assert p.number(hmp.handle("MEAS:VOLT?") or "") == pytest.approx(10.5)
    assert p.number(hmp.handle("MEAS:CURR?") or "") == pytest.approx(1.5)
    hmp.handle("VOLT 12")  # above the OVP level: trips as the output rises
    hmp.step(5.0)
    assert p.flag(hmp.handle("VOLT:PROT:TRIP?") or "") is True
    assert hmp.handle("OUTP?") == "0" and p.number(hmp.handle("MEAS:VOLT?") or "") == 0.0
    hmp.handle("OUTP:SEL 1")  # a tripped output stays off until cleared
    assert hmp.handle("OUTP:SEL?") == "0"
    hmp.handle("VOLT:PROT:CLE")
    assert hmp.handle("VOLT:PROT:TRIP?") == "0"


def test_answers_and_states() -> None:
    assert p.parse_idn("Rohde&Schwarz,HMP4040,123456,HW50020001/SW2.51") == (
        "Rohde&Schwarz", "HMP4040")  # fmt: skip
    with pytest.raises(ValueError):
        p.number("nan")
    with pytest.raises(ValueError):
        p.flag("2")
    assert p.channel_state(True, True, True) == ("ERROR", "over-voltage protection tripped")
    assert p.channel_state(True, None, False)[0] == "DISCONNECTED"
    assert roll_up(["LV_ON", "LV_OFF"]) == "LV_MIX"
    assert roll_up(["LV_ON", "DISCONNECTED"]) == "DISCONNECTED"


def _word(service: str, ts: float, **modules: dict[str, str]) -> Message:
    return Message(f"{service}/modules", json.dumps({"modules": modules, "ts": ts}).encode())


def test_a_modules_word_is_unknown_when_old_offline_or_never_heard() -> None:
    mp = ModulePower(max_age=10.0, expected={("M2", "hv"): ("dcs",)})
    now = pl.now()
    mp.on_online(Message("dcs/online", b"true"))
    mp.on_modules(_word("dcs", now, M1={"hv": "on", "channel": "3"}))
    assert mp.side("M1", "hv")[0] == "on"
    assert mp.describe("M1", "hv") == "HV of M1 is on (dcs channel 3)"
    assert mp.side("M1", "lv") == (None, None)  # nobody supplies it: not unknown
    # expected by the stand file, never heard of: unknown
    assert mp.side("M2", "hv")[0] == "unknown"
    assert "not heard from" in mp.describe("M2", "hv")
    # a late (older) word does not overwrite the newer one
    mp.on_modules(_word("dcs", now - 5, M1={"hv": "off", "channel": "3"}))
    assert mp.side("M1", "hv")[0] == "on"
    # too old: unknown, and the change is announced by tick()
    before = mp.changed.value
    mp.on_modules(_word("dcs", now - 11, M1={"hv": "off", "channel": "3"}))
    mp.words[("dcs", "M1")].ts = now - 11
    mp.tick()
    assert mp.side("M1", "hv")[0] == "unknown" and mp.changed.value != before
    assert "silent for 11 s" in mp.describe("M1", "hv")
    mp.on_modules(_word("dcs", pl.now(), M1={"hv": "off", "channel": "3"}))
    assert mp.side("M1", "hv")[0] == "off"
    mp.on_online(Message("dcs/online", b"false"))
    assert mp.side("M1", "hv")[0] == "unknown" and "offline" in mp.describe("M1", "hv")
    mp.on_modules(Message("dcs/modules", b"{not json"))  # ignored, nothing breaks
    mp.on_modules(Message("dcs/modules", b'{"modules": {"M1": {"hv": "maybe"}}, "ts": 1}'))


def test_an_lv_through_two_supplies_is_on_only_when_both_say_on() -> None:
    mp = ModulePower(max_age=10.0, expected={("M1", "lv"): ("hmp", "SB")})
    for svc in ("hmp", "SB"):
        mp.on_online(Message(f"{svc}/online", b"true"))
    mp.on_modules(_word("hmp", pl.now(), M1={"lv": "on", "channel": "1"}))
    assert mp.side("M1", "lv")[0] == "unknown"  # the switchbox not heard from yet
    mp.on_modules(_word("SB", pl.now(), M1={"lv": "off", "channel": "3"}))
    state, word = mp.side("M1", "lv")
    assert state == "off" and word is not None and word.service == "SB"
    mp.on_modules(_word("SB", pl.now(), M1={"lv": "on", "channel": "3"}))
    assert mp.side("M1", "lv")[0] == "on"


def test_the_door_waits_on_hv_switching_services_only() -> None:
    """An LV-only supply in ERROR (an OVP trip) says nothing about HV: the cold-room door
    rule reads only the services that switch HV."""
    from pathlib import Path

    from trackerdcs.config import load_stand
    from trackerdcs.core import peers
    from trackerdcs.power.modules import hv_services

    stand = load_stand(Path(__file__).resolve().parents[2] / "examples" / "lyon.yaml")
    assert sorted(peers.power(stand)) == ["SB", "dcs", "hmp4040"]
    assert hv_services(stand) == ["dcs"]
