// The planner page: sign in with an API key, rank stock risk, read a series, decide an
// allocation, see the decisions, watch alerts and channel health (monitor.js), read and
// generate the monthly reports (reports.js), open the channel tree's levels (levels.js). Talks only to the service's /v1 API (same
// origin).
"use strict";

import { seriesChart, sparkline } from "./chart.js";
import { onMethodChange, showAggregate, showLevels, showUpLinks } from "./levels.js";
import { showAlerts, showHealth } from "./monitor.js";
import { generateReport, showReports } from "./reports.js";

const KEY = "channelcast-key";
const state = { key: sessionStorage.getItem(KEY), me: null, nodes: null, skus: null,
                alloc: null, previewTimer: null, previewSeq: 0 };
const $ = (sel) => document.querySelector(sel);

class ApiError extends Error {
  constructor(status, detail) { super(detail); this.status = status; }
}

async function api(method, path, body) {
  const headers = { "X-API-Key": state.key || "" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(`/v1${path}`, { method, headers,
    body: body === undefined ? undefined : JSON.stringify(body) });
  let data = null;
  try { data = await res.json(); } catch { data = null; }
  if (!res.ok) throw new ApiError(res.status, (data && data.detail) || `HTTP ${res.status}`);
  return data;
}

function banner(text, kind = "error") {
  const b = $("#banner");
  if (!text) { b.hidden = true; return; }
  b.textContent = text;
  b.className = kind === "info" ? "info" : "";
  b.hidden = false;
}

function fail(err) {
  if (err instanceof ApiError && err.status === 401) { signOut("Your key was refused: " +
    err.message); return; }
  banner(err.message || String(err));
}

const num = (v, digits = 1) => (v === null || v === undefined || !Number.isFinite(v) ? "–"
  : v.toLocaleString(undefined, { maximumFractionDigits: digits }));
const pct = (v) => (v === null || v === undefined ? "–" : `${Math.round(v * 100)}%`);
const td = (text, cls) => { const c = document.createElement("td"); c.textContent = text;
  if (cls) c.className = cls; return c; };
const badge = (text) => { const s = document.createElement("span");
  s.className = `badge ${text}`; s.textContent = text; return s; };
// A fact box of a summary: the value in bold over its label.
const fact = (label, value) => { const d = document.createElement("div");
  const b = document.createElement("b"); b.textContent = value;
  const sp = document.createElement("span"); sp.textContent = label; d.append(b, sp);
  return d; };

function show(view) {
  for (const s of document.querySelectorAll(".view")) s.hidden = s.id !== `view-${view}`;
  if (view !== "series") state.seriesFrom = view;
  for (const a of document.querySelectorAll("nav a")) {
    a.classList.toggle("active", a.dataset.view === view ||
      (view === "series" && a.dataset.view === (state.seriesFrom || "risk")));
  }
}

// ---- sign in --------------------------------------------------------------------------
async function signIn(key) {
  state.key = key;
  try {
    state.me = await api("GET", "/me");
  } catch (err) {
    state.key = null;
    throw err;
  }
  sessionStorage.setItem(KEY, key);
  $("#who-name").textContent = `${state.me.name} (${state.me.role})`;
  $("#nav").hidden = false;
  $("#who").hidden = false;
  $("nav a[data-view=reports]").hidden = state.me.role === "erp"; // reports are planners'

}

function signOut(message) {
  sessionStorage.removeItem(KEY);
  Object.assign(state, { key: null, me: null, alloc: null });
  $("#nav").hidden = true;
  $("#who").hidden = true;
  show("signin");
  if (location.hash !== "#signin") history.replaceState(null, "", "#signin");
  banner(message || "", message ? "error" : "info");
}

// ---- lookups ----------------------------------------------------------------------------
async function lookups() {
  if (state.nodes && state.skus) return;
  const [nodes, skus] = await Promise.all([api("GET", "/nodes"), api("GET", "/skus")]);
  state.nodes = nodes.nodes;
  state.skus = skus.skus;
  const fill = (select, values) => {
    for (const v of values) { const o = document.createElement("option"); o.value = v;
      o.textContent = v; select.appendChild(o); }
  };
  fill($("#f-channel"), [...new Set(state.nodes.map((n) => n.channel).filter(Boolean))].sort());
  fill($("#f-region"), [...new Set(state.nodes.map((n) => n.region).filter(Boolean))].sort());
  const list = $("#sku-list");
  for (const s of state.skus) { const o = document.createElement("option"); o.value = s.sku;
    list.appendChild(o); }
}

// The central stock on record, read afresh from /v1/skus each time the allocation view opens
// (an inventory snapshot may have changed it): the sku list and the available field show this
// one number, and a proposal without another number splits it.
async function loadCentralStock() {
  state.skus = (await api("GET", "/skus")).skus;
  const pick = $("#a-sku");
  const chosen = pick.value;
  pick.replaceChildren();
  for (const s of state.skus.filter((x) => x.available !== null)) {
    const o = document.createElement("option");
    o.value = s.sku;
    o.textContent = `${s.sku} — ${String(s.available)} in central stock`;
    pick.appendChild(o);
  }
  if (chosen && state.skus.some((s) => s.sku === chosen && s.available !== null)) {
    pick.value = chosen;
  }
  fillAvailable();
}

function onRecord(sku) {
  const s = (state.skus || []).find((x) => x.sku === sku);
  return s ? s.available : null;
}

function fillAvailable() {
  const stock = onRecord($("#a-sku").value);
  $("#a-available").value = stock === null ? "" : String(stock);
  noteAvailable();
}

function noteAvailable() {
  const stock = onRecord($("#a-sku").value);
  const typed = $("#a-available").value;
  const note = $("#a-note");
  note.hidden = stock === null || typed === "" || Number(typed) === stock;
  note.textContent = note.hidden ? "" : `${String(stock)} in central stock on record; ` +
    `the proposal will split ${typed}.`;
}

// ---- risk ----------------------------------------------------------------------------------
async function showRisk() {
  show("risk");
  await lookups();
  const body = { top: Number($("#f-top").value) };
  if ($("#f-channel").value) body.channel = $("#f-channel").value;
  if ($("#f-class").value) body.risk_class = [$("#f-class").value];
  if ($("#f-sku").value.trim()) body.skus = [$("#f-sku").value.trim()];
  const region = $("#f-region").value;
  if (region) body.nodes = state.nodes.filter((n) => n.region === region).map((n) => n.node_id);
  const out = await api("POST", "/stock-risk", body);
  $("#risk-count").textContent = `${out.rows.length} of ${out.total} · forecast from ` +
    `${out.origin} · model v${out.model_version ?? "?"}`;
  const tbody = $("#risk-table tbody");
  tbody.replaceChildren();
  for (const r of out.rows) {
    const tr = document.createElement("tr");
    tr.className = "clickable";
    tr.dataset.node = r.node_id;
    tr.dataset.sku = r.sku;
    const cls = document.createElement("td");
    cls.appendChild(badge(r.risk_class));
    tr.append(td(String(r.rank)), td(r.node_id), td(r.sku), td(r.channel ?? "–"), cls,
      td(num(r.weeks_of_cover), "num"), td(pct(r.p_stockout), "num"),
      td(num(r.expected_lost_units), "num"), td(num(r.expected_lost_value, 0), "num"),
      td("", "spark-cell"));
    tr.addEventListener("click", () => { location.hash =
      `#series/${encodeURIComponent(r.node_id)}/${encodeURIComponent(r.sku)}`; });
    tbody.appendChild(tr);
  }
  if (!out.rows.length) {
    const tr = document.createElement("tr");
    const c = td("No node x sku matches these filters.");
    c.colSpan = 10;
    tr.appendChild(c);
    tbody.appendChild(tr);
    return;
  }
  const recent = await api("POST", "/series/recent", {
    series: out.rows.map((r) => ({ node_id: r.node_id, sku: r.sku })), periods: 26 });
  const byKey = new Map(recent.series.map((s) => [`${s.node_id}\u0000${s.sku}`, s]));
  for (const tr of tbody.querySelectorAll("tr.clickable")) {
    const s = byKey.get(`${tr.dataset.node}\u0000${tr.dataset.sku}`);
    if (s) tr.querySelector(".spark-cell").appendChild(sparkline(s.units,
      { label: `last ${s.units.length} periods: ${s.units.map((v) => v ?? "–").join(", ")}` }));
  }
}

// ---- series ------------------------------------------------------------------------------
async function showSeries(node, sku, marked) {
  show("series");
  const from = state.seriesFrom === "alerts" ? "alerts" : "risk";
  $("#series-back").href = `#${from}`;
  $("#series-back").textContent = from === "alerts" ? "← Alerts" : "← Stock risk";
  $("#series-title").textContent = `${node} · ${sku}`;
  $("#series-facts").replaceChildren();
  $("#series-chart").replaceChildren();
  $("#series-method-form").hidden = true;
  $("#series-up").hidden = true;
  const s = await api("GET", `/series/${encodeURIComponent(node)}/${encodeURIComponent(sku)}`);
  await lookups();
  await showUpLinks(ui, node, sku);
  const err = s.backtest || {};
  $("#series-facts").append(
    fact("model serving this series", s.model),
    fact("backtest error (MAE / scale)", num(err.mae_scaled, 2)),
    fact("backtest WAPE", pct(err.wape)),
    fact("demand class", s.demand_class ?? "–"),
    fact("channel / region", `${s.channel ?? "–"} / ${s.region ?? "–"}`),
    fact("forecast from", s.origin),
    fact("model version", s.model_version ?? "–"));
  $("#series-chart").appendChild(seriesChart({
    history: s.history.map((r) => ({ date: r.date, units: r.units, stockout: r.stockout,
                                     promo: r.promo })),
    forecast: s.forecast.map((r) => ({ date: r.date, mean: r.mean, lo: r.lo, hi: r.hi,
                                       promo: false })),
    unit: `units per ${s.period}`, bandLabel: "80% interval (10%–90%)", marked }));
  const tbody = $("#series-forecast tbody");
  tbody.replaceChildren();
  for (const r of s.forecast) {
    const tr = document.createElement("tr");
    tr.append(td(r.date), td(num(r.mean, 2), "num"), td(num(r.lo, 2), "num"),
              td(num(r.hi, 2), "num"));
    tbody.appendChild(tr);
  }
}

// ---- allocation ----------------------------------------------------------------------------
async function showAllocation() {
  show("allocation");
  await lookups();
  await loadCentralStock();
}

async function propose() {
  const body = { sku: $("#a-sku").value };
  const avail = $("#a-available").value;
  if (avail !== "") body.available = Number(avail);
  state.alloc = await api("POST", "/allocations", body);
  renderAllocation();
}

function renderAllocation() {
  const a = state.alloc;
  $("#alloc-result").hidden = false;
  $("#alloc-summary").replaceChildren(
    fact("allocation", `#${a.id}`), fact("status", a.status),
    fact("available units", num(a.available, 0)), fact("pack size", String(a.pack_size)),
    fact("proposed in all", num(a.allocated, 0)), fact("model version", a.model_version ?? "–"));
  const tbody = $("#alloc-table tbody");
  tbody.replaceChildren();
  for (const line of a.lines) {
    const tr = document.createElement("tr");
    tr.dataset.node = line.node_id;
    tr.title = line.reason;
    const qty = document.createElement("input");
    qty.type = "number";
    qty.min = "0";
    qty.step = String(a.pack_size);
    qty.value = String(line.allocated);
    qty.className = "qty";
    qty.setAttribute("aria-label", `units for ${line.node_id}`);
    qty.disabled = a.status === "approved";
    qty.dataset.proposed = String(line.allocated);
    qty.addEventListener("input", () => {
      qty.classList.toggle("changed", Number(qty.value) !== Number(qty.dataset.proposed));
      clearTimeout(state.previewTimer);
      state.previewTimer = setTimeout(() => preview().catch(fail), 250);
    });
    const cell = td("", "num");
    cell.appendChild(qty);
    tr.append(td(line.node_id), td(String(line.priority), "num"),
      td(`${num(line.demand_mean)} / ${num(line.demand_q0_9)}`, "num"),
      td(num(line.position_before), "num"), cell, td(num(line.position_after), "num pos-after"),
      td(`${pct(line.p_stockout_before)} → ${pct(line.p_stockout_after)}`, "num p-after"),
      why(line));
    tbody.appendChild(tr);
  }
  $("#a-approve").disabled = a.status === "approved";
  updateTotal();
}

function why(line) {
  const cell = document.createElement("td");
  cell.className = "why";
  const bound = document.createElement("b");
  bound.textContent = line.bound;
  const text = document.createElement("div");
  text.className = "reason";
  text.textContent = line.reason;
  cell.append(bound, text);
  return cell;
}

function edits() {
  const out = {};
  for (const input of document.querySelectorAll("#alloc-table input.qty")) {
    if (Number(input.value) !== Number(input.dataset.proposed)) {
      out[input.closest("tr").dataset.node] = Number(input.value);
    }
  }
  return out;
}

function updateTotal() {
  let total = 0;
  for (const input of document.querySelectorAll("#alloc-table input.qty")) {
    total += Number(input.value) || 0;
  }
  const a = state.alloc;
  $("#alloc-total").textContent = `${num(total, 0)} of ${num(a.available, 0)} units allocated` +
    (total > a.available ? " — more than available" : "");
  return total;
}

async function preview() {
  const total = updateTotal();
  const lines = {};
  for (const input of document.querySelectorAll("#alloc-table input.qty")) {
    lines[input.closest("tr").dataset.node] = Number(input.value) || 0;
  }
  const seq = ++state.previewSeq;
  const out = await api("POST", `/allocations/${state.alloc.id}/preview`, { lines });
  if (seq !== state.previewSeq) return; // a later edit's preview is on its way
  const byNode = new Map(out.lines.map((l) => [l.node_id, l]));
  for (const tr of document.querySelectorAll("#alloc-table tbody tr")) {
    const line = state.alloc.lines.find((l) => l.node_id === tr.dataset.node);
    const p = byNode.get(tr.dataset.node);
    if (!p || !line) continue;
    tr.querySelector(".pos-after").textContent = num(p.position_after);
    const cell = tr.querySelector(".p-after");
    cell.textContent = `${pct(line.p_stockout_before)} → ${pct(p.p_stockout_after)}`;
    cell.classList.toggle("better", p.p_stockout_after < line.p_stockout_after - 1e-9);
    cell.classList.toggle("worse", p.p_stockout_after > line.p_stockout_after + 1e-9);
    tr.querySelector("td.why").replaceWith(why(p));
    tr.title = p.reason;
  }
  banner(total > state.alloc.available ? `The lines add up to ${num(total, 0)} units, more ` +
    `than the ${num(state.alloc.available, 0)} available.` : "");
}

async function approve() {
  const a = state.alloc;
  const changed = edits();
  const reason = $("#a-reason").value.trim();
  if (Object.keys(changed).length && !reason) {
    banner("Say why you changed the lines (the reason is recorded with the decision).");
    return;
  }
  if (Object.keys(changed).length) {
    await api("POST", `/allocations/${a.id}/decision`, { action: "override", lines: changed,
                                                         reason });
  }
  state.alloc = await api("POST", `/allocations/${a.id}/decision`,
                          { action: "approve", reason: reason || null });
  renderAllocation();
  banner(`Allocation #${a.id} approved.`, "info");
}

// ---- history -----------------------------------------------------------------------------
async function showHistory() {
  show("history");
  await lookups();
  const params = new URLSearchParams({ limit: "25" });
  if ($("#h-status").value) params.set("status", $("#h-status").value);
  if ($("#h-sku").value.trim()) params.set("sku", $("#h-sku").value.trim());
  const list = await api("GET", `/allocations?${params}`);
  const details = await Promise.all(list.items.map((i) => api("GET", `/allocations/${i.id}`)));
  const tbody = $("#history-table tbody");
  tbody.replaceChildren();
  for (const a of details) {
    const tr = document.createElement("tr");
    const status = document.createElement("td");
    status.appendChild(badge(a.status));
    const changes = a.decisions.flatMap((d) => (d.changes || []).map((c) =>
      `${c.node_id}: ${num(Number(c.from), 0)} → ${num(Number(c.to), 0)}`));
    const reasons = [...new Set(a.decisions.map((d) => d.reason).filter(Boolean))];
    const what = [changes.join("; "), reasons.length ? `“${reasons.join(" / ")}”` : ""]
      .filter(Boolean).join(" ");
    tr.append(td(`#${a.id}`), td(a.sku), status,
      td(`${num(a.allocated, 0)} / ${num(a.available, 0)}`, "num"), td(a.created_by),
      td(a.decided_by ?? "–"), td(a.decided_at ? a.decided_at.replace("T", " ").slice(0, 16)
                                  : "–"), td(what || "accepted as proposed", "wrap"));
    tbody.appendChild(tr);
  }
  if (!details.length) {
    const tr = document.createElement("tr");
    const c = td("No allocations yet.");
    c.colSpan = 8;
    tr.appendChild(c);
    tbody.appendChild(tr);
  }
}

// What monitor.js's views use of this page.
const ui = { state, $, api, td, badge, fact, num, show, lookups, banner, fail };

// ---- routing -------------------------------------------------------------------------------
async function route() {
  banner("");
  if (!state.key) { show("signin"); return; }
  if (!state.me) {
    try { await signIn(state.key); } catch (err) { signOut(err.message); return; }
  }
  const [view, ...rest] = location.hash.replace(/^#/, "").split("/");
  try {
    if (view === "series" && (rest.length === 2 || rest.length === 4)) {
      await showSeries(decodeURIComponent(rest[0]), decodeURIComponent(rest[1]),
        rest.length === 4 ? { start: rest[2], end: rest[3], label: "alert period" } : null);
    } else if (view === "aggregate" && (rest.length === 3 || rest.length === 4)) {
      await showAggregate(ui, ...rest.map(decodeURIComponent));
    } else if (view === "levels") await showLevels(ui);
    else if (view === "allocation") await showAllocation();
    else if (view === "history") await showHistory();
    else if (view === "alerts") await showAlerts(ui);
    else if (view === "reports") await showReports(ui);
    else if (view === "health") await showHealth(ui, rest.length ? decodeURIComponent(rest[0])
                                                                  : null);
    else await showRisk();
  } catch (err) { fail(err); }
}

function init() {
  $("#signin-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      await signIn($("#key").value.trim());
      $("#key").value = "";
      if (!location.hash || location.hash === "#signin") location.hash = "#risk";
      else await route();
    } catch (err) {
      banner(err.status === 401 ? "That key was not accepted. Check it, or ask an " +
        "administrator for a new one." : err.message);
    }
  });
  $("#signout").addEventListener("click", () => signOut());
  $("#risk-filters").addEventListener("submit", (ev) => { ev.preventDefault();
    showRisk().catch(fail); });
  $("#alloc-form").addEventListener("submit", (ev) => { ev.preventDefault();
    banner(""); propose().catch(fail); });
  $("#a-sku").addEventListener("change", fillAvailable);
  $("#a-available").addEventListener("input", noteAvailable);
  $("#a-approve").addEventListener("click", () => approve().catch(fail));
  $("#a-reason").addEventListener("input", () => banner(""));
  $("#history-filters").addEventListener("submit", (ev) => { ev.preventDefault();
    showHistory().catch(fail); });
  $("#alert-filters").addEventListener("submit", (ev) => { ev.preventDefault();
    showAlerts(ui).catch(fail); });
  $("#health-filters").addEventListener("submit", (ev) => { ev.preventDefault();
    showHealth(ui).catch(fail); });
  $("#levels-filters").addEventListener("submit", (ev) => { ev.preventDefault();
    showLevels(ui).catch(fail); });
  $("#series-method").addEventListener("change", () => onMethodChange(ui));
  $("#reports-form").addEventListener("submit", (ev) => { ev.preventDefault();
    banner(""); generateReport(ui).catch(fail); });
  window.addEventListener("hashchange", () => route());
  route();
}

init();
