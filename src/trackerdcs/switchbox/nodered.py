"""The relay box's part of the shipped Node-RED panel: its state, the master relay and each
module's relay as switches showing the positions read back from the box (never remembered),
and nothing as current while the box does not answer or the service is offline."""

from __future__ import annotations

from trackerdcs.config.model import StandBase
from trackerdcs.core import peers
from trackerdcs.deploy.nodered_flows import CARD_JS, Panel
from trackerdcs.switchbox.config import SwitchboxConfig

# status in; out: the state text, the master relay, then each module's relay in order
RELAYS_JS = (
    CARD_JS
    + """
const st = last;
const relays = __RELAYS__;
const greyed = (text) => [{payload: text}, ...[0, ...relays].map(() => GREY)];
if (!online) {
    return greyed("service offline: relay positions not current");
}
if (!st.relays) {
    return greyed((st.fsm_state || "no data yet") + (st.message ? " · " + st.message : ""));
}
const word = (v) => ({payload: v ? "on" : "off", enabled: true});
return [{payload: st.fsm_state}, word(st.lv), ...relays.map(n => word(st.relays[n]))];
"""
)


def panel(p: Panel, stand: StandBase, box: SwitchboxConfig) -> None:
    name = peers.service_name(stand, "switchbox") or "SB"
    mapped = sorted(n for n, c in box.channels.items() if c.module)
    g = p.group(p.stand_page(), f"Relay box ({name})", 4)
    fan = p.function(f"{name} relays", f"{name} relays",
                     RELAYS_JS.replace("__RELAYS__", str([str(n) for n in mapped])),
                     outputs=2 + len(mapped))  # fmt: skip
    p.f.wire(p.mqtt_in(f"{name} status", f"{name}/status"), fan)
    p.f.wire(p.mqtt_in(f"{name} online", f"{name}/online"), fan)
    p.f.wire(fan, p.text(f"{name} state", g, 1, "State"), output=0)
    p.f.wire(fan, p.switch(f"{name} master", g, 2, "Master LV relay", f"{name}/cmd/switch/lv"),
             output=1)  # fmt: skip
    for i, n in enumerate(mapped):
        label = f"{box.channels[n].module} · relay {n}"
        p.f.wire(fan, p.switch(f"{name} relay {n}", g, 3 + i, label, f"{name}/cmd/switch/{n}"),
                 output=2 + i)  # fmt: skip
    p.f.next_row()
