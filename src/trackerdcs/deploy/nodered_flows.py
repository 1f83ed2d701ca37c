"""The shipped Node-RED control panel (FlowFuse Dashboard 2), generated from the stand file.

Pages: Stand (safety, then what each power family adds: its state, all-module buttons, one
card per module with switches showing the read-back, set-points, values, the reason a module
went off), Cooling (what each cooling family adds) and Alarms (active alarms, acknowledged
after a confirmation). A family adds its part with `Family.nodered`, a function of this
module's `Panel`, the stand and its section (e.g. `trackerdcs/caen/nodered.py`).

Commands go out on the reference topics (`dcs/cmd/switch/lv/1`, `julabo/cmd/setWT`, ...) as
JSON carrying `user`, `via: nodered` and a deadline, so the event log says where they came
from; every reply to them comes back on `<service>/reply` and a refusal is shown with its
reason. The switches are decoupled: they show what the supply reports, never what was
clicked. The broker's login is not in the flows: the image's entrypoint writes it into the
encrypted credentials file from the mounted secret (`images/nodered/credentials.js`).

Node ids are derived from names, so a regenerated file has the same ids.
"""

from __future__ import annotations

import hashlib
from typing import Any

from trackerdcs.config.model import StandBase
from trackerdcs.core import peers
from trackerdcs.core.registry import load

BROKER_ID = "trackerdcs-broker"
CA_IN_POD = "/run/secrets/trackerdcs/tls/ca.crt"
VIA = "nodered"
ONLINE = "nodered/online"

Node = dict[str, Any]

# Every command leaves through this function: JSON with who, where from and a deadline.
COMMAND_JS = """
// a button's empty payload is a command without a value; an empty number field is a mistake
if (msg.payload === null || msg.payload === undefined || Number.isNaN(msg.payload)) {
    return [null, {payload: "Nothing entered for " + msg.topic + ": nothing sent"}];
}
const body = (typeof msg.payload === "object") ? Object.assign({}, msg.payload)
           : (msg.payload === "") ? {} : {value: msg.payload};
const now = Date.now() / 1000;
body.user = "node-red panel";
body.via = "__VIA__";
body.id = "nodered-" + Date.now().toString(36) + "-" + Math.random().toString(36).slice(2, 8);
body.ts = now;
body.deadline = now + 15;
return [{topic: msg.topic, payload: JSON.stringify(body)}, null];
""".replace("__VIA__", VIA)

# A reading as text: a number only if it is one (null, NaN: a value that is no reading).
NUM_JS = """
const num = (v, unit, d) => (typeof v === "number" && isFinite(v)) ? v.toFixed(d) + " " + unit
                                                                 : "no reading";
"""

# The start of every card function: a device's retained state (`last`) and its service's
# availability (`online`) kept between messages; `num` shows a number only if it is one;
# GREY, sent to a switch, greys it out where it stands (Dashboard 2's `enabled`): a position
# that is not current cannot be clicked or taken for the supply's.
CARD_JS = (
    NUM_JS
    + """
if (msg.topic.endsWith("/online")) {
    context.set("online", msg.payload === true || msg.payload === "true");
} else if (msg.payload && typeof msg.payload === "object") {
    context.set("last", msg.payload);
}
const last = context.get("last") || {};
const online = context.get("online") !== false;
const GREY = {enabled: false};
"""
)

# Replies to this panel's commands: a refusal is shown with its reason; success briefly.
REPLY_JS = """
const r = msg.payload;
if (!r || typeof r !== "object" || r.via !== "__VIA__") return null;
const service = msg.topic.split("/")[0];
if (r.ok) {
    return {payload: service + ": " + r.command + " done", ui_update: {color: "green",
            displayTime: 3}};
}
const what = r.refused ? "refused" : "failed";
return {payload: service + ": " + r.command + " " + what + ": " + (r.error || "no reason given"),
        ui_update: {color: "red", displayTime: 30}};
""".replace("__VIA__", VIA)

STATUS_JS = (
    NUM_JS
    + """
const s = msg.payload || {};
if (msg.topic.endsWith("/online")) {
    context.set("online", s === true || s === "true");
} else {
    context.set("status", s);
}
if (context.get("online") === false) return {payload: "offline: state not current"};
const st = context.get("status") || {};
if (st.fsm_state === "DISCONNECTED") {  // no number from a device that does not answer
    return {payload: "DISCONNECTED · " + (st.message || st.reason || "no answer")};
}
return {payload: __EXPR__};
"""
)

