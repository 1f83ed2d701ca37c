"use strict";
// trackerdcs web UI: live state from the WebSocket, commands through the REST API.
const $ = (s, el = document) => el.querySelector(s);
const esc = (v) => String(v ?? "").replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const num = (v, d = 2) => (typeof v === "number" && isFinite(v) ? v.toFixed(d) : "–");
const state = { topics: {}, me: null, ws: null, plot: null, zoom: null, dirty: false };
const COLORS = ["#3b82c4", "#2e9e5b", "#d9a21b", "#d8443a", "#9b59b6", "#1abc9c", "#e67e22", "#ecf0f1"];
// topic roots of the services behind each panel: from /api/stand (the family registry)
const roots = { modules: "dcs", chiller: "julabo", sensors: "sensors", safety: "safety", runs: "runs" };

async function api(path, opts = {}) {
  const r = await fetch(path, { headers: { "Content-Type": "application/json" }, ...opts });
  let body = null;
  try { body = await r.json(); } catch (e) { body = null; }
  return { status: r.status, body };
}

function notice(text, ok) {
  const el = document.createElement("div");
  el.className = `notice ${ok ? "ok" : "error"}`;
  el.textContent = text;
  $("#notices").prepend(el);
  setTimeout(() => el.remove(), ok ? 4000 : 15000);
}

async function cmd(service, command, payload) {
  const r = await api(`/api/cmd/${service}/${command}`,
    { method: "POST", body: JSON.stringify(payload ?? null) });
  const b = r.body || {};
  if (r.status === 200 && b.ok) notice(`${service} ${command}: done`, true);
  else notice(`${service} ${command} refused: ${b.error || b.detail || "HTTP " + r.status}`, false);
  loadAudit();
  return b;
}

// -- login ---------------------------------------------------------------------------------
async function start() {
  const r = await api("/api/me");
  if (r.status !== 200) return showLogin();
  state.me = r.body;
  const stand = await api("/api/stand");
  for (const [panel, list] of Object.entries(stand.body?.panels || {})) roots[panel] = list[0];
  state.door = stand.body?.door || null;
  $("#chiller-card").hidden = !stand.body?.panels?.chiller;
  $("#login-view").hidden = true;
  $("#main-view").hidden = false;
  $("#user").textContent = state.me.user;
  $("#role").textContent = state.me.role;
  document.body.classList.toggle("viewer", state.me.role === "viewer");
  $("#set-user").textContent = state.me.user;
  $("#set-role").textContent = state.me.role;
  $("#set-stand").textContent = stand.body?.name || "";
  route();
  connect();
  loadSeries();
  loadAudit();
  loadRecipes();
}

function showLogin() {
  $("#main-view").hidden = true;
  $("#login-view").hidden = false;
}

$("#login").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const f = new FormData(ev.target);
  const r = await api("/api/login", { method: "POST",
    body: JSON.stringify({ username: f.get("username"), password: f.get("password") }) });
  if (r.status === 200) { $("#login-error").textContent = ""; start(); }
  else $("#login-error").textContent = (r.body && r.body.detail) || "login failed";
});
$("#logout").addEventListener("click", async () => {
  await api("/api/logout", { method: "POST" });
  if (state.ws) state.ws.close();
  location.reload();
});

// -- live state ------------------------------------------------------------------------------
function connect() {
  const ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`);
  state.ws = ws;
  ws.onmessage = (ev) => {
    const m = JSON.parse(ev.data);
    if (m.snapshot) state.topics = m.snapshot;
    for (const u of m.updates || []) state.topics[u.topic] = u.payload;
    state.dirty = true;
  };
  ws.onclose = (ev) => {
    if (ev.code === 4401) return showLogin();
    setTimeout(connect, 2000);  // the server restarted: come back by ourselves
  };
}

const T = (topic) => state.topics[topic];
const online = (svc) => T(`${svc}/online`) === true || T(`${svc}/online`) === "true";

function render() {
  if (!state.dirty) return;
  state.dirty = false;
  renderSummary(); renderModulePage();
  renderServices(); renderSafety(); renderAlarms(); renderModules(); renderChiller(); renderMarta(); renderLvSupply(); renderSwitchbox();
  renderSensors();
  renderRuns(); renderSequence();
}
setInterval(render, 250);

// -- pages: one grid of cards, each card on the pages its data-pages names -------------------
const PAGES = ["overview", "modules", "environment", "alarms", "runs", "settings", "module"];

function route() {
  const [page, arg] = (location.hash.slice(1) || "overview").split("/");
  state.page = PAGES.includes(page) ? page : "overview";
  state.module = state.page === "module" ? decodeURIComponent(arg || "") : null;
  document.body.dataset.page = state.page;
  for (const card of document.querySelectorAll("[data-pages]"))
    card.classList.toggle("off-page", !card.dataset.pages.split(" ").includes(state.page));
  for (const a of document.querySelectorAll("#nav a")) {
    const here = a.dataset.page === state.page || (state.page === "module" && a.dataset.page === "modules");
    if (here) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  }
  if (state.page === "module") {
    const sel = $("#ev-module");
    if (![...sel.options].some((o) => o.value === state.module)) sel.add(new Option(state.module, state.module));
    sel.value = state.module;
    presetModule(state.module);
  } else if (state.page === "alarms" && $("#ev-module").value && !$("#ev-module").dataset.chosen) {
    $("#ev-module").value = "";  // the filter a module page set is not the operator's choice
  }
  state.dirty = true;
  window.scrollTo(0, 0);
  if (state.page === "alarms" || state.page === "module") loadEvents();
}
window.addEventListener("hashchange", route);

// a power service's channels (`<svc>/channel/<n>`), in channel order
function channelsOf(svc) {
  if (!svc) return [];
  return Object.entries(state.topics).filter(([t]) => t.startsWith(`${svc}/channel/`))
    .map(([, c]) => c).filter((c) => c && c.id !== undefined).sort((a, b) => a.id - b.id);
}
function channels() { return channelsOf(roots.modules); }

function activeAlarms() {
  return Object.entries(state.topics).filter(([t, a]) => t.startsWith("alarms/") && a && a.severity && a.severity !== "OK")
    .map(([, a]) => a).sort((a, b) => (b.since || 0) - (a.since || 0));
}

function tile(id, level, value, why) {
  $(`#tile-${id}`).className = `tile t-${level}`;
  $(`#sum-${id}`).textContent = value;
  $(`#sum-${id}-why`).textContent = why || "";
}

