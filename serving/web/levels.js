// The channel tree's levels on the planner page (issue 23): the Levels view lists and
// searches the aggregate series (a parent node, a channel, the total; one sku or all skus),
// the series view opens one of them with its reconciled forecast and band, and a node's
// series view links up to its parent, channel and total. `ui` carries the page's helpers
// (see app.js).
"use strict";

import { seriesChart } from "./chart.js";

const skuText = (sku) => (sku === "*" ? "all skus" : sku);
const enc = encodeURIComponent;

export function aggregateHash(level, node, sku, method) {
  const parts = [level, node, sku, ...(method ? [method] : [])];
  return `#aggregate/${parts.map(enc).join("/")}`;
}

// What the served model offers (methods, default): read once per page load.
async function levelsInfo(ui) {
  if (!ui.state.levelsInfo) ui.state.levelsInfo = await ui.api("GET", "/aggregates?limit=1");
  return ui.state.levelsInfo;
}

// ---- the Levels view -----------------------------------------------------------------------
export async function showLevels(ui) {
  const { $, td, num } = ui;
  ui.show("levels");
  const params = new URLSearchParams({ limit: "200" });
  if ($("#lv-level").value) params.set("level", $("#lv-level").value);
  if ($("#lv-q").value.trim()) params.set("q", $("#lv-q").value.trim());
  const out = await ui.api("GET", `/aggregates?${params}`);
  $("#levels-count").textContent = out.methods.length ? `${out.aggregates.length} of ` +
    `${out.total} · reconciled with ${out.reconcile} · model v${out.model_version ?? "?"}` : "";
  const tbody = $("#levels-table tbody");
  tbody.replaceChildren();
  for (const a of out.aggregates) {
    const tr = document.createElement("tr");
    tr.className = "clickable";
    Object.assign(tr.dataset, { level: a.level, node: a.node_id, sku: a.sku });
    tr.append(td(a.level), td(a.node_id), td(skuText(a.sku)), td(num(a.series, 0), "num"));
    tr.addEventListener("click", () => {
      location.hash = aggregateHash(a.level, a.node_id, a.sku);
    });
    tbody.appendChild(tr);
  }
  if (!out.aggregates.length) {
    const tr = document.createElement("tr");
    const c = td(out.methods.length ? "No aggregate series matches these filters." :
      "The served model has no hierarchy (it was trained without parents and channels): " +
      "train one on nodes.csv with parent_id and channel, and promote it.", "wrap");
    c.colSpan = 4;
    tr.appendChild(c);
    tbody.appendChild(tr);
  }
}

// ---- one aggregate in the series view ---------------------------------------------------------
export async function showAggregate(ui, level, node, sku, method) {
  const { $, fact, num } = ui;
  ui.show("series");
  $("#series-back").href = "#levels";
  $("#series-back").textContent = "← Levels";
  $("#series-title").textContent = `${level} ${node} · ${skuText(sku)}`;
  for (const id of ["#series-facts", "#series-chart", "#series-up"]) $(id).replaceChildren();
  $("#series-up").hidden = true;
  const params = new URLSearchParams({ history: "52" });
  if (method) params.set("reconcile", method);
  const s = await ui.api("GET", `/aggregates/${enc(level)}/${enc(node)}/${enc(sku)}?${params}`);
  $("#series-facts").append(
    fact("level", s.level), fact("node x sku series added up", num(s.series, 0)),
    fact("reconciliation", s.reconcile), fact("base model", s.model),
    fact("forecast from", s.origin), fact("model version", s.model_version ?? "–"));
  const pick = $("#series-method");
  pick.replaceChildren();
  for (const m of s.methods) {
    const o = document.createElement("option");
    o.value = m;
    o.textContent = m;
    pick.appendChild(o);
  }
  pick.value = s.reconcile;
  pick.dataset.series = JSON.stringify([s.level, s.node_id, s.sku]);
  $("#series-method-form").hidden = false;
  $("#series-chart").appendChild(seriesChart({
    history: s.history.map((r) => ({ date: r.date, units: r.units, stockout: false,
                                     promo: false })),
    forecast: s.forecast.map((r) => ({ date: r.date, mean: r.mean, lo: r.lo, hi: r.hi,
                                       promo: false })),
    unit: `units per ${s.period}`,
    bandLabel: s.reconcile === "none" ? "80% interval (10%–90%)"
      : "80% interval (10%–90%), reconciled" }));
  const tbody = $("#series-forecast tbody");
  tbody.replaceChildren();
  for (const r of s.forecast) {
    const tr = document.createElement("tr");
    tr.append(ui.td(r.date), ui.td(num(r.mean, 2), "num"), ui.td(num(r.lo, 2), "num"),
              ui.td(num(r.hi, 2), "num"));
    tbody.appendChild(tr);
  }
}

// The method picker of an aggregate's series view: reopen it with the chosen method.
export function onMethodChange(ui) {
  const pick = ui.$("#series-method");
  const [level, node, sku] = JSON.parse(pick.dataset.series);
  location.hash = aggregateHash(level, node, sku, pick.value);
}

// ---- a node's links up the tree ---------------------------------------------------------------
export async function showUpLinks(ui, node, sku) {
  const { $ } = ui;
  $("#series-method-form").hidden = true;
  const box = $("#series-up");
  box.replaceChildren();
  box.hidden = true;
  const info = await levelsInfo(ui);
  if (!info.methods.length) return; // the model has no hierarchy
  const me = (ui.state.nodes || []).find((n) => n.node_id === node);
  const ups = [["parent", me && me.parent_id], ["channel", me && me.channel],
               ["total", "TOTAL"]].filter(([, id]) => id);
  for (const [level, id] of ups) {
    const group = document.createElement("span");
    group.append(`${level === "total" ? "Total" : `${level} ${id}`}: `);
    for (const [text, s] of [[sku, sku], ["all skus", "*"]]) {
      const a = document.createElement("a");
      a.href = aggregateHash(level, id, s);
      a.textContent = text;
      a.dataset.level = level;
      group.append(a, " ");
    }
    box.appendChild(group);
  }
  box.hidden = false;
}
