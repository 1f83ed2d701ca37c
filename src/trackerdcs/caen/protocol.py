"""The CAEN mainframe as its EPICS IOC presents it (PROTOCOLS.md §2), without any I/O:
PV names, parameters and enums, Status bits, and the channel and stand states they imply."""

from __future__ import annotations

from trackerdcs.core.history import FieldType, Measurement

STATES = ("INIT", "DISCONNECTED", "CONNECTED", "LV_OFF", "LV_ON", "HV_RAMP", "HV_ON", "ERROR")
STAND_STATES = (*STATES, "LV_MIX", "HV_MIX")
POWERED = ("LV_ON", "HV_RAMP", "HV_ON")

ON, RAMP_UP, RAMP_DOWN = 1, 2, 4
ERROR_BITS = 0xFFF & ~(ON | RAMP_UP | RAMP_DOWN)
BIT_NAMES = {
    3: "over-current",
    4: "over-voltage",
    5: "under-voltage",
    6: "external trip",
    7: "at max V",
    8: "external disable",
    9: "internal trip",
    10: "calibration error",
    11: "unplugged",
}

# settings a stand file may give, by side, with their type
LV_PARAMS: dict[str, type] = {
    "V0Set": float, "I0Set": float, "Trip": float, "TripInt": int, "TripExt": int,
    "UNVThr": float, "OVVThr": float, "RUpTime": float, "RDwTime": float,
}  # fmt: skip
HV_PARAMS: dict[str, type] = {
    "V0Set": float, "I0Set": float, "Trip": float, "TripInt": int, "TripExt": int,
    "RUp": float, "RDWn": float, "ImRange": str, "PDwn": str,
}  # fmt: skip
# enum PVs: the index the IOC serves -> its text (the order is the IOC's)
ENUMS: dict[str, tuple[str, ...]] = {"ImRange": ("Low", "High"), "PDwn": ("Kill", "Ramp")}

MONITORED = ("Pw", "Status", "VMon", "IMon")
LV_READ = (*MONITORED, *LV_PARAMS, "Temp")
HV_READ = (*MONITORED, *HV_PARAMS)

# reference field name -> (side, PV parameter)
FIELDS = {
    "lv_status": ("lv", "Status"), "lv_setV": ("lv", "V0Set"), "lv_vMon": ("lv", "VMon"),
    "lv_iMon": ("lv", "IMon"), "lv_maxI": ("lv", "I0Set"), "lv_tripTime": ("lv", "Trip"),
    "lv_tripInt": ("lv", "TripInt"), "lv_tripExt": ("lv", "TripExt"),
    "lv_unVthr": ("lv", "UNVThr"), "lv_ovVthr": ("lv", "OVVThr"),
    "lv_rampUpTime": ("lv", "RUpTime"), "lv_rampDwnTime": ("lv", "RDwTime"),
    "lv_temp": ("lv", "Temp"),
    "hv_status": ("hv", "Status"), "hv_setV": ("hv", "V0Set"), "hv_vMon": ("hv", "VMon"),
    "hv_iMon": ("hv", "IMon"), "hv_maxI": ("hv", "I0Set"), "hv_tripTime": ("hv", "Trip"),
    "hv_tripInt": ("hv", "TripInt"), "hv_tripExt": ("hv", "TripExt"),
    "hv_rampUpSpeed": ("hv", "RUp"), "hv_rampDwnSpeed": ("hv", "RDWn"),
    "hv_imRange": ("hv", "ImRange"), "hv_tripMode": ("hv", "PDwn"),
}  # fmt: skip


def pv_base(prefix: str, board: int, chan: int) -> str:
    return f"{prefix}:{board:02d}:{chan:03d}"


def describe_bits(status: int) -> str:
    return ", ".join(name for bit, name in BIT_NAMES.items() if status & (1 << bit)) or "ok"


def enum_text(param: str, value: object) -> object:
    names = ENUMS.get(param)
    if names is not None and isinstance(value, int) and 0 <= value < len(names):
        return names[value]
    return value


def channel_state(connected: bool, lv_status: int, hv_status: int, hv_volts: float,
                  hv_off_v: float) -> tuple[str, str]:  # fmt: skip
    """(state, reason) of one module slot, from read-back only."""
    if not connected:
        return "DISCONNECTED", "IOC unreachable or channel missing"
    if lv_status & ERROR_BITS:
        return "ERROR", f"LV: {describe_bits(lv_status)}"
    if hv_status & ERROR_BITS:
        return "ERROR", f"HV: {describe_bits(hv_status)}"
    lv_on = bool(lv_status & ON)
    hv_on = bool(hv_status & ON)
    if hv_on and not lv_on:
        return "ERROR", "HV on while LV is off"
    if not lv_on:
        if hv_volts > hv_off_v:
            return "ERROR", f"HV at {hv_volts:.1f} V while LV is off"
        return "LV_OFF", ""
    if hv_on:
        return ("HV_RAMP" if hv_status & (RAMP_UP | RAMP_DOWN) else "HV_ON"), ""
    if hv_volts > hv_off_v:
        return "HV_RAMP", ""
    return "LV_ON", ""


def stand_state(states: list[str]) -> str:
    """The stand's roll-up of its active channels' states."""
    if not states:
        return "INIT"
    if "ERROR" in states:
        return "ERROR"
    s = set(states)
    if len(s) == 1:
        return states[0]
    if s & {"INIT", "DISCONNECTED"}:
        return "DISCONNECTED"
    if "HV_RAMP" in s:
        return "HV_RAMP"
    if "HV_ON" in s:
        return "HV_MIX"
    return "LV_MIX"


def _reference_type(param: str) -> FieldType:
    if param in ENUMS or param in ("Status", "TripInt", "TripExt"):
        return "int"
    return "float"


# what the reference stack's Telegraf stores (PROTOCOLS.md §1): `channels` tagged by the slot,
# status words and enums as integers, the state as a string; `dcs_status` the stand state
CHANNEL_TAGS = ("id", "module", "lv_board", "lv_channel", "hv_board", "hv_channel")
REFERENCE_HISTORY = (
    Measurement(
        topic="channels",
        name="channels",
        tags=CHANNEL_TAGS,
        fields={**{f: _reference_type(p) for f, (_, p) in FIELDS.items()}, "fsm_state": "str"},
        enums={f: ENUMS[p] for f, (_, p) in FIELDS.items() if p in ENUMS},
    ),
    Measurement(topic="status", name="dcs_status", fields={"fsm_state": "str"}),
)
