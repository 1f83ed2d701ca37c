"""The reference stack's channel map as labs have it (settings by property name, directly
under lv:/hv:, `[board, chan]` pairs): loaded unchanged, imported, and held to the limits
an operator's command is held to (issue 14)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from trackerdcs.config import ConfigError, load_stand

# the shape of the reference example.yml: property names, per-channel values beside
# board and channel, pairs for the hardware address
EXAMPLE = """\
caen:
  simulate: true
  prefix: cleanroom
  global:
    lv: {setV: 10.5, maxI: 3.0, tripTime: 1.0, tripInt: 0b00000001, rampUpTime: 1.0,
         rampDwnTime: 1.0, ovVThr: 12.0, unVThr: 8.0}
    hv: {setV: 300, maxI: 10, tripTime: 1.0, rampUpSpeed: 10, rampDwnSpeed: 20,
         tripMode: Ramp, imRange: Low}
  channels:
    0:
      module: PS_26_05-IPG_00101
      lv: {board: 0, channel: 0, setV: 11.0}
      hv: {board: 12, channel: 0, setV: 250}
    1:
      module: PS_26_05-IPG_00102
      lv: [0, 1]
      hv: [12, 1]
"""


def test_the_reference_channel_map_loads_unchanged(tmp_path: Path) -> None:
    f = tmp_path / "example.yml"
    f.write_text(EXAMPLE)
    caen = load_stand(f).caen
    assert caen.settings(0, "lv") == {"V0Set": 11.0, "I0Set": 3.0, "Trip": 1.0, "TripInt": 1,
                                      "RUpTime": 1.0, "RDwTime": 1.0, "OVVThr": 12.0,
                                      "UNVThr": 8.0}  # fmt: skip
    assert caen.settings(0, "hv")["V0Set"] == 250 and caen.settings(1, "hv")["RUp"] == 10
    assert caen.settings(1, "hv")["PDwn"] == "Ramp"
    assert (caen.channels[1].lv.board, caen.channels[1].lv.chan) == (0, 1)


def test_import_prints_a_section_that_passes_check(tmp_path: Path) -> None:
    f = tmp_path / "example.yml"
    f.write_text(EXAMPLE)
    out = subprocess.run([sys.executable, "-m", "trackerdcs", "import", "caen", str(f)],
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "V0Set: 250.0" in out.stdout and "setV" not in out.stdout
    imported = tmp_path / "imported.yaml"
    imported.write_text(out.stdout)
    check = subprocess.run([sys.executable, "-m", "trackerdcs", "check", str(imported)],
                           capture_output=True, text=True, timeout=60)  # fmt: skip
    assert check.returncode == 0, check.stderr
    assert load_stand(imported).caen.settings(0, "hv") == load_stand(f).caen.settings(0, "hv")


@pytest.mark.parametrize(
    ("change", "where"),
    [
        # an operator's `setv/lv 13` is refused by the 12.5 V limit: so is the file's
        (("setV: 11.0}", "setV: 13}"), "example.yml:12: caen.channels.0.lv.settings.setV: "
         "V0Set 13 V is beyond channel 0's limit of 12.5 V"),
        (("hv: {setV: 300,", "hv: {setV: 900,"), "example.yml:7: caen.global.hv.V0Set: V0Set "
         "900 V is beyond the limit of 800 V (channels 1)"),
        (("maxI: 3.0,", "maxI: 7.0,"), "caen.global.lv.I0Set: I0Set 7 A is beyond the limit "
         "of 5 A (channels 0, 1)"),
        (("setV: 11.0}", "stV: 11.0}"), "example.yml:12: caen.channels.0.lv.settings.stV: "
         "unknown LV setting 'stV'"),
    ],
)  # fmt: skip
def test_a_setting_beyond_the_limits_fails_check_with_file_line_and_key(
    tmp_path: Path, change: tuple[str, str], where: str
) -> None:
    f = tmp_path / "example.yml"
    f.write_text(EXAMPLE.replace(*change))
    with pytest.raises(ConfigError) as err:
        load_stand(f)
    assert where in str(err.value)
