"""The CAEN's part of the shipped Node-RED panel: the power state, the all-module buttons on
the reference topics, and a card per channel (LV and HV switches showing the read-back, the
set-points within the stand's limits, the values, the reason a module went off). A channel
whose LV comes from another supply has no LV controls here."""

from __future__ import annotations

from trackerdcs.caen.config import CaenConfig
from trackerdcs.config.model import StandBase
from trackerdcs.core import peers
from trackerdcs.deploy.nodered_flows import CARD_JS, Panel

# A module card: the channel's retained state and the service's availability in, the
# widgets' messages out. Nothing shown as current while the service is offline.
CHANNEL_JS = (
    CARD_JS
    + """
const ch = last;
if (!online || !ch.connected) {
    const why = online ? (ch.fsm_state ? "channel not connected" : "no data yet")
                       : "service offline: values not current";
    return [GREY, GREY, {payload: why}, {payload: why}, {payload: ch.reason || ""}];
}
const state = ch.fsm_state + (ch.reason ? " · " + ch.reason : "");
return [
    {payload: ch.lv_pw ? "on" : "off", enabled: true},
    {payload: ch.hv_pw ? "on" : "off", enabled: true},
    {payload: num(ch.lv_vMon, "V", 2) + " · " + num(ch.lv_iMon, "A", 3)
              + " (set " + num(ch.lv_setV, "V", 2) + ")"},
    {payload: num(ch.hv_vMon, "V", 1) + " · " + num(ch.hv_iMon, "µA", 3)
              + " (set " + num(ch.hv_setV, "V", 1) + ")"},
    {payload: state},
];
"""
)


def panel(p: Panel, stand: StandBase, caen: CaenConfig) -> None:
    dcs = peers.service_name(stand, "caen") or "dcs"
    top = p.stand()
    p.status("power", top, p.next_order(top), "Power", dcs, f"{dcs}/status",
             'st.fsm_state || "?"')  # fmt: skip
    has_lv = any(ch.lv is not None for ch in caen.channels.values())
    # the reference stack's all-channel topics: what the labs' own flows send too
    for label, topic, payload, confirm in (
        ("All LV on", f"{dcs}/cmd/switch/lv", "on", None),
        ("All HV on", f"{dcs}/cmd/switch/hv", "on", "Switch HV on for every module?"),
        ("All HV off", f"{dcs}/cmd/switch/hv", "off", None),
        ("All LV off", f"{dcs}/cmd/switch/lv", "off", "Switch LV off for every module?"),
        ("Clear trips", f"{dcs}/cmd/clear", "", None),
    ):
        if "/lv" in topic and not has_lv:
            continue
        p.button(label, top, p.next_order(top), label, topic, payload, confirm, width=3)
    p.f.next_row()
    page = p.stand_page()
    for cid, ch in sorted(caen.channels.items()):
        lim = caen.limits(cid)
        title = f"{ch.module} · ch {cid}" if ch.module else f"channel {cid} (no module)"
        g = p.group(page, title, 4)
        fan = p.function(f"channel {cid}", f"channel {cid}", CHANNEL_JS, outputs=5)
        p.f.wire(p.mqtt_in(f"channel {cid}", f"{dcs}/channel/{cid}"), fan)
        p.f.wire(p.mqtt_in(f"online channel {cid}", f"{dcs}/online"), fan)
        lv = ch.lv is not None
        widgets = [
            lv and p.switch(f"lv {cid}", g, 1, "LV", f"{dcs}/cmd/switch/lv/{cid}"),
            p.switch(f"hv {cid}", g, 4, "HV", f"{dcs}/cmd/switch/hv/{cid}"),
            lv and p.text(f"lv {cid}", g, 2, "LV read-back"),
            p.text(f"hv {cid}", g, 5, "HV read-back"),
            p.text(f"state {cid}", g, 7, "State"),
        ]
        for i, w in enumerate(widgets):
            if w:
                p.f.wire(fan, w, output=i)
        if lv:
            p.number(f"lv {cid}", g, 3, "LV set V", f"{dcs}/cmd/setv/lv/{cid}", 0, lim.lv_vmax,
                     0.1)  # fmt: skip
        p.number(f"hv {cid}", g, 6, "HV set V", f"{dcs}/cmd/setv/hv/{cid}", 0, lim.hv_vmax, 5)
        p.f.next_row()
