"""MARTA's part of the shipped Node-RED panel: the plant's state and temperatures, the CO2
set-point, start and stop of chiller and CO2 (stops after a confirmation), alarm clear."""

from __future__ import annotations

from trackerdcs.config.model import StandBase
from trackerdcs.core import peers
from trackerdcs.deploy.nodered_flows import Panel
from trackerdcs.marta.config import MartaConfig


def panel(p: Panel, stand: StandBase, section: MartaConfig) -> None:
    marta = peers.service_name(stand, "marta") or "MARTA"
    g = p.group(p.cooling_page(), "CO2 plant (MARTA)", 6)
    p.status("marta", g, 1, "Plant", marta, f"{marta}/status",
             '(st.fsm_state || "?") + " · supply " + num(st.CO2_TT05, "°C", 1) + " · return "'
             ' + num(st.CO2_TT06, "°C", 1) + " · set " + num(st.temperature_setpoint, "°C", 1)'
             ' + (st.message ? " · " + st.message : "")')  # fmt: skip
    p.number("marta", g, 2, "Set-point °C", f"{marta}/cmd/set_temperature_setpoint", -35, 25,
             0.5)  # fmt: skip
    for i, (label, cmd, confirm) in enumerate((
        ("Start chiller", "start_chiller", None), ("Start CO2", "start_co2", None),
        ("Stop CO2", "stop_co2", "Stop the CO2 flow?"),
        ("Stop chiller", "stop_chiller", "Stop the chiller?"),
        ("Clear alarms", "clear_alarms", None))):  # fmt: skip
        p.button(f"marta {cmd}", g, 3 + i, label, f"{marta}/cmd/{cmd}", "", confirm, width=3)
    p.f.next_row()
