"""The Julabo's part of the shipped Node-RED panel: state, bath and set-point, power (negative
means cooling), the set-point (the safety service refuses one below the dew-point margin),
start, and stop after a confirmation."""

from __future__ import annotations

from trackerdcs.config.model import StandBase
from trackerdcs.core import peers
from trackerdcs.deploy.nodered_flows import Panel
from trackerdcs.julabo.config import JulaboConfig


def panel(p: Panel, stand: StandBase, section: JulaboConfig) -> None:
    julabo = peers.service_name(stand, "julabo") or "julabo"
    g = p.group(p.cooling_page(), "Chiller (Julabo)", 6)
    p.status("julabo", g, 1, "Chiller", julabo, f"{julabo}/status",
             '(st.fsm_state || "?") + " · bath " + num(st.internal_temp, "°C", 2) + " · set "'
             ' + num(st["setpoint_" + (st.used_setpoint || 1)], "°C", 2) + " · power "'
             ' + num(st.power, "%", 0) + " (negative: cooling)"')  # fmt: skip
    p.number("julabo", g, 2, "Set-point °C", f"{julabo}/cmd/setWT", -90, 100, 0.5,
             wrap="msg.payload = {setpoint: 1, temp: msg.payload};\nreturn msg;")  # fmt: skip
    p.button("julabo start", g, 3, "Start", f"{julabo}/cmd/start", "", width=3)
    p.button("julabo stop", g, 4, "Stop", f"{julabo}/cmd/stop", "", "Stop the chiller?",
             width=3)  # fmt: skip
    p.f.next_row()