// the first screen's answer to "is the stand safe, what is on"
function renderSummary() {
  const s = T(`${roots.safety}/status`);
  const up = online(roots.safety);
  const sstate = up ? (s?.state || "?") : "OFFLINE";
  tile("safety", { OK: "ok", WARNING: "warn" }[sstate] || "bad", sstate,
       up ? (s?.message || "all interlocks OK") : "safety service offline: the power supplies' watchdogs take the safe state");
  const dp = s?.interlocks?.dewpoint;
  const margin = dp && typeof dp.value === "number" ? dp.value : null;
  tile("margin", margin === null ? "warn" : ({ OK: "ok", WARNING: "warn" }[dp.state] || "bad"),
       margin === null ? "unknown" : `${margin.toFixed(1)} K`, dp?.message || "");
  const chans = channels().filter((c) => c.active !== false && c.module);
  const hv = chans.filter((c) => ["HV_ON", "HV_RAMP"].includes(c.fsm_state)).length;
  const lv = chans.filter((c) => ["LV_ON", "HV_ON", "HV_RAMP"].includes(c.fsm_state)).length;
  const bad = chans.filter((c) => ["ERROR", "DISCONNECTED"].includes(c.fsm_state));
  tile("power", bad.length ? "bad" : hv ? "on" : lv ? "warn" : "off", `${lv} LV · ${hv} HV of ${chans.length}`,
       bad.length ? bad.map((c) => `${c.module} ${c.fsm_state}`).join(", ") : hv ? "high voltage is on" : lv ? "low voltage only" : "everything off");
  const alarms = activeAlarms();
  const unacked = alarms.filter((a) => !a.acknowledged).length;
  const worst = alarms.some((a) => ["MAJOR", "INVALID"].includes(a.severity)) ? "bad" : alarms.length ? "warn" : "ok";
  tile("alarms", worst, String(alarms.length), alarms.length ? `${unacked} to acknowledge; newest: ${alarms[0].name}` : "none");
  $("#nav-alarms").hidden = !alarms.length;
  $("#nav-alarms").textContent = alarms.length;
  $("#nav-alarms").className = `count t-${worst}`;
  const ch = T(`${roots.co2 || roots.chiller}/status`);
  const csvc = roots.co2 || roots.chiller;
  if (!csvc) tile("cooling", "off", "none", "no chiller in this stand");
  else if (!online(csvc) || !ch) tile("cooling", "bad", "OFFLINE", `${csvc} service offline`);
  else {
    const t = roots.co2 ? ch.CO2_TT05 : ch.internal_temp;
    tile("cooling", ch.fsm_state === "ERROR" || ch.fsm_state === "DISCONNECTED" ? "bad" : "ok",
         `${num(t, 1)} °C`, `${csvc} ${ch.fsm_state || ""}`);
  }
}

// -- one module's page: its values, its history (event log filtered), its trends -------------
function renderModulePage() {
  if (state.page !== "module") return;
  const m = state.module;
  const c = moduleChannel();
  $("#module-name").textContent = m;
  setState($("#module-state"), c ? c.fsm_state : "?");
  $("#module-where").textContent = c ? `${roots.modules} channel ${c.id}` + (c.reason ? ` — ${c.reason}` : "") : "no channel of this stand carries this module";
  const ext = lvOf(c);
  const rows = c ? [["LV", `${num(ext ? ext.vmon : c.lv_vMon)} V, ${num(ext ? ext.imon : c.lv_iMon, 3)} A`],
                    ["HV", `${num(c.hv_vMon, 1)} V, ${num(c.hv_iMon, 3)} µA`],
                    ["HV set", `${num(c.hv_setV, 1)} V, limit ${num(c.hv_maxI, 1)} µA`],
                    ["Read", c.ts ? new Date(c.ts * 1000).toLocaleTimeString() : "–"]] : [];
  $("#module-values").innerHTML = rows.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(v)}</dd>`).join("");
  const form = $("#module-set");
  const place = { "lv-v": ext ? ext.vset : c?.lv_setV, "lv-i": ext ? ext.iset : c?.lv_maxI, "hv-v": c?.hv_setV, "hv-i": c?.hv_maxI };
  for (const [name, v] of Object.entries(place)) form.elements[name].placeholder = typeof v === "number" ? v : "";
  $("#module-clear").hidden = !(c && (c.fsm_state === "ERROR" || ext?.fsm_state === "ERROR"));
}

// set-points and limits: each value typed is one command, to the supply that owns that side;
// the service checks it against the stand's limits and says why when it refuses
$("#module-set").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const c = moduleChannel();
  if (!c) return notice("no channel carries this module", false);
  const ext = lvOf(c);
  const f = new FormData(ev.target);
  const orders = [["lv-v", ext ? [roots.lv_supply, `setv/${ext.id}`] : [roots.modules, `setv/lv/${c.id}`]],
                  ["lv-i", ext ? [roots.lv_supply, `seti/${ext.id}`] : [roots.modules, `seti/lv/${c.id}`]],
                  ["hv-v", [roots.modules, `setv/hv/${c.id}`]], ["hv-i", [roots.modules, `seti/hv/${c.id}`]]];
  let sent = 0;
  for (const [name, [svc, command]] of orders) {
    const v = parseFloat(f.get(name));
    if (isNaN(v)) continue;
    sent++;
    const r = await cmd(svc, command, v);
    if (r.ok) ev.target.elements[name].value = "";
  }
  if (!sent) notice("type a value first", false);
});
$("#module-clear").addEventListener("click", () => {
  const c = moduleChannel();
  if (!c) return;
  const ext = lvOf(c);
  if (ext && ext.fsm_state === "ERROR") cmd(roots.lv_supply, `clear/${ext.id}`);
  else cmd(roots.modules, "clear");
});

// -- event log -------------------------------------------------------------------------------
const evKnown = { service: new Set(), module: new Set() };

// only the newest request's answer is drawn, and a list asked for with other filters (another
// module's page, the whole stand's) is cleared at once: a module's page never shows, even for
// a moment, what another page asked for
let evAsked = 0, evFilters = "";

async function loadEvents() {
  if (state.page !== "alarms" && state.page !== "module") return;
  const filters = new URLSearchParams({ range: $("#ev-range").value });
  for (const k of ["kind", "service", "module", "level"]) if ($(`#ev-${k}`).value) filters.set(k, $(`#ev-${k}`).value);
  if (filters.toString() !== evFilters) {
    evFilters = filters.toString();
    $("#events").innerHTML = "";
  }
  const q = new URLSearchParams(filters);
  q.delete("range");
  q.set("start", Date.now() / 1000 - parseFloat($("#ev-range").value));
  q.set("limit", 500);
  const mine = ++evAsked;
  const r = await api(`/api/events?${q}`);
  if (mine !== evAsked) return;  // a newer request is on its way
  if (r.status !== 200) {
    $("#events").innerHTML = `<li class="error">event log: ${esc(r.body?.detail || "HTTP " + r.status)}</li>`;
    return;
  }
  for (const e of r.body) for (const k of ["service", "module"]) if (e[k]) evKnown[k].add(e[k]);
  for (const c of channels()) if (c.module) evKnown.module.add(c.module);
  for (const k of ["service", "module"]) {
    const sel = $(`#ev-${k}`);
    const cur = sel.value;
    const opts = [...evKnown[k]].sort();
    if (sel.options.length - 1 !== opts.length)
      sel.innerHTML = `<option value="">every ${k}</option>` + opts.map((o) => `<option${o === cur ? " selected" : ""}>${esc(o)}</option>`).join("");
    sel.value = cur;
  }
  $("#no-events").hidden = r.body.length > 0;
  $("#events").innerHTML = r.body.map((e) => `<li class="ev ev-${esc(e.level)}" data-kind="${esc(e.kind)}">
    <time datetime="${new Date(e.ts * 1000).toISOString()}">${new Date(e.ts * 1000).toLocaleString()}</time>
    <span class="kind">${esc(e.kind)}</span>${e.module ? ` <a class="mod" href="#module/${encodeURIComponent(e.module)}">${esc(e.module)}</a>` : ""}
    <span class="text">${esc(e.text)}</span></li>`).join("");
}
for (const k of ["range", "kind", "service", "module", "level"])
  $(`#ev-${k}`).addEventListener("change", (ev) => { if (k === "module") ev.target.dataset.chosen = "1"; loadEvents(); });
