"""The stand file: examples validate, and every error names file, line and key."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from trackerdcs.config import ConfigError, load_stand

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("name", "cooling"), [("demo.yaml", "julabo"), ("stand.yaml", "julabo"),
                                               ("coldroom.yaml", "MARTA"),
                                               ("lyon.yaml", "julabo")])  # fmt: skip
def test_examples_are_valid(name: str, cooling: str) -> None:
    from trackerdcs.core import peers

    stand = load_stand(ROOT / "examples" / name)
    assert stand.caen is not None and peers.cooling(stand) == [cooling]


def test_demo_stand_has_four_modules_on_lv0_hv12() -> None:
    stand = load_stand(ROOT / "examples" / "demo.yaml")
    assert stand.caen is not None
    assert len(stand.caen.channels) == 4
    assert {c.lv.board for c in stand.caen.channels.values()} == {0}
    assert {c.hv.board for c in stand.caen.channels.values()} == {12}


def test_errors_name_file_line_and_key(tmp_path: Path) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text(
        "stand:\n  name: x\n"
        "bus:\n"
        "  port: seventeen\n"  # line 4
        "web:\n"
        "  prot: 8080\n"  # line 6: typo
    )
    with pytest.raises(ConfigError) as err:
        load_stand(f)
    text = str(err.value)
    assert f"{f}:4: bus.port:" in text
    assert f"{f}:6: web.prot: unknown key" in text


def test_yaml_syntax_error_names_line(tmp_path: Path) -> None:
    f = tmp_path / "broken.yaml"
    f.write_text("bus:\n  host: a\n   port: 3\n")
    with pytest.raises(ConfigError) as err:
        load_stand(f)
    assert f"{f}:3:" in str(err.value)


def test_missing_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read file"):
        load_stand(tmp_path / "nope.yaml")


def test_check_command_exit_codes(tmp_path: Path) -> None:
    good = subprocess.run(
        [sys.executable, "-m", "trackerdcs", "check", str(ROOT / "examples" / "demo.yaml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert good.returncode == 0, good.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("bus:\n  keepalive: -3\n")
    res = subprocess.run(
        [sys.executable, "-m", "trackerdcs", "check", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 1
    assert f"{bad}:2: bus.keepalive:" in res.stderr


def test_relative_paths_resolve_against_the_file(tmp_path: Path) -> None:
    f = tmp_path / "s.yaml"
    f.write_text("state_dir: data\n")
    stand = load_stand(f)
    assert stand.data_dir == tmp_path / "data"
    assert stand.data_dir.is_dir()


def test_configuration_reference_is_current() -> None:
    """docs/configuration.md is generated from the models; regenerate it when they change."""
    import contextlib
    import io
    from pathlib import Path

    from trackerdcs.config import reference

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        reference.main()
    doc = Path(__file__).parents[2] / "docs" / "configuration.md"
    assert out.getvalue() == doc.read_text(), (
        "run: python -m trackerdcs.config.reference > docs/configuration.md"
    )


def test_a_time_scale_speeds_up_simulators_and_is_refused_with_a_real_device(
    tmp_path: Path,
) -> None:
    sim = tmp_path / "sim.yaml"
    sim.write_text("stand: {name: s, time_scale: 60}\njulabo: {simulate: true}\n"
                   "sensors: {simulate: true, sensors: []}\n"
                   "safety: {chiller: {grace: 120}}\n")  # fmt: skip
    stand = load_stand(sim)
    assert stand.julabo.sim.time_scale == 60 and stand.sensors.sim.time_scale == 60
    # the chiller's bath warms 60 times faster: safety waits as much less before acting, but
    # never less than 10 s (its inputs arrive in real seconds)
    assert stand.safety.chiller.grace == 10.0
    sim.write_text(sim.read_text().replace("time_scale: 60", "time_scale: 10"))
    assert load_stand(sim).safety.chiller.grace == 12.0
    real = tmp_path / "real.yaml"
    real.write_text("stand: {name: s, time_scale: 60}\njulabo: {simulate: false}\n")
    with pytest.raises(ConfigError) as err:
        load_stand(real)
    assert "stand.time_scale: 60 speeds up simulators only, but julabo is not simulated" in str(
        err.value
    )


def test_check_warns_of_a_caen_watchdog_that_no_service_of_the_stand_feeds(
    tmp_path: Path,
) -> None:
    channel = "channels: {1: {module: M1, lv: {board: 0, chan: 0}, hv: {board: 1, chan: 0}}}"
    alone = tmp_path / "alone.yaml"
    alone.write_text(f"caen: {{simulate: true, {channel}}}\n")

    def check(path: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "trackerdcs", "check", str(path)],
                              capture_output=True, text=True, timeout=60)  # fmt: skip

    out = check(alone)
    assert out.returncode == 0, out.stderr  # valid: a warning, not an error
    assert "warning: caen.watchdog: waits for the safety heartbeat, but this stand runs no " \
           "safety service: 30 s after start" in out.stdout  # fmt: skip
    standalone = tmp_path / "standalone.yaml"
    standalone.write_text(f"caen: {{simulate: true, watchdog: {{timeout: null}}, {channel}}}\n")
    with_safety = tmp_path / "with_safety.yaml"
    with_safety.write_text(f"caen: {{simulate: true, {channel}}}\nsafety: {{}}\n")
    for path in (standalone, with_safety):
        assert "warning" not in check(path).stdout
