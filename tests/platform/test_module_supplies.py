"""Issue 27: every module named in a stand file has one LV supply and one HV supply. A typo in
a module's name (an HMP output, a switchbox relay) made two half modules that `check` let
through: HV up on the CAEN with every HMP output off. Now `check`, and every service that
loads the file, refuses it with file:line:key and the closest names; at run time HV on is
refused for a module whose LV supply has not been heard from."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.hmp.stands import hv_caen_and_hmp
from trackerdcs.config import ConfigError, load_stand
from trackerdcs.testing.probe import Probe
from trackerdcs.testing.processes import StandProcesses

EXAMPLES = Path(__file__).parents[2] / "examples"
LYON = (EXAMPLES / "lyon.yaml").read_text()


def _check(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "trackerdcs", "check", str(path)],
                          capture_output=True, text=True, timeout=60)  # fmt: skip


def _line(text: str, needle: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if needle in line)


def test_a_typo_in_an_hmp_outputs_module_fails_check_with_the_name_it_meant(
    tmp_path: Path,
) -> None:
    text = LYON.replace(
        "4: {module: PS_26_05-IPG_00104, voltage", "4: {module: PS_26_05-IPG_0104, voltage"
    )
    assert text != LYON
    path = tmp_path / "lyon.yaml"
    path.write_text(text)
    r = _check(path)
    assert r.returncode == 1 and "OK" not in r.stdout, r.stdout
    hmp = _line(text, "IPG_0104,")
    caen = _line(text, "4: {module: PS_26_05-IPG_00104, hv:")
    # the half with HV has no LV: the dangerous one, named where it is said
    assert (f"{path}:{caen}: caen.channels.4.module: module PS_26_05-IPG_00104 (CAEN channel 4, "
            "its HV) has no LV supply (HV on would be refused for it); did you mean "
            "PS_26_05-IPG_0104") in r.stderr, r.stderr  # fmt: skip
    assert (f"{path}:{hmp}: hmp.channels.4.module: module PS_26_05-IPG_0104 (HMP output 4, "
            "its LV) has no HV supply; did you mean PS_26_05-IPG_00104") in r.stderr  # fmt: skip
    assert "2 problem(s)" in r.stderr
    # no service starts on it either: every one loads the file the same way
    with pytest.raises(ConfigError):
        load_stand(path)


def test_a_typo_in_a_switchbox_relays_module_fails_check(tmp_path: Path) -> None:
    text = LYON.replace("4: {module: PS_26_05-IPG_00104}", "4: {module: PS_26_05-IPG_00140}")
    assert text != LYON
    path = tmp_path / "lyon.yaml"
    path.write_text(text)
    r = _check(path)
    line = _line(text, "IPG_00140")
    assert r.returncode == 1, r.stdout
    assert (f"{path}:{line}: switchbox.channels.4.module: module PS_26_05-IPG_00140 (switchbox "
            "relay 4, a switch in its LV line) has no LV and no HV supply; did you mean "
            "PS_26_05-IPG_00104") in r.stderr, r.stderr  # fmt: skip


def test_a_module_with_lv_from_two_supplies_or_hv_without_lv_is_refused(tmp_path: Path) -> None:
    # LV on the mainframe's channel and on an HMP output: which one is switched?
    two = hv_caen_and_hmp(1, "p1").replace(
        "{module: M1, hv:", "{module: M1, lv: {board: 0, chan: 0}, hv:"
    )
    path = tmp_path / "two.yaml"
    path.write_text(two)
    with pytest.raises(ConfigError) as err:
        load_stand(path)
    assert ("hmp.channels.1.module: module M1 has its LV from 2 supplies (CAEN channel 1, HMP "
            "output 1)") in str(err.value), err.value  # fmt: skip
    # a CAEN channel without LV whose module no other section powers
    alone = hv_caen_and_hmp(1, "p2").split("hmp:")[0]
    path.write_text(alone)
    with pytest.raises(ConfigError) as err:
        load_stand(path)
    assert "module M1 (CAEN channel 1, its HV) has no LV supply" in str(err.value)


def test_an_lv_bench_and_the_shipped_stands_pass(tmp_path: Path) -> None:
    """A stand with no HV supply at all (LV tests on an HMP) needs no HV per module; every
    shipped stand is whole."""
    bench = "hmp:\n  simulate: true\n  channels:\n    1: {module: M1, voltage: 10.5}\n"
    path = tmp_path / "bench.yaml"
    path.write_text(bench)
    assert load_stand(path).hmp.channels[1].module == "M1"
    for name in ("demo.yaml", "lyon.yaml", "coldroom.yaml", "stand.yaml"):
        r = _check(EXAMPLES / name)
        assert r.returncode == 0 and ": OK" in r.stdout, (name, r.stderr)


def test_hv_on_is_refused_while_the_modules_lv_supply_was_never_heard_from(
    write_stand, own_mosquitto, tmp_path: Path
) -> None:
    """The HMP's service not running (its supply simulated, on): the CAEN does not know the
    module's LV, so HV stays off and the operator is told whose word is missing."""
    body = hv_caen_and_hmp(1, f"n{uuid.uuid4().hex[:5]}")
    path, stand = write_stand(body, broker=own_mosquitto)
    procs = StandProcesses(path, stand, tmp_path)
    names = [n for n, s in procs.specs.items() if not (s.kind == "service" and n == "hmp")]
    assert len(names) == len(procs.specs) - 1, procs.specs  # only the HMP's service is left out
    with procs.start(*names), Probe(stand.bus) as p:
        # the mainframe read: the channel's HV side is there, its LV is nobody's word
        p.wait_json("dcs/channel/1", lambda s: isinstance(s.get("hv_vMon"), float), 60)
        r = p.command("dcs", "switch/hv/1", "on")
        assert r["refused"] and "LV of M1 unknown (hmp4040: not heard from)" in r["error"], r
        m = p.mark()
        p.wait_json("dcs/channel/1", lambda s: True, 10, m)
        assert p.latest["dcs/channel/1"].json()["hv_vMon"] < 1.0  # its HV stayed down
