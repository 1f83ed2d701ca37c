"""The HMP supply's part of the shipped Node-RED panel: its state, all outputs on and off (off
after a confirmation; the service brings each module's HV down first), OVP clear, and a card
per output that feeds a module: the output switch showing the supply's read-back, voltage and
current limit within the stand's limits, the values and the state with its reason."""

from __future__ import annotations

from trackerdcs.config.model import StandBase
from trackerdcs.core import peers
from trackerdcs.deploy.nodered_flows import CARD_JS, Panel
from trackerdcs.hmp.config import HmpConfig

# An output card: its retained state and the service's availability in; nothing shown as
# current while the supply does not answer or the service is offline.
OUTPUT_JS = (
    CARD_JS
    + """
const o = last;
const state = (o.fsm_state || "no data yet") + (o.reason ? " · " + o.reason : "");
if (!online || !o.fsm_state || o.fsm_state === "DISCONNECTED") {
    const why = online ? state : "service offline: values not current";
    return [GREY, {payload: why}, {payload: why}];
}
return [
    {payload: o.output ? "on" : "off", enabled: true},
    {payload: num(o.vmon, "V", 3) + " · " + num(o.imon, "A", 3) + " (set " + num(o.vset, "V", 2)
              + ", limit " + num(o.iset, "A", 2) + ", OVP " + num(o.ovp, "V", 1) + ")"},
    {payload: state + (o.mode ? " · " + o.mode : "")
              + (o.ovp_tripped ? " · OVP tripped: clear it" : "")},
];
"""
)


def panel(p: Panel, stand: StandBase, hmp: HmpConfig) -> None:
    name = peers.service_name(stand, "hmp") or "hmp"
    top = p.stand()
    p.status(f"{name} power", top, p.next_order(top), f"LV supply ({hmp.model})", name,
             f"{name}/status", 'st.fsm_state || "?"')  # fmt: skip
    for label, topic, payload, confirm in (
        (f"{hmp.model}: all LV on", f"{name}/cmd/switch", "on", None),
        (f"{hmp.model}: all LV off", f"{name}/cmd/switch", "off",
         f"Switch LV off for every module on the {hmp.model}? (HV comes down first)"),
        (f"{hmp.model}: clear OVP", f"{name}/cmd/clear", "", None),
    ):  # fmt: skip
        p.button(f"{name} {label}", top, p.next_order(top), label, topic, payload, confirm,
                 width=3)  # fmt: skip
    p.f.next_row()
    page = p.stand_page()
    for cid, ch in sorted(hmp.channels.items()):
        if not ch.module:
            continue
        vtop, itop = hmp.top(cid)
        g = p.group(page, f"{ch.module} · LV out {cid}", 4)
        fan = p.function(f"{name} out {cid}", f"output {cid}", OUTPUT_JS, outputs=3)
        p.f.wire(p.mqtt_in(f"{name} out {cid}", f"{name}/channel/{cid}"), fan)
        p.f.wire(p.mqtt_in(f"{name} online out {cid}", f"{name}/online"), fan)
        widgets = [
            p.switch(f"{name} out {cid}", g, 1, "LV", f"{name}/cmd/switch/{cid}"),
            p.text(f"{name} out {cid}", g, 2, "LV read-back"),
            p.text(f"{name} state {cid}", g, 5, "State"),
        ]
        for i, w in enumerate(widgets):
            p.f.wire(fan, w, output=i)
        p.number(f"{name} v {cid}", g, 3, "LV set V", f"{name}/cmd/setv/{cid}", 0, vtop, 0.1)
        p.number(f"{name} i {cid}", g, 4, "Current limit A", f"{name}/cmd/seti/{cid}", 0, itop,
                 0.05)  # fmt: skip
        p.button(f"{name} clear {cid}", g, 6, "Clear OVP", f"{name}/cmd/clear/{cid}", "",
                 width=3)  # fmt: skip
        p.f.next_row()