setInterval(loadEvents, 5000);

function renderServices() {
  const names = Object.keys(state.topics).filter((t) => t.endsWith("/online"))
    .map((t) => t.split("/")[0]).sort();
  $("#services").innerHTML = names.map((n) =>
    `<span class="svc ${online(n) ? "online" : "offline"}" data-svc="${esc(n)}" title="${online(n) ? "online" : "OFFLINE"}">${esc(n)}</span>`).join("");
}

function setState(el, s) { el.textContent = s ?? "?"; el.className = `state s-${s}`; }

function renderSafety() {
  const s = T(`${roots.safety}/status`);
  const up = online(roots.safety);
  setState($("#safety-state"), up ? s?.state : "OFFLINE");
  $("#safety-message").textContent = up ? (s?.message || "all interlocks OK") : "safety service offline: the CAEN watchdog will take the safe state";
  const rows = Object.entries(s?.interlocks || {}).map(([k, il]) =>
    `<tr data-interlock="${esc(k)}"><td>${esc(k)}</td><td><span class="state s-${esc(il.state)}">${esc(il.state)}</span></td><td>${esc(il.message)}</td></tr>`);
  $("#interlocks tbody").innerHTML = rows.join("");
  const door = state.door && T(`${state.door}/why`);
  $("#door").hidden = !state.door;
  if (state.door) {
    const safe = up && door?.safe_to_open === true;
    $("#door-state").textContent = safe ? "safe to open" : "keep closed";
    $("#door-state").className = `state ${safe ? "s-OK" : "s-WARNING"}`;
    $("#door-why").textContent = safe ? "" : (up ? (door?.why || ["no answer yet"]).join("; ") : "safety service offline");
  }
  const dp = s?.interlocks?.dewpoint;
  $("#margin").textContent = dp && typeof dp.value === "number" ? `${dp.value.toFixed(1)} K` : "unknown";
}

function renderAlarms() {
  const alarms = activeAlarms();
  $("#no-alarms").hidden = alarms.length > 0;
  const html = alarms.map((a) => `<tr data-alarm="${esc(a.name)}">
    <td>${esc(a.name)}</td><td><span class="state s-${esc(a.severity)}">${esc(a.severity)}</span></td>
    <td>${esc(a.current)}</td><td>${esc(a.message)}</td>
    <td>${a.since ? new Date(a.since * 1000).toLocaleTimeString() : ""}</td>
    <td>${a.acknowledged ? "ack'd" : `<button class="ack control" data-source="${esc(a.source)}" data-name="${esc(a.name)}">Ack</button>`}
      ${(a.shelved_until || 0) > Date.now() / 1000
        ? `<span class="shelved" title="no notifications until then">shelved to ${new Date(a.shelved_until * 1000).toLocaleTimeString()}</span> <button class="unshelve control" data-source="${esc(a.source)}" data-name="${esc(a.name)}">Unshelve</button>`
        : `<button class="shelve control" data-source="${esc(a.source)}" data-name="${esc(a.name)}" title="no notifications for 1 h">Shelve 1 h</button>`}</td></tr>`).join("");
  // the same rows are left alone: a button replaced under the pointer loses its click
  if (html !== state.alarmsHtml) $("#alarms tbody").innerHTML = state.alarmsHtml = html;
}


function renderModules() {
  const svc = roots.modules;
  const st = T(`${svc}/status`);
  setState($("#caen-state"), online(svc) ? st?.fsm_state : "OFFLINE");
  const chans = channels();
  const tbody = $("#modules tbody");
  const stale = online(svc) ? "" : "stale";
  for (const c of chans) {
    let tr = tbody.querySelector(`tr[data-channel="${c.id}"]`);
    if (!tr) {
      tr = document.createElement("tr");
      tr.dataset.channel = c.id;
      tr.innerHTML = `<td>${esc(c.id)}</td><td class="module"></td><td><span class="state"></span><small class="reason"></small></td>
        <td class="lv-v" data-label="LV V"></td><td class="lv-i" data-label="LV A"></td><td class="hv-v" data-label="HV V"></td><td class="hv-i" data-label="HV µA"></td>
        <td class="control" data-label="LV"><button class="lv-on">on</button> <button class="lv-off">off</button></td>
        <td class="control" data-label="HV"><button class="hv-on">on</button> <button class="hv-off">off</button></td>
        <td class="control" data-label="HV set (V)"><input class="hv-set" type="number" step="1" aria-label="HV setpoint"> <button class="hv-apply">set</button></td>`;
      tbody.appendChild(tr);
    }
    // a channel the IOC no longer serves: its last numbers are not current (they are null)
    tr.className = stale || (c.connected === false || c.fsm_state === "DISCONNECTED" ? "stale" : "");
    const mcell = $(".module", tr);
    if (mcell.dataset.module !== (c.module || "")) {
      mcell.dataset.module = c.module || "";
      mcell.innerHTML = c.module ? `<a href="#module/${encodeURIComponent(c.module)}">${esc(c.module)}</a>` : "";
    }
    setState($(".state", tr), c.fsm_state);
    $(".state", tr).title = c.reason || "";
    $(".reason", tr).textContent = c.reason || "";  // why it is off or in error, in words
    // a module whose LV is another supply's output (an HMP): that output's values and switch
    const ext = lvOf(c);
    tr.dataset.lv = ext ? `${roots.lv_supply} switch/${ext.id}` : `${svc} switch/lv/${c.id}`;
    $(".lv-v", tr).textContent = num(ext ? ext.vmon : c.lv_vMon);
    $(".lv-i", tr).textContent = num(ext ? ext.imon : c.lv_iMon, 3);
    $(".hv-v", tr).textContent = num(c.hv_vMon, 1);
    $(".hv-i", tr).textContent = num(c.hv_iMon, 3);
    const inp = $(".hv-set", tr);
    if (document.activeElement !== inp && typeof c.hv_setV === "number") inp.placeholder = c.hv_setV;
  }
}

