// The channel monitor's views of the planner page: Alerts (filter, acknowledge with a note,
// click through to the series with the anomaly marked) and Health (nodes ranked by index,
// components as bars, trend sparkline). `ui` carries the page's helpers (see app.js).
"use strict";

import { sparkline } from "./chart.js";

const COLORS = {
  growth_vs_forecast: "#1f5fbf", sell_through_rate: "#5b8fd9", cover_band: "#2e7d32",
  availability: "#7cb342", stuffing: "#b86e00", forecast_bias: "#8e6bbf",
  data_quality: "#6d7a8c", open_alerts: "#b3261e",
};
const label = (name) => name.replaceAll("_", " ");

function channelOptions(ui, select) {
  if (select.options.length > 1) return;
  for (const c of [...new Set(ui.state.nodes.map((n) => n.channel).filter(Boolean))].sort()) {
    const o = document.createElement("option");
    o.value = c;
    o.textContent = c;
    select.appendChild(o);
  }
}

// ---- alerts --------------------------------------------------------------------------------
export async function showAlerts(ui) {
  const { $, td, badge, num } = ui;
  ui.show("alerts");
  await ui.lookups();
  channelOptions(ui, $("#al-channel"));
  const params = new URLSearchParams({ limit: "500" });
  for (const [id, key] of [["#al-status", "status"], ["#al-kind", "kind"],
                           ["#al-severity", "severity"], ["#al-channel", "channel"]]) {
    if ($(id).value) params.set(key, $(id).value);
  }
  const out = await ui.api("GET", `/alerts?${params}`);
  $("#alerts-count").textContent = `${out.alerts.length} of ${out.total}` +
    (out.as_of ? ` · computed up to ${out.as_of}` : " · none computed yet");
  const canAck = ui.state.me && ui.state.me.role !== "erp";
  const tbody = $("#alerts-table tbody");
  tbody.replaceChildren();
  for (const a of out.alerts) {
    const tr = document.createElement("tr");
    tr.className = "clickable";
    tr.dataset.alert = String(a.alert_id);
    const sev = document.createElement("td");
    sev.appendChild(badge(a.severity));
    const status = ackCell(ui, a, canAck);
    status.prepend(badge(a.status));
    const periods = td(a.period_start, "periods");
    if (a.period_end !== a.period_start) {
      const end = document.createElement("div");
      end.textContent = `→ ${a.period_end}`;
      periods.appendChild(end);
    }
    tr.append(sev, td(label(a.kind)), td(a.node_id), td(a.sku || "(node)"),
      td(a.channel ?? "–"), periods,
      td(`${num(a.expected)} → ${num(a.observed)}`, "num"), td(a.message, "wrap"), status);
    tr.addEventListener("click", (ev) => {
      if (ev.target.closest(".ack")) return;
      location.hash = a.sku
        ? `#series/${encodeURIComponent(a.node_id)}/${encodeURIComponent(a.sku)}` +
          `/${a.period_start}/${a.period_end}`
        : `#health/${encodeURIComponent(a.node_id)}`;
    });
    tbody.appendChild(tr);
  }
  if (!out.alerts.length) {
    const tr = document.createElement("tr");
    const c = td("No alert matches these filters.");
    c.colSpan = 9;
    tr.appendChild(c);
    tbody.appendChild(tr);
  }
}

// The status cell: who acknowledged it and why, or a note field and a button (planners).
function ackCell(ui, a, canAck) {
  const cell = document.createElement("td");
  cell.className = "ack";
  if (a.status === "acknowledged") {
    const who = document.createElement("div");
    who.className = "reason";
    who.textContent = `${a.acknowledged_by}: “${a.ack_note || ""}”`;
    cell.appendChild(who);
    return cell;
  }
  if (a.status !== "open" || !canAck) return cell;
  const note = document.createElement("input");
  note.placeholder = "note";
  note.maxLength = 2000;
  note.setAttribute("aria-label", `note for alert ${a.alert_id}`);
  const button = document.createElement("button");
  button.type = "button";
  button.textContent = "Acknowledge";
  button.addEventListener("click", async () => {
    try {
      await ui.api("POST", `/alerts/${a.alert_id}/ack`, { note: note.value.trim() });
      ui.banner(`Alert ${a.alert_id} acknowledged.`, "info");
      await showAlerts(ui);
    } catch (err) { ui.fail(err); }
  });
  const form = document.createElement("div");
  form.className = "ack-form";
  form.append(note, button);
  cell.appendChild(form);
  return cell;
}

// ---- health --------------------------------------------------------------------------------
function componentBar(row) {
  const bar = document.createElement("div");
  bar.className = "components";
  bar.setAttribute("role", "img");
  bar.setAttribute("aria-label", row.components.map((c) =>
    `${label(c.name)} ${c.contribution ?? "no data"}`).join(", "));
  for (const c of row.components) {
    if (!c.contribution) continue;
    const seg = document.createElement("span");
    seg.style.width = `${c.contribution}%`;
    seg.style.background = COLORS[c.name] || "#999";
    seg.title = `${label(c.name)}: value ${c.value === null ? "–" : +c.value.toFixed(3)}, ` +
      `score ${c.score ?? "–"} of 100, ${c.contribution} points`;
    bar.appendChild(seg);
  }
  return bar;
}

function legend(ui) {
  const box = ui.$("#health-legend");
  if (box.childElementCount) return;
  for (const [name, color] of Object.entries(COLORS)) {
    const item = document.createElement("span");
    const dot = document.createElement("i");
    dot.style.background = color;
    item.append(dot, document.createTextNode(label(name)));
    box.appendChild(item);
  }
}

export async function showHealth(ui, focus) {
  const { $, td, badge } = ui;
  ui.show("health");
  legend(ui);
  const params = new URLSearchParams({ level: $("#he-level").value });
  const month = $("#he-month").value.trim();
  if (month) params.set("month", month);
  const out = await ui.api("GET", `/health?${params}`);
  $("#health-count").textContent = `${out.rows.length} ${out.level}s · ${out.month}`;
  $("#health-table thead th:nth-child(2)").textContent = out.level;
  const tbody = $("#health-table tbody");
  tbody.replaceChildren();
  for (const r of out.rows) {
    const tr = document.createElement("tr");
    tr.dataset.id = r.id;
    if (focus && r.id === focus) tr.classList.add("focus");
    const grade = document.createElement("td");
    grade.appendChild(badge(`grade-${r.grade}`));
    grade.firstChild.textContent = r.grade;
    const bars = document.createElement("td");
    bars.appendChild(componentBar(r));
    const trend = document.createElement("td");
    trend.appendChild(sparkline(r.trend.map((p) => p.score), { width: 80, label:
      r.trend.map((p) => `${p.month}: ${p.score ?? "–"}`).join(", ") }));
    tr.append(td(String(r.rank), "num"), td(r.id), td(r.channel ?? "–"), grade,
      td(r.score.toFixed(1), "num"), bars, trend, td(r.explanation, "wrap"));
    tbody.appendChild(tr);
  }
  const focused = tbody.querySelector("tr.focus");
  if (focused) focused.scrollIntoView({ block: "center" });
}
