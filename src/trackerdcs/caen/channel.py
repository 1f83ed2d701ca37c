"""One module slot: its LV and HV halves, its state derived from hardware read-back."""

from __future__ import annotations

from typing import Any

from transitions import Machine

from trackerdcs.caen.config import ChannelConfig, pv_base
from trackerdcs.caen.driver import SidePVs

STATES = ["INIT", "DISCONNECTED", "CONNECTED", "LV_OFF", "LV_ON", "HV_RAMP", "HV_ON", "ERROR"]
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
ENUM_TEXT = {"ImRange": ("Low", "High"), "PDwn": ("Kill", "Ramp")}


def describe_bits(status: int) -> str:
    return ", ".join(name for bit, name in BIT_NAMES.items() if status & (1 << bit)) or "ok"


class Channel:
    """Per-channel FSM. The state is never assumed: it is computed from read-back."""

    state: str

    def __init__(self, cid: int, cfg: ChannelConfig, prefix: str, on_change: Any):
        self.id = cid
        self.cfg = cfg
        self.lv = SidePVs("lv", pv_base(prefix, cfg.lv.board, cfg.lv.chan), on_change)
        self.hv = SidePVs("hv", pv_base(prefix, cfg.hv.board, cfg.hv.chan), on_change)
        self.reason = ""
        self.was_connected = False
        self.disconnected_since: float | None = None
        self.last_published: dict[str, Any] = {}
        self.machine = Machine(model=self, states=STATES, initial="INIT", auto_transitions=True)

    @property
    def active(self) -> bool:
        return self.cfg.active

    def evaluate(self, hv_off_v: float) -> tuple[str, str]:
        if not (self.lv.connected and self.hv.connected):
            return "DISCONNECTED", "IOC unreachable or channel missing"
        lvs = int(self.lv.get("Status") or 0)
        hvs = int(self.hv.get("Status") or 0)
        if lvs & ERROR_BITS:
            return "ERROR", f"LV: {describe_bits(lvs)}"
        if hvs & ERROR_BITS:
            return "ERROR", f"HV: {describe_bits(hvs)}"
        lv_on = bool(lvs & ON)
        hv_on = bool(hvs & ON)
        hv_v = abs(float(self.hv.get("VMon") or 0.0))
        if hv_on and not lv_on:
            return "ERROR", "HV on while LV is off"
        if not lv_on:
            if hv_v > hv_off_v:
                return "ERROR", f"HV at {hv_v:.1f} V while LV is off"
            return "LV_OFF", ""
        if hv_on:
            return ("HV_RAMP" if hvs & (RAMP_UP | RAMP_DOWN) else "HV_ON"), ""
        if hv_v > hv_off_v:
            return "HV_RAMP", ""
        return "LV_ON", ""

    def update(self, hv_off_v: float) -> bool:
        """Move the FSM to the read-back state; True if it changed."""
        new, reason = self.evaluate(hv_off_v)
        self.reason = reason
        if new != self.state:
            getattr(self, f"to_{new}")()
            return True
        return False

    def lv_on(self) -> bool:
        return bool(int(self.lv.get("Status") or 0) & ON)

    def hv_on(self) -> bool:
        return bool(int(self.hv.get("Status") or 0) & ON)

    def hv_volts(self) -> float:
        return abs(float(self.hv.get("VMon") or 0.0))

    def powered(self, hv_off_v: float) -> bool:
        return self.lv_on() or self.hv_on() or self.hv_volts() > hv_off_v

    def as_reference(self) -> dict[str, Any]:
        """The reference stack's per-channel JSON (PROTOCOLS.md §1), plus pw and connected."""
        lv, hv = self.lv.snapshot(), self.hv.snapshot()
        out: dict[str, Any] = {
            "id": self.id,
            "module": self.cfg.module,
            "active": self.active,
            "lv_board": self.cfg.lv.board,
            "lv_channel": self.cfg.lv.chan,
            "hv_board": self.cfg.hv.board,
            "hv_channel": self.cfg.hv.chan,
        }
        for fname, (side, param) in FIELDS.items():
            v = (lv if side == "lv" else hv).get(param)
            if param in ENUM_TEXT and isinstance(v, int):
                v = ENUM_TEXT[param][v] if 0 <= v < 2 else v
            elif hasattr(v, "item"):
                v = v.item()
            out[fname] = v
        out["lv_pw"] = bool(lv.get("Pw") or 0)
        out["hv_pw"] = bool(hv.get("Pw") or 0)
        out["connected"] = self.lv.connected and self.hv.connected
        out["fsm_state"] = self.state
        out["reason"] = self.reason
        return out