function lvOutputs() { return channelsOf(roots.lv_supply); }

// the LV-supply output of a CAEN channel without LV of its own (an HMP), else null
function lvOf(c) { return c && c.lv_board === null ? lvOutput(c.module) : null; }

function moduleChannel() { return channels().find((x) => x.module === state.module); }

function lvOutput(module) {
  return module ? lvOutputs().find((o) => o.module === module) || null : null;
}

function renderLvSupply() {
  const svc = roots.lv_supply;
  $("#lvps-card").hidden = !svc;
  if (!svc) return;
  const s = T(`${svc}/status`);
  const up = online(svc);
  $("#lvps-model").textContent = s?.model || "LV supply";
  setState($("#lvps-state"), up ? s?.fsm_state : (s ? "OFFLINE" : "?"));
  $("#lvps-card").classList.toggle("stale", !up || s?.fsm_state === "DISCONNECTED");
  $("#lvps tbody").innerHTML = lvOutputs().map((o) => {
    const cls = !up || o.fsm_state === "DISCONNECTED" ? "stale" : "";
    return `<tr data-output="${esc(o.id)}" class="${cls}"><td>${esc(o.id)}</td><td>${esc(o.module || "")}</td>
      <td>${num(o.vset)}</td><td>${num(o.vmon)}</td><td>${num(o.imon, 3)}</td>
      <td><span class="state s-${esc(o.fsm_state)}" title="${esc(o.reason || "")}">${esc(o.fsm_state)}${o.mode === "CC" ? " (CC)" : ""}</span></td></tr>`;
  }).join("");
}

function renderSwitchbox() {
  const svc = roots.switchbox;
  $("#sb-card").hidden = !svc;
  if (!svc) return;
  const s = T(`${svc}/status`);
  const up = online(svc) && s?.fsm_state !== "DISCONNECTED";
  setState($("#sb-state"), online(svc) ? s?.fsm_state : (s ? "OFFLINE" : "?"));
  $("#sb-card").classList.toggle("stale", !up);
  $("#sb-master").textContent = up && typeof s?.lv === "boolean" ? (s.lv ? "on" : "off") : "unknown";
  const modules = s?.modules || {};
  const rows = Object.entries(s?.channels || {}).filter(([n]) => modules[n]);
  const tbody = $("#sb tbody");
  if (tbody.childElementCount !== rows.length) {
    tbody.innerHTML = rows.map(([n]) => `<tr data-relay="${esc(n)}"><td>${esc(n)}</td><td class="module"></td>
      <td><span class="state"></span></td><td class="control"><button class="sb-on">on</button> <button class="sb-off">off</button></td></tr>`).join("");
  }
  for (const [n, st] of rows) {
    const tr = tbody.querySelector(`tr[data-relay="${CSS.escape(n)}"]`);
    if (!tr) continue;
    $(".module", tr).textContent = modules[n];
    setState($(".state", tr), st);
  }
}

function renderChiller() {
  const s = T(`${roots.chiller}/status`);
  const up = online(roots.chiller);
  setState($("#chiller-state"), up ? s?.fsm_state : (s ? "OFFLINE" : "not configured"));
  $("#chiller-card").classList.toggle("stale", !up || s?.fsm_state === "DISCONNECTED");
  if (!s) return;
  $("#chiller-temp").textContent = `${num(s.internal_temp)} °C`;
  const used = s.used_setpoint;
  $("#chiller-setpoint").textContent = used ? `${num(s[`setpoint_${used}`])} °C (SP${used})` : "–";
  // the Julabo's power is signed: negative cools, positive heats
  const p = s.power;
  $("#chiller-power").textContent = typeof p === "number" ? `${num(p, 0)} % (${p < 0 ? "cooling" : p > 0 ? "heating" : "idle"})` : "–";
  $("#chiller-status").textContent = s.message || s.status_text || "";
}

function renderMarta() {
  const svc = roots.co2;
  $("#marta-card").hidden = !svc;
  if (!svc) return;
  const s = T(`${svc}/status`);
  const up = online(svc);
  setState($("#marta-state"), up ? s?.fsm_state : (s ? "OFFLINE" : "?"));
  $("#marta-card").classList.toggle("stale", !up || s?.fsm_state === "DISCONNECTED");
  $("#marta-supply").textContent = `${num(s?.CO2_TT05)} °C`;
  $("#marta-return").textContent = `${num(s?.CO2_TT06)} °C`;
  $("#marta-flow").textContent = `${num(s?.CO2_FT01)} g/s`;
  $("#marta-setpoint").textContent = `${num(s?.temperature_setpoint, 1)} °C`;
  $("#marta-alarms").textContent = s?.alarms?.length ? s.alarms.join(", ") : (s?.message || "none");
}

function renderSensors() {
  const rows = Object.entries(state.topics).filter(([t, v]) => t.startsWith(`${roots.sensors}/`) && t !== `${roots.sensors}/status` && t !== `${roots.sensors}/online` && v && typeof v === "object");
  const now = Date.now() / 1000;
  $("#sensors tbody").innerHTML = rows.map(([t, s]) => {
    const age = s.ts ? now - s.ts : null;
    return `<tr data-sensor="${esc(t.split("/")[1])}" class="${age === null || age > 30 ? "stale" : ""}"><td>${esc(t.split("/")[1])}</td><td>${esc(s.location)}</td>
      <td>${num(s.temperature)}</td><td>${num(s.humidity, 1)}</td><td>${num(s.dewpoint)}</td><td>${age === null ? "–" : age.toFixed(0) + " s"}</td></tr>`;
  }).join("");
}