ALARMS_JS = """
const a = msg.payload;
const all = flow.get("alarms") || {};
const name = msg.topic.slice("alarms/".length);
if (!a || typeof a !== "object" || !a.active) { delete all[name]; }
else { all[name] = a; }
flow.set("alarms", all);
const when = (t) => t ? new Date(t * 1000).toISOString().replace("T", " ").slice(0, 19) + " UTC"
                      : "";
return {payload: Object.values(all).sort((x, y) => (x.since || 0) - (y.since || 0)).map(a => ({
    alarm: a.name, source: a.source, severity: a.severity, message: a.message,
    since: when(a.since), acknowledged: a.acknowledged ? "yes" : "no"}))};
"""

# Every sensor of the environment services as a table row; a row says when its service is
# offline, and a reading that is no number (stale, sensor gone) is shown as none.
ENVIRONMENT_JS = (
    NUM_JS
    + """
const parts = msg.topic.split("/");
const all = flow.get("environment") || {};
const offline = flow.get("environment_offline") || {};
if (parts.length === 2 && parts[1] === "online") {
    offline[parts[0]] = !(msg.payload === true || msg.payload === "true");
    flow.set("environment_offline", offline);
} else {
    const d = msg.payload;
    if (!d || typeof d !== "object" || !("temperature" in d || "humidity" in d)) return null;
    all[msg.topic] = d;
    flow.set("environment", all);
}
const when = (t) => t ? new Date(t * 1000).toISOString().slice(11, 19) + " UTC" : "";
return {payload: Object.keys(all).sort().map((topic) => {
    const d = all[topic];
    const gone = offline[topic.split("/")[0]];
    return {sensor: d.name || topic.split("/").pop(), where: d.location || d.kind || "",
            temperature: gone ? "service offline" : num(d.temperature, "°C", 1),
            humidity: gone ? "" : num(d.humidity, "%", 0),
            "dew point": gone ? "" : num(d.dewpoint, "°C", 1),
            read: gone ? "not current" : when(d.ts)};
})};
"""
)

ACK_ASK_JS = """
const row = msg.payload || {};
if (!row.alarm) return null;
return {payload: "Acknowledge " + row.alarm + " (" + row.message + ")?",
        ack: {topic: row.source + "/cmd/ack", payload: {alarm: row.alarm}}};
"""

# Confirmed bulk actions and acknowledgements: the dialog's reply carries the original order.
CONFIRMED_JS = """
if (msg.payload !== "confirm_clicked" || !msg.order) return null;
return {topic: msg.order.topic, payload: msg.order.payload};
"""


_CHANGE = {"action": "", "property": "", "from": "", "to": "", "reg": False}
_FUNCTION = {"timeout": 0, "noerr": 0, "initialize": "", "finalize": "", "libs": []}


def _id(*key: object) -> str:
    return hashlib.sha1("/".join(map(str, key)).encode(), usedforsecurity=False).hexdigest()[:16]


class _Flows:
    """The nodes of one tab, placed on a grid in the editor as they are added."""

    def __init__(self, tab_label: str):
        self.tab = _id("tab")
        self.nodes: list[Node] = [{"id": self.tab, "type": "tab", "label": tab_label,
                                   "disabled": False, "info": __doc__ or ""}]  # fmt: skip
        self.row = 0

    def add(self, key: str, type_: str, column: int = 0, /, **fields: Any) -> str:
        nid = _id(key)
        node: Node = {"id": nid, "type": type_, "z": self.tab, "x": 160 + 220 * column,
                      "y": 40 + 40 * self.row, "wires": []}  # fmt: skip
        node.update(fields)
        self.nodes.append(node)
        return nid

    def config(self, key: str, type_: str, /, **fields: Any) -> str:
        nid = fields.pop("id", None) or _id(key)
        self.nodes.append({"id": nid, "type": type_, **fields})
        return nid

    def wire(self, source: str, *targets: str | None, output: int = 0) -> None:
        node = next(n for n in self.nodes if n["id"] == source)
        while len(node["wires"]) <= output:
            node["wires"].append([])
        node["wires"][output] += [t for t in targets if t]

    def next_row(self) -> None:
        self.row += 1


