"""The MARTA register encoding and the reference FSM, without I/O."""

from __future__ import annotations

import math
import struct

import pytest

from trackerdcs.marta import protocol as p


def test_float32_is_big_endian_bytes_low_word_first() -> None:
    hi, lo = struct.unpack(">HH", struct.pack(">f", -20.5))
    assert p.encode_float(-20.5) == [lo, hi]  # the low word at the lower address
    assert p.decode_float(lo, hi) == -20.5
    block = [0] * 110
    block[134 - 100 : 136 - 100] = p.encode_float(-19.25)  # CO2_TT05, the supply
    block[140 - 100 : 142 - 100] = p.encode_float(math.nan)  # no reading: left out
    values = p.decode_block(100, block)
    assert values["CO2_TT05"] == -19.25 and "CO2_FT01" not in values
    assert p.READ_FLOATS[p.SUPPLY] == 134 and p.READ_FLOATS[p.RETURN] == 136


def test_alarm_bits_have_names_and_unknown_bits_say_where_they_are() -> None:
    assert p.alarms_of({302: 0b1, 300: 0b100}) == ["compressor overload", "CO2 low flow"]
    assert p.alarms_of({303: 1 << 15}) == ["CO2 alarm bit 303.15"]


@pytest.mark.parametrize(("status", "bits", "state"), [
    (1, 0, "CONNECTED"), (1, 0b01, "CHILLER_RUNNING"), (1, 0b11, "CHILLER_RUNNING"),
    (2, 0b11, "CO2_RUNNING"), (3, 0b11, "ALARM"), (2, 0b01, "ALARM")])  # fmt: skip
def test_the_reference_fsm_from_read_back(status: int, bits: int, state: str) -> None:
    assert p.state_of(status, bits)[0] == state


def test_a_status_the_plc_cannot_have_is_an_error_and_limits_are_the_references() -> None:
    with pytest.raises(p.ProtocolError, match="reads 7"):
        p.state_of(7, 0)
    assert p.check_setpoint("temperature", -35.0) == ""
    assert "outside -35 .. 25" in p.check_setpoint("temperature", -35.5)
    assert "outside 0 .. 5" in p.check_setpoint("flow", math.inf)
    assert p.with_bit(0b1010, 0, True) == 0b1011 and p.with_bit(0b1011, 3, False) == 0b0011