// -- controls --------------------------------------------------------------------------------
document.addEventListener("click", (ev) => {
  const b = ev.target.closest("button");
  if (!b) return;
  const tr = b.closest("tr[data-channel]");
  const svc = roots.modules;
  if (tr) {
    const id = tr.dataset.channel;
    const [lvSvc, lvCmd] = (tr.dataset.lv || `${svc} switch/lv/${id}`).split(" ");
    if (b.classList.contains("lv-on")) cmd(lvSvc, lvCmd, "on");
    if (b.classList.contains("lv-off")) cmd(lvSvc, lvCmd, "off");
    if (b.classList.contains("hv-on")) cmd(svc, `switch/hv/${id}`, "on");
    if (b.classList.contains("hv-off")) cmd(svc, `switch/hv/${id}`, "off");
    if (b.classList.contains("hv-apply")) {
      const v = parseFloat($(".hv-set", tr).value);
      if (isNaN(v)) return notice("enter a voltage first", false);
      cmd(svc, `setv/hv/${id}`, v);
    }
    return;
  }
  if (b.classList.contains("ack")) cmd(b.dataset.source, "ack", { alarm: b.dataset.name });
  if (b.classList.contains("shelve")) cmd(b.dataset.source, "shelve", { alarm: b.dataset.name, minutes: 60 });
  if (b.classList.contains("unshelve")) cmd(b.dataset.source, "unshelve", { alarm: b.dataset.name });
  const all = { "all-lv-on": ["lv", "on"], "all-lv-off": ["lv", "off"], "all-hv-on": ["hv", "on"], "all-hv-off": ["hv", "off"] }[b.id];
  // powering every module at once is asked twice; switching off never is
  if (all && all[1] === "on") {
    const n = channels().filter((c) => c.active).length;
    if (!confirm(`Switch ${all[0].toUpperCase()} on for all ${n} modules?`)) return notice(`${all[0].toUpperCase()} on for all modules: not sent`, false);
  }
  if (all && all[0] === "lv" && roots.lv_supply) {
    // modules on an LV supply of their own, and any the mainframe powers itself
    cmd(roots.lv_supply, "switch", all[1]);
    if (channels().some((c) => c.active && c.lv_board !== null)) cmd(svc, "switch/lv", all[1]);
  } else if (all) cmd(svc, `switch/${all[0]}`, all[1]);
  if (b.id === "lvps-clear") cmd(roots.lv_supply, "clear");
  if (b.id === "sb-master-on") cmd(roots.switchbox, "switch/lv", "on");
  if (b.id === "sb-master-off") cmd(roots.switchbox, "switch/lv", "off");
  const relay = b.closest("tr[data-relay]");
  if (relay && b.classList.contains("sb-on")) cmd(roots.switchbox, `switch/${relay.dataset.relay}`, "on");
  if (relay && b.classList.contains("sb-off")) cmd(roots.switchbox, `switch/${relay.dataset.relay}`, "off");
  if (b.id === "chiller-start") cmd(roots.chiller, "start");
  if (b.id === "chiller-stop") cmd(roots.chiller, "stop");
  if (b.id === "chiller-set") {
    const v = parseFloat($("#chiller-sp").value);
    if (isNaN(v)) return notice("enter a setpoint first", false);
    cmd(roots.chiller, "setWT", { setpoint: 1, temp: v }).then((r) => r.ok && cmd(roots.chiller, "useSP", { setpoint: 1 }));
  }
  if (b.id === "marta-chiller") cmd(roots.co2, "start_chiller");
  if (b.id === "marta-co2") cmd(roots.co2, "start_co2");
  if (b.id === "marta-stop") cmd(roots.co2, "stop_chiller");
  if (b.id === "marta-clear") cmd(roots.co2, "clear_alarms");
  if (b.id === "marta-set") {
    const v = parseFloat($("#marta-sp").value);
    if (isNaN(v)) return notice("enter a set-point first", false);
    cmd(roots.co2, "set_temperature_setpoint", v);
  }
});

// -- audit -----------------------------------------------------------------------------------
async function loadAudit() {
  const r = await api("/api/audit?limit=100");
  $("#audit-card").hidden = r.status === 403;  // the audit log is for operators and experts
  if (r.status !== 200) return;
  $("#audit tbody").innerHTML = r.body.map((a) => `<tr><td>${new Date(a.ts * 1000).toLocaleString()}</td>
    <td>${esc(a.user)} (${esc(a.role)})</td><td>${esc(a.service)}</td><td>${esc(a.command)}</td>
    <td>${esc(a.payload)}</td><td class="${a.ok ? "" : "error"}">${a.ok ? "ok" : esc(a.error || "no reply")}</td></tr>`).join("");
}

// -- trends: several series, readable names and units, presets, live tail, zoom, export ---------
let allSeries = [];
state.trend = { keys: [], data: null };

async function loadSeries() {
  const r = await api("/api/series");
  if (r.status !== 200) return;
  // words, not numbers: nothing to plot
  allSeries = r.body.filter((k) => !/:(fsm_state|reason|message|status_text|model)$/.test(k));
  fillSeries();
  fillPresets();
}

function parseKey(key) {
  const [head, field] = [key.slice(0, key.lastIndexOf(":")), key.slice(key.lastIndexOf(":") + 1)];
  const [meas, ...pairs] = head.split(",");
  return { meas, field, tags: Object.fromEntries(pairs.map((p) => p.split("="))) };
}

const FIELD_NAMES = { hv_vMon: "HV V", hv_iMon: "HV I", lv_vMon: "LV V", lv_iMon: "LV I", hv_setV: "HV set V",
  lv_setV: "LV set V", vmon: "V", imon: "I", vset: "set V", temperature: "T", humidity: "RH", dewpoint: "dew point",
  internal_temp: "bath T", power: "power", CO2_TT05: "CO2 supply T", CO2_TT06: "CO2 return T", CO2_FT01: "CO2 flow" };

// a Julabo's and a MARTA's, whatever the history schema calls their measurement
const COOLING_FIELDS = ["internal_temp", "external_temp", "setpoint_1", "power", "CO2_TT05", "CO2_TT06",
                        "temperature_setpoint"];

function unitOf(field) {
  if (field === "hv_iMon" || field === "hv_setI") return "µA";
  if (/iMon|imon|_setI$|iset/.test(field)) return "A";
  if (/vMon|vmon|setV|vset/.test(field)) return "V";
  if (/temp|dewpoint|_TT|setpoint/i.test(field)) return "°C";
  if (/humidity/.test(field)) return "%RH";
  if (field === "power") return "%";
  if (/_FT/.test(field)) return "g/s";
  if (/margin/.test(field)) return "K";
  return "";
}

