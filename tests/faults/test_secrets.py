"""Issue 11, secrets: test passwords were shipped inside the package (trackerdcs.testing),
and password files were read without a look at who else can read them."""

from __future__ import annotations

import logging
import stat
from pathlib import Path

import pytest

from trackerdcs.config.bus import BusConfig
from trackerdcs.testing.influx import Influx
from trackerdcs.testing.mosquitto import Mosquitto


def test_test_brokers_and_historians_get_fresh_passwords(tmp_path: Path) -> None:
    a, b = Mosquitto(tmp_path / "a"), Mosquitto(tmp_path / "b")
    assert a.password != b.password and len(a.password) >= 16
    assert stat.S_IMODE(a.password_file.stat().st_mode) == 0o600
    assert Influx(tmp_path / "c").password != Influx(tmp_path / "d").password


def test_a_password_file_others_can_read_is_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    secret = tmp_path / "mqtt-password"
    secret.write_text("s3cret\n")
    secret.chmod(0o644)
    with caplog.at_level(logging.WARNING, logger="trackerdcs.config"):
        assert BusConfig(username="dcs", password_file=secret).password() == "s3cret"
    assert "can be read by other users" in caplog.text and "chmod 600" in caplog.text
    caplog.clear()
    secret.chmod(0o600)
    with caplog.at_level(logging.WARNING, logger="trackerdcs.config"):
        BusConfig(username="dcs", password_file=secret).password()
    assert caplog.text == ""