def _widget(group: str, order: int, label: str, **fields: Any) -> dict[str, Any]:
    return {"group": group, "order": order, "width": fields.pop("width", 0), "height": 0,
            "label": label, "name": "", "className": "", **fields}  # fmt: skip


class Panel:
    def __init__(self, stand: StandBase, broker_port: int, tls: bool):
        self.f = _Flows(f"trackerdcs panel · {stand.stand.name}")
        f = self.f
        tls_id = tls and f.config("tls", "tls-config", name="trackerdcs CA", cert="", key="",
                          ca=CA_IN_POD, certname="", keyname="", caname="", servername="",
                          verifyservercert=True, alpnprotocol="")  # fmt: skip
        f.config("broker", "mqtt-broker", id=BROKER_ID, name="trackerdcs bus",
                 broker="127.0.0.1", port=str(broker_port), tls=tls_id or "",
                 usetls=tls, clientid="nodered-panel", autoConnect=True, protocolVersion="4",
                 keepalive="15", cleansession=True, autoUnsubscribe=True, sessionExpiry="",
                 # availability like every service: retained true, false as will and on close
                 birthTopic=ONLINE, birthQos="1", birthRetain="true", birthPayload="true",
                 closeTopic=ONLINE, closeQos="1", closeRetain="true", closePayload="false",
                 willTopic=ONLINE, willQos="1", willRetain="true", willPayload="false")  # fmt: skip
        self.ui = f.config("ui", "ui-base", name="trackerdcs", path="/dashboard",
                           includeClientData=True,
                           acceptsClientConfig=["ui-notification", "ui-control"],
                           showPathInSidebar=False, headerContent="page",
                           navigationStyle="default", titleBarStyle="default",
                           showReconnectNotification=True, notificationDisplayTime=1,
                           showDisconnectNotification=True, allowInstall=False)  # fmt: skip
        self.theme = f.config("theme", "ui-theme", name="trackerdcs",
                              colors={"surface": "#1f3a5f", "primary": "#1f6feb",
                                      "bgPage": "#f4f6f8", "groupBg": "#ffffff",
                                      "groupOutline": "#d0d7de"},
                              sizes={"density": "default", "pagePadding": "12px",
                                     "groupGap": "12px", "groupBorderRadius": "6px",
                                     "widgetGap": "8px"})  # fmt: skip
        self.pages = 0
        self.groups = 0
        self._top: str | None = None
        self._stand_page = ""
        self._cooling: str | None = None
        self._orders: dict[str, int] = {}
        out = f.add("cmd out", "mqtt out", 4, name="commands", topic="", qos="1",
                    retain="false", respTopic="", contentType="", userProps="", correl="",
                    expiry="", broker=BROKER_ID)  # fmt: skip
        self.notify = f.add("notify", "ui-notification", 4, ui=self.ui, position="top right",
                            colorDefault=False, color="#b00020", displayTime="10",
                            showCountdown=True, outputs=0, allowDismiss=True,
                            dismissText="Close", allowConfirm=False, confirmText="",
                            raw=False, className="", name="replies")  # fmt: skip
        self.cmd = f.add("cmd", "function", 3, name="command (user, via, deadline)",
                         func=COMMAND_JS, outputs=2, **_FUNCTION)  # fmt: skip
        f.wire(self.cmd, out)
        f.wire(self.cmd, self.notify, output=1)
        f.next_row()
        self.confirm = f.add("confirm", "ui-notification", 3, ui=self.ui,
                             position="center center", colorDefault=True, color="",
                             displayTime="0", showCountdown=False, outputs=1, allowDismiss=True,
                             dismissText="Cancel", allowConfirm=True, confirmText="Confirm",
                             raw=False, className="", name="confirm")  # fmt: skip
        confirmed = f.add("confirmed", "function", 4, name="confirmed order",
                          func=CONFIRMED_JS, outputs=1, **_FUNCTION)  # fmt: skip
        f.wire(self.confirm, confirmed)
        f.wire(confirmed, self.cmd)
        f.next_row()

    # -- the pages families add to: Stand (power), Cooling; groups number their widgets ----
    def stand(self) -> str:
        """The Stand page's first group (safety, then each power supply's state and buttons)."""
        if self._top is None:
            self._stand_page = self.page("Stand", "/stand", "mdi-flash")
            self._top = self.group(self._stand_page, "Stand", 6)
        return self._top

    def stand_page(self) -> str:
        self.stand()
        return self._stand_page

    def cooling_page(self) -> str:
        if self._cooling is None:
            self._cooling = self.page("Cooling", "/cooling", "mdi-snowflake")
        return self._cooling

    def next_order(self, group: str) -> int:
        self._orders[group] = self._orders.get(group, 0) + 1
        return self._orders[group]

    def page(self, name: str, path: str, icon: str) -> str:
        self.pages += 1
        return self.f.config(f"page {path}", "ui-page", name=name, ui=self.ui, path=path,
                             icon=icon, layout="grid", theme=self.theme, order=self.pages,
                             className="", visible="true", disabled="false",
                             breakpoints=[{"name": "Default", "px": 0, "cols": 3},
                                          {"name": "Tablet", "px": 576, "cols": 6},
                                          {"name": "Small Desktop", "px": 768, "cols": 9},
                                          {"name": "Desktop", "px": 1024, "cols": 12}])  # fmt: skip

    def group(self, page: str, name: str, width: int = 4) -> str:
        self.groups += 1
        return self.f.config(f"group {page} {name}", "ui-group", name=name, page=page,
                             width=str(width), height="1", order=self.groups, showTitle=True,
                             className="", visible="true", disabled="false",
                             groupType="default")  # fmt: skip

    def mqtt_in(self, key: str, topic: str) -> str:
        return self.f.add(f"in {key}", "mqtt in", 0, name=topic, topic=topic, qos="1",
                          datatype="auto-detect", broker=BROKER_ID, nl=False, rap=True, rh=0,
                          inputs=0)  # fmt: skip

    def function(self, key: str, name: str, js: str, outputs: int = 1) -> str:
        return self.f.add(f"fn {key}", "function", 1, name=name, func=js, outputs=outputs,
                          **_FUNCTION)  # fmt: skip

    def text(self, key: str, group: str, order: int, label: str) -> str:
        return self.f.add(f"text {key}", "ui-text", 2,
                          **_widget(group, order, label, format="{{msg.payload}}",
                                    layout="row-spread", style=False, font="", fontSize=14,
                                    color="#1f2328", wrapText=True, value="payload",
                                    valueType="msg"))  # fmt: skip

    def button(
        self,
        key: str,
        group: str,
        order: int,
        label: str,
        topic: str,
        payload: str,
        confirm: str | None = None,
        width: int = 0,
    ) -> str:
        b = self.f.add(f"button {key}", "ui-button", 2,
                       **_widget(group, order, label, width=width, emulateClick=False,
                                 tooltip="", color="", bgcolor="", icon="", iconPosition="left",
                                 payload=payload, payloadType="str", topic=topic,
                                 topicType="str", buttonColor="", textColor="", iconColor="",
                                 enableClick=True, enablePointerdown=False,
                                 pointerdownPayload="", pointerdownPayloadType="str",
                                 enablePointerup=False, pointerupPayload="",
                                 pointerupPayloadType="str"))  # fmt: skip
        if confirm is None:
            self.f.wire(b, self.cmd)
        else:
            ask = self.f.add(f"ask {key}", "change", 3, name=f"ask: {confirm}", rules=[
                {"t": "set", "p": "order", "pt": "msg", "to": "{}", "tot": "json"},
                {"t": "move", "p": "topic", "pt": "msg", "to": "order.topic", "tot": "msg"},
                {"t": "move", "p": "payload", "pt": "msg", "to": "order.payload", "tot": "msg"},
                {"t": "set", "p": "payload", "pt": "msg", "to": confirm, "tot": "str"}],
                **_CHANGE)  # fmt: skip
            self.f.wire(b, ask)
            self.f.wire(ask, self.confirm)
        return b

    def switch(self, key: str, group: str, order: int, label: str, topic: str) -> str:
        s = self.f.add(f"switch {key}", "ui-switch", 2,
                       **_widget(group, order, label, passthru=False, decouple=True,
                                 topic=topic, topicType="str", style="", layout="row-spread",
                                 clickableArea="switch", onvalue="on", onvalueType="str",
                                 onicon="", oncolor="", offvalue="off", offvalueType="str",
                                 officon="", offcolor=""))  # fmt: skip
        self.f.wire(s, self.cmd)
        return s

    def number(
        self,
        key: str,
        group: str,
        order: int,
        label: str,
        topic: str,
        low: float,
        high: float,
        step: float,
        wrap: str | None = None,
    ) -> str:
        n = self.f.add(f"number {key}", "ui-number-input", 2,
                       **_widget(group, order, label, topic=topic, topicType="str", min=low,
                                 max=high, step=step, tooltip=f"{low:g} … {high:g}, Enter sends",
                                 delay=300, passthru=False, sendOnDelay=False,
                                 sendOnBlur=False, sendOnEnter=True, clearable=False, icon="",
                                 iconPosition="left", iconInnerPosition="inside",
                                 spinner="default"))  # fmt: skip
        if wrap is None:
            self.f.wire(n, self.cmd)
        else:
            w = self.function(f"wrap {key}", f"{topic} payload", wrap)
            self.f.wire(n, w)
            self.f.wire(w, self.cmd)
        return n

    def status(
        self, key: str, group: str, order: int, label: str, service: str, topic: str, expr: str
    ) -> None:
        fn = self.function(f"status {key}", f"{label} text", STATUS_JS.replace("__EXPR__", expr))
        self.f.wire(self.mqtt_in(f"status {key}", topic), fn)
        self.f.wire(self.mqtt_in(f"online {key}", f"{service}/online"), fn)
        self.f.wire(fn, self.text(f"status {key}", group, order, label))
        self.f.next_row()