function labelOf(key) {
  const k = parseKey(key);
  const who = k.tags.module || k.tags.sensor || k.tags.channel && `${k.meas} ch${k.tags.channel}` || k.tags.service || k.meas;
  const unit = unitOf(k.field);
  return `${who} ${FIELD_NAMES[k.field] || k.field}${unit ? ` (${unit})` : ""}`;
}

function presets() {
  const out = [];
  const by = (pred) => allSeries.filter((s) => pred(parseKey(s)));
  const modules = [...new Set(allSeries.map((s) => parseKey(s).tags.module).filter(Boolean))].sort();
  // the dew points against the surfaces that could reach them (a chiller's bath, the CO2)
  const env = by((k) => (k.meas === "sensors" && ["temperature", "dewpoint"].includes(k.field))
                        || ["internal_temp", "CO2_TT05"].includes(k.field));
  if (env.length) out.push(["Environment: temperatures and dew points", env]);
  const chiller = by((k) => COOLING_FIELDS.includes(k.field));
  if (chiller.length) out.push(["Chiller", chiller]);
  for (const m of modules) {
    out.push([`${m}: HV V and I`, by((k) => k.tags.module === m && ["hv_vMon", "hv_iMon"].includes(k.field))]);
    out.push([`${m}: LV V and I`, by((k) => k.tags.module === m && ["lv_vMon", "lv_iMon", "vmon", "imon"].includes(k.field))]);
  }
  return out.filter(([, keys]) => keys.length);
}

function fillPresets() {
  const sel = $("#preset");
  const cur = sel.value;
  sel.innerHTML = `<option value="">presets…</option>` + presets().map(([name]) => `<option${name === cur ? " selected" : ""}>${esc(name)}</option>`).join("");
}

function fillSeries() {
  const f = $("#series-filter").value;
  const cur = $("#series").value;
  $("#series").innerHTML = allSeries.filter((s) => s.includes(f) || labelOf(s).includes(f))
    .map((s) => `<option value="${esc(s)}"${s === cur ? " selected" : ""}>${esc(labelOf(s))} — ${esc(s)}</option>`).join("");
}
$("#series-filter").addEventListener("input", fillSeries);
$("#series").addEventListener("focus", loadSeries, { once: true });
$("#preset").addEventListener("focus", loadSeries, { once: true });
$("#range").addEventListener("change", () => { state.zoom = null; plot(); });
$("#preset").addEventListener("change", () => {
  const hit = presets().find(([name]) => name === $("#preset").value);
  if (hit) setSeries(hit[1]);
});

function setSeries(keys) {
  state.trend.keys = [...new Set(keys)].slice(0, 12);
  state.zoom = null;
  $("#chosen").innerHTML = state.trend.keys.map((k) => `<li title="${esc(k)}">${esc(labelOf(k))} <button type="button" class="drop" data-key="${esc(k)}" aria-label="remove ${esc(labelOf(k))}">×</button></li>`).join("");
  plot();
}

async function presetModule(m) {
  if (!allSeries.length) await loadSeries();
  const keys = allSeries.filter((s) => { const k = parseKey(s); return k.tags.module === m && /^(hv|lv)_[vi]Mon$|^[vi]mon$/.test(k.field); });
  setSeries(keys);
}

let plotAsked = 0;
async function plot() {
  const keys = state.trend.keys;
  const asked = ++plotAsked;
  if (state.plot) { state.plot.destroy(); state.plot = null; }
  $("#plot-empty").hidden = keys.length > 0;
  if (!keys.length) return;
  const now = Date.now() / 1000;
  const [start, end] = state.zoom || [now - parseFloat($("#range").value), now];
  const width = Math.max(260, $("#plot").clientWidth);
  const n = Math.round(width / 3);
  const got = await Promise.all(keys.map((k) => api(`/api/history?series=${encodeURIComponent(k)}&start=${start}&end=${end}&n=${n}`)));
  const bad = got.find((r) => r.status !== 200);
  if (bad) return notice(`history: ${(bad.body && bad.body.detail) || bad.status}`, false);
  if (asked !== plotAsked) return;  // another choice or range came meanwhile: its draw wins
  if (state.plot) { state.plot.destroy(); state.plot = null; }
  const data = uPlot.join(got.map((r) => [r.body.ts, r.body.mean]));
  const units = [...new Set(keys.map((k) => unitOf(parseKey(k).field)))];
  const axis = { stroke: "#8a96a3", grid: { stroke: "#2a323b" } };
  state.trend.end = end;
  const span = end - start;
  // the range asked for, moving on with the live tail
  const scales = { x: { time: true, range: () => state.zoom ? [start, end] : [state.trend.end - span, state.trend.end] } };
  units.forEach((u) => { scales[u || "-"] = { auto: true }; });
  const axes = [axis, ...units.slice(0, 2).map((u, i) => ({ ...axis, scale: u || "-", label: u, side: i ? 1 : 3, size: 60,
                                                           grid: { show: i === 0, stroke: "#2a323b" } }))];
  state.trend.data = data;
  state.plot = new uPlot({
    width, height: 340, scales, axes, legend: { live: true },
    series: [{}, ...keys.map((k, i) => ({ label: labelOf(k), scale: unitOf(parseKey(k).field) || "-",
                                          stroke: COLORS[i % COLORS.length], width: 1.5, spanGaps: true }))],
    hooks: { setSelect: [(u) => {
      if (u.select.width < 5) return;
      state.zoom = [u.posToVal(u.select.left, "x"), u.posToVal(u.select.left + u.select.width, "x")];
      plot();  // the zoomed range again, at full resolution
    }] },
    cursor: { drag: { x: true, y: false, setScale: false } },
  }, data, $("#plot"));
}

// live tail: the plotted series' values as they arrive on the WebSocket, between refetches
function liveValue(key) {
  const k = parseKey(key);
  const svc = k.tags.service || k.meas.split(".")[0];
  const topic = k.tags.channel ? `${svc}/channel/${k.tags.channel}` : k.tags.sensor ? `${roots.sensors}/${k.tags.sensor}` : `${svc}/status`;
  const p = T(topic);
  const v = p && p[k.field];
  return p && typeof v === "number" && isFinite(v) && typeof p.ts === "number" ? [p.ts, v] : null;
}

