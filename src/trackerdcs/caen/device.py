"""One module slot of the mainframe: its LV and HV halves and the state read-back implies."""

from __future__ import annotations

from typing import Any

from trackerdcs.caen import protocol
from trackerdcs.caen.config import ChannelConfig
from trackerdcs.caen.external import ExternalLV
from trackerdcs.caen.transport import SidePVs
from trackerdcs.core.signal import Signal
from trackerdcs.power.modules import ModulePower

COMING_DOWN = ("LV_OFF", "LV_ON", "HV_RAMP")


class Channel:
    """The state is never assumed: `evaluate()` computes it from read-back."""

    def __init__(self, cid: int, cfg: ChannelConfig, prefix: str, on_change: Any,
                 others: ModulePower | None = None):  # fmt: skip
        self.id = cid
        self.cfg = cfg
        self.lv: SidePVs | ExternalLV
        if cfg.lv is None:
            assert cfg.module and others is not None
            self.lv = ExternalLV(cfg.module, others, on_change)
        else:
            self.lv = SidePVs("lv", protocol.pv_base(prefix, cfg.lv.board, cfg.lv.chan),
                              on_change)  # fmt: skip
        self.hv = SidePVs("hv", protocol.pv_base(prefix, cfg.hv.board, cfg.hv.chan), on_change)
        self.state = "INIT"
        self.reason = ""
        # why it was last switched off (a command, safe-off, an interlock): shown while it
        # is off or coming down, until it is switched on again
        self.cause = ""
        self.was_connected = False
        self.disconnected_since: float | None = None

    @property
    def active(self) -> bool:
        return self.cfg.active

    @property
    def connected(self) -> bool:
        return self.lv.connected and self.hv.connected

    @property
    def external_lv(self) -> ExternalLV | None:
        return self.lv if isinstance(self.lv, ExternalLV) else None

    def side(self, side: str) -> SidePVs | ExternalLV:
        return self.lv if side == "lv" else self.hv

    def watched(self) -> list[Signal[Any]]:
        """What a procedure waits on for this channel's power state."""
        return [self.hv.signals["Pw"], self.hv.signals["Status"], self.hv.signals["VMon"],
                self.lv.signals["Pw"], self.lv.signals["Status"], self.hv.pending,
                self.lv.pending]  # fmt: skip

    def evaluate(self, hv_off_v: float) -> bool:
        """Move to the read-back state; True if it changed."""
        new, self.reason = protocol.channel_state(
            self.connected, int(self.lv.get("Status") or 0), int(self.hv.get("Status") or 0),
            self.hv_volts() or 0.0, hv_off_v,
        )  # fmt: skip
        ext = self.external_lv
        if new == "DISCONNECTED" and ext is not None and self.hv.connected:
            self.reason = ext.describe()
        changed, self.state = new != self.state, new
        return changed

    def lv_on(self) -> bool:
        return bool(int(self.lv.get("Status") or 0) & protocol.ON)

    def lv_holds(self) -> bool:
        """LV is on and will stay on: read back on, and our last LV order (if any) was on and
        is confirmed. HV may be switched on only then (read-back lags an LV off just sent)."""
        return (
            self.lv.connected
            and self.lv_on()
            and self.lv.settled("Pw")
            and self.lv.target.get("Pw", 1) != 0
            and int(self.lv.get("Pw") or 0) == 1
        )

    def hv_on(self) -> bool:
        return bool(int(self.hv.get("Status") or 0) & protocol.ON)

    def hv_volts(self) -> float | None:
        v = self.hv.get("VMon")
        return abs(float(v)) if v is not None else None

    def hv_down(self, hv_off_v: float) -> bool:
        """HV known to be off and below the threshold (unknown is not down)."""
        volts = self.hv_volts()
        return (
            self.hv.connected
            and self.hv.settled("Pw")  # an HV on just sent is not yet in the read-back
            and int(self.hv.get("Pw") or 0) == 0
            and not self.hv_on()
            and volts is not None
            and volts <= hv_off_v
        )

    def powered(self, hv_off_v: float) -> bool:
        """Anything on, or unknown (disconnected counts as powered: unknown is not off)."""
        if not self.connected:
            return True
        return self.lv_on() or self.hv_on() or (self.hv_volts() or 0.0) > hv_off_v

    def as_reference(self) -> dict[str, Any]:
        """The reference stack's per-channel JSON (PROTOCOLS.md §1), plus pw and connected."""
        out: dict[str, Any] = {
            "id": self.id,
            "module": self.cfg.module,
            "active": self.active,
            "lv_board": self.cfg.lv.board if self.cfg.lv else None,
            "lv_channel": self.cfg.lv.chan if self.cfg.lv else None,
            "hv_board": self.cfg.hv.board,
            "hv_channel": self.cfg.hv.chan,
        }
        # a channel not wholly connected publishes no number: the PVs of a dead IOC lose
        # their connection one callback at a time, and the ones not yet told are not current.
        # With its LV on another supply, the HV's numbers stand alone (they matter most when
        # that supply is silent).
        shown = {"lv": self.connected, "hv": self.connected}
        if self.external_lv is not None:
            shown = {"lv": False, "hv": self.hv.connected}
        for fname, (side, param) in protocol.FIELDS.items():
            value = self.side(side).get(param) if shown[side] else None
            out[fname] = protocol.enum_text(param, value)
        out["lv_pw"] = bool(self.lv.get("Pw") or 0)
        out["hv_pw"] = bool(self.hv.get("Pw") or 0)
        out["connected"] = self.connected
        out["fsm_state"] = self.state
        out["reason"] = self.reason or (self.cause if self.state in COMING_DOWN else "")
        return out