def _environment(p: Panel, stand: StandBase) -> None:
    """The temperature, humidity and dew point of every sensor, beside the cooling: the
    dew point must stay below the coldest surface."""
    services = peers.environment(stand)
    if not services:
        return
    g = p.group(p.cooling_page(), "Environment", 12)
    fn = p.function("environment", "environment", ENVIRONMENT_JS)
    for svc in services:
        p.f.wire(p.mqtt_in(f"environment {svc}", f"{svc}/+"), fn)
    table = p.f.add("table environment", "ui-table", 2,
                    **_widget(g, 1, "", maxrows=0, passthru=False, autocols=True,
                              showSearch=False, deselect=True, selectionType="none",
                              columns=[], mobileBreakpoint="sm", mobileBreakpointType="defaults",
                              action="replace"))  # fmt: skip
    p.f.wire(fn, table)
    p.f.next_row()


def _alarms_page(p: Panel) -> None:
    page = p.page("Alarms", "/alarms", "mdi-alarm-light")
    g = p.group(page, "Active alarms (click one to acknowledge)", 12)
    fn = p.function("alarms", "active alarms", ALARMS_JS)
    p.f.wire(p.mqtt_in("alarms", "alarms/+"), fn)
    table = p.f.add("table alarms", "ui-table", 2,
                    **_widget(g, 1, "", maxrows=0, passthru=False, autocols=True,
                              showSearch=False, deselect=True, selectionType="click",
                              columns=[], mobileBreakpoint="sm", mobileBreakpointType="defaults",
                              action="replace"))  # fmt: skip
    p.f.wire(fn, table)
    ask = p.function("ack ask", "ask before ack", ACK_ASK_JS)
    p.f.wire(table, ask)
    order = p.f.add("ack order", "change", 3, name="order: ack", rules=[
        {"t": "move", "p": "ack", "pt": "msg", "to": "order", "tot": "msg"}],
        **_CHANGE)  # fmt: skip
    p.f.wire(ask, order)
    p.f.wire(order, p.confirm)
    p.f.next_row()


def _safety(p: Panel, stand: StandBase) -> None:
    if stand.section("safety") is None:
        return
    safety = peers.safety(stand)
    top = p.stand()
    p.status("safety", top, p.next_order(top), "Safety", safety, f"{safety}/status",
             '(st.state || "?") + (st.message ? " · " + st.message : "")')  # fmt: skip


def flows(stand: StandBase, broker_port: int = 8883, tls: bool = True) -> list[Node]:
    """The panel: the Stand page with safety, then what each family of the stand adds
    (`Family.nodered`: power supplies their cards, cooling plants theirs), then the alarms."""
    p = Panel(stand, broker_port, tls)
    p.stand()
    _safety(p, stand)
    for fam, section in peers.sections(stand):
        if fam.nodered:
            load(fam.nodered)(p, stand, section)
    _environment(p, stand)
    _alarms_page(p)
    replies = p.function("replies", "replies to the panel", REPLY_JS)
    p.f.wire(p.mqtt_in("replies", "+/reply"), replies)
    p.f.wire(replies, p.notify)
    return p.f.nodes