function tail() {
  const d = state.trend.data;
  if (!state.plot || !d || state.zoom || !$("#live").checked) return;
  const vals = state.trend.keys.map(liveValue);
  const ts = Math.max(...vals.map((v) => (v ? v[0] : 0)));
  if (!ts || ts <= d[0][d[0].length - 1]) return;
  d[0].push(ts);
  state.trend.end = ts;
  vals.forEach((v, i) => d[i + 1].push(v ? v[1] : null));
  state.plot.setData(d);
}
setInterval(tail, 1000);
setInterval(() => { if ($("#live").checked && !state.zoom && state.plot && state.page !== "runs") plot(); }, 60000);

function download(name, href) {
  const a = document.createElement("a");
  a.href = href; a.download = name;
  document.body.appendChild(a); a.click(); a.remove();
}

document.addEventListener("click", (ev) => {
  const b = ev.target.closest("button");
  if (!b) return;
  if (b.classList.contains("drop")) setSeries(state.trend.keys.filter((k) => k !== b.dataset.key));
  if (b.id === "add-series" && $("#series").value) setSeries([...state.trend.keys, $("#series").value]);
  if (b.id === "unzoom") { state.zoom = null; plot(); }
  if (b.id === "csv" && state.trend.data) {
    const d = state.trend.data;
    const rows = [["time_utc", ...state.trend.keys.map(labelOf)].join(",")];
    for (let i = 0; i < d[0].length; i++) rows.push([new Date(d[0][i] * 1000).toISOString(), ...d.slice(1).map((s) => s[i] ?? "")].join(","));
    download("trend.csv", URL.createObjectURL(new Blob([rows.join("\n") + "\n"], { type: "text/csv" })));
  }
  if (b.id === "png" && state.plot) download("trend.png", state.plot.ctx.canvas.toDataURL("image/png"));
});
setInterval(loadAudit, 10000);

start();

// -- runs ------------------------------------------------------------------------------------
const utc = (t) => (t ? new Date(t * 1000).toISOString().replace("T", " ").slice(0, 19) : "–");

function renderRuns() {
  const s = T(`${roots.runs}/status`);
  setState($("#runs-state"), online(roots.runs) ? (s?.state || "?") : "OFFLINE");
  $("#run-progress").textContent = s && s.run ? `Run ${s.run} (${s.calibration}), Ph2_ACF run ${s.run_number ?? "–"}: ` +
    `${s.state}, step ${s.steps_done}${s.step ? " (" + s.step + ")" : ""}, ${num(s.elapsed, 0)} s` +
    (s.remaining != null ? `, about ${num(s.remaining, 0)} s left` : "") : "No run in progress.";
  const runs = Object.entries(state.topics).filter(([t]) => t.startsWith(`${roots.runs}/run/`))
    .map(([, r]) => r).filter((r) => r && r.id).sort((a, b) => b.id - a.id).slice(0, 50);
  $("#no-runs").hidden = runs.length > 0;
  $("#runs tbody").innerHTML = runs.map((r) => `<tr data-run="${r.id}" class="clickable">
    <td>${r.id}</td><td>${r.kind === "sequence" ? "sequence: " : r.kind === "iv" ? "IV scan" : ""}${r.kind === "iv" ? "" : esc(r.calibration)}</td><td><span class="state s-${esc(r.status)}">${esc(r.status)}</span></td>
    <td data-label="Ph2_ACF run">${esc(r.run_number ?? "–")}</td><td data-label="start">${utc(r.start)}</td><td data-label="took">${r.end ? num(r.end - r.start, 0) + " s" : "–"}</td>
    <td>${esc((r.modules || []).join(", "))}</td><td>${esc(r.reason || "")}</td></tr>`).join("");
}

function runBody() {
  return { calibration: $("#run-calibration").value.trim(), note: $("#run-note").value };
}

async function checkRun() {
  const r = await api(`/api/cmd/${roots.runs}/check`, { method: "POST", body: JSON.stringify(runBody()) });
  const res = r.body?.result;
  const items = !r.body?.ok ? [r.body?.error || r.body?.detail || `HTTP ${r.status}`]
    : res.ready ? [] : res.problems;
  $("#run-problems").innerHTML = res?.ready ? `<li class="ok">Ready for ${esc(runBody().calibration)}.</li>`
    : items.map((p) => `<li class="error">${esc(p)}</li>`).join("");
  // the answer where the operator looks, even if the cards above changed size meanwhile
  $("#run-problems").scrollIntoView({ block: "nearest" });
}

$("#run-check").addEventListener("click", checkRun);
$("#run-start").addEventListener("click", async () => {
  const b = await cmd(roots.runs, "start", runBody());
  if (!b.ok) checkRun();
  else $("#run-problems").innerHTML = "";
});
$("#run-stop").addEventListener("click", () => cmd(roots.runs, "stop", { reason: `stopped by ${state.me.user} from the UI` }));

$("#runs tbody").addEventListener("click", (ev) => {
  const row = ev.target.closest("tr[data-run]");
  if (row) showRun(row.dataset.run);
});

async function showRun(id) {
  const r = await api(`/api/cmd/${roots.runs}/show/${id}`, { method: "POST", body: "null" });
  if (!r.body?.ok) return notice(`run ${id}: ${r.body?.error || r.body?.detail}`, false);
  const d = r.body.result;
  if (d.kind === "sequence") {
    renderSteps(d);
    return $("#sequence-card").scrollIntoView({ block: "start" });
  }
  $("#run-detail").hidden = false;
  $("#run-detail-title").textContent = `Run ${d.id}: ${d.calibration}, ${d.status}` + (d.reason ? ` (${d.reason})` : "") +
    `, ${utc(d.start)} → ${utc(d.end)} UTC` + (d.result ? `, ${d.result}` : "") + (d.sequence ? `, sequence ${d.sequence}` : "");
  const rows = [];
  const c = d.conditions || {};
  const add = (label, x) => { if (x) rows.push(`<tr><td>${esc(label)}</td><td>${num(x.min)}</td><td>${num(x.mean)}</td><td>${num(x.max)}</td><td>${x.n}</td></tr>`); };
  for (const [n, f] of Object.entries(c.sensors || {})) for (const [k, x] of Object.entries(f)) add(`${n} ${k}`, x);
  add("dew-point margin (K)", c.dewpoint_margin);
  for (const [n, f] of Object.entries(c.chiller || {})) for (const [k, x] of Object.entries(f)) add(`${n} ${k}`, x);
  // each module's LV and HV from whichever supply gives it, with the units it declares
  for (const [m, sides] of Object.entries(c.modules || {})) for (const [side, x] of Object.entries(sides)) {
    const where = `${m} ${side.toUpperCase()} (${x.service} ${x.channel})`;
    add(`${where} voltage (${x.units?.voltage || "V"})`, x.voltage);
    add(`${where} current (${x.units?.current || ""})`, x.current);
  }
  $("#run-conditions tbody").innerHTML = rows.join("");
  $("#run-log").textContent = (d.log_tail || []).join("\n");
  $("#run-log").hidden = !(d.log_tail || []).length;
  if (d.kind === "iv") {
    state.iv.set(d.id, d);
    drawIv();
    return $("#iv-box").scrollIntoView({ block: "nearest" });
  }
  $("#run-detail").scrollIntoView({ block: "nearest" });
}

// -- IV curves: I against |V|, every module of every scan clicked, overlaid --------------------
state.iv = new Map();

function drawIv() {
  const box = $("#iv-box");
  box.hidden = state.iv.size === 0;
  if (state.ivPlot) { state.ivPlot.destroy(); state.ivPlot = null; }
  if (!state.iv.size) return;
  const log = $("#iv-log").checked;
  const curves = [];
  for (const d of state.iv.values())
    for (const c of Object.values(d.curves || {}))
      curves.push({ label: `#${d.id} ${c.module}${c.status !== "done" ? " (" + c.status + ")" : ""}`,
                    pts: new Map(c.points.map((p) => [Math.round(Math.abs(p.v) * 100) / 100, p.i])) });
  const xs = [...new Set(curves.flatMap((c) => [...c.pts.keys()]))].sort((a, b) => a - b);
  const ys = curves.map((c) => xs.map((x) => {
    const i = c.pts.get(x);
    return i == null || (log && !(i > 0)) ? null : i;
  }));
  const width = Math.max(280, $("#iv-plot").clientWidth || box.clientWidth);
  const axis = { stroke: "#8a96a3", grid: { stroke: "#2a323b" } };
  state.ivPlot = new uPlot({
    width, height: 320,
    scales: { x: { time: false }, y: { distr: log ? 3 : 1 } },
    series: [{ label: "|V| (V)" }, ...curves.map((c, k) => ({
      label: c.label, stroke: COLORS[k % COLORS.length], width: 1.5, spanGaps: true,
      points: { show: true, size: 4 } }))],
    axes: [{ ...axis, label: "|V| (V)" }, { ...axis, label: "I (µA)", size: 70 }],
  }, [xs, ...ys], $("#iv-plot"));
}
$("#iv-log").addEventListener("change", drawIv);
$("#iv-clear").addEventListener("click", () => { state.iv.clear(); drawIv(); });

// -- sequences -------------------------------------------------------------------------------
let seqSeen = "";

function renderSequence() {
  const s = T(`${roots.runs}/sequence`);
  setState($("#seq-state"), online(roots.runs) ? (s?.state || "idle") : "OFFLINE");
  if (!s || s.id == null) { $("#seq-progress").textContent = "No sequence."; return; }
  const cyc = s.cycle ? `, cycle ${s.cycle}` : "";
  const eta = s.eta != null ? `, ${s.eta_complete ? "" : "at least "}${num(s.eta, 0)} s to go` : "";
  $("#seq-progress").textContent = `Sequence ${s.id} (${s.name}) ${s.state}: step ${s.step_no} of ${s.total}${cyc}: ` +
    `${s.step}; ${num(s.elapsed, 0)} s since start${eta}` + (s.reason ? `. ${s.reason}` : "");
  const key = `${s.id}/${s.state}/${s.step_no}/${s.done_steps}/${s.failed_steps}`;
  if (key !== seqSeen) { seqSeen = key; loadSteps(s.id); }
}

async function loadSteps(id) {
  const r = await api(`/api/cmd/${roots.runs}/show/${id}`, { method: "POST", body: "null" });
  if (r.body?.ok) renderSteps(r.body.result);
}

function renderSteps(d) {
  $("#seq-title").textContent = `Sequence ${d.id}: ${d.calibration}, ${d.status}` + (d.reason ? ` (${d.reason})` : "") +
    `, started ${utc(d.start)} UTC by ${d.operator || "–"}` + (d.end ? `, ended ${utc(d.end)} UTC` : "");
  $("#seq-steps tbody").innerHTML = (d.steps || []).map((st) => `<tr data-step="${st.index + 1}">
    <td>${st.index + 1}</td><td>${esc(st.cycle)}</td><td>${esc(st.label)}</td>
    <td><span class="state s-${esc(st.status)}">${esc(st.status)}</span></td>
    <td>${(st.runs || []).map((id) => `<a href="#" data-run="${id}">${id}</a>`).join(" ")}</td>
    <td>${esc(st.reason || "")}</td></tr>`).join("");
  $("#seq-events").innerHTML = (d.events || []).map((e) => `<li>${utc(e.ts)} ${esc(e.event)}: ${esc(e.detail)}</li>`).join("");
}

$("#seq-steps").addEventListener("click", (ev) => {
  const a = ev.target.closest("a[data-run]");
  if (!a) return;
  ev.preventDefault();
  showRun(a.dataset.run);
});

async function loadRecipes() {
  const r = await api(`/api/cmd/${roots.runs}/sequence/recipes`, { method: "POST", body: "null" });
  const list = r.body?.ok ? r.body.result.recipes : [];
  const sel = $("#seq-recipe");
  const cur = sel.value;  // the operator's choice survives a reload of the list
  sel.innerHTML = list.map((x) => x.error
    ? `<option value="${esc(x.file)}" disabled>${esc(x.file)}: invalid</option>`
    : `<option value="${esc(x.file)}"${x.file === cur ? " selected" : ""}>${esc(x.name)} (${x.steps} steps)</option>`).join("");
}
$("#seq-recipe").addEventListener("focus", loadRecipes);
$("#seq-start").addEventListener("click", async () => {
  const b = await cmd(roots.runs, "sequence/start", { recipe: $("#seq-recipe").value });
  // the steps appear under the progress line: the card to the top, where they will be seen
  if (b.ok) $("#sequence-card").scrollIntoView({ block: "start" });
});
$("#seq-pause").addEventListener("click", () => cmd(roots.runs, "sequence/pause"));
$("#seq-resume").addEventListener("click", () => cmd(roots.runs, "sequence/resume", {}));
$("#seq-abort").addEventListener("click", () => {
  if (confirm("Abort the sequence? The step stops and the modules are switched off (HV, then LV)."))
    cmd(roots.runs, "sequence/abort", { reason: `aborted by ${state.me.user} from the UI` });
});
