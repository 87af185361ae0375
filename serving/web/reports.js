// The planner page's Reports tab: the monthly channel reports the service generated (it
// makes last month's when a month closes), open one as HTML, download its PDF, or generate
// a month's report now. `ui` carries the page's helpers (see app.js).
"use strict";

const LANGS = { en: "English", zh: "中文" };
const POLL_MS = 1000;
const POLL_LIMIT = 300; // five minutes

// A report file, fetched with the key (a plain link would not send it).
async function fetchReport(ui, r, accept) {
  const res = await fetch(`/v1/reports/${r.month}?lang=${r.lang}`,
    { headers: { "X-API-Key": ui.state.key || "", Accept: accept } });
  if (!res.ok) {
    let detail = `HTTP ${res.status}`;
    try { detail = (await res.json()).detail || detail; } catch { /* not JSON */ }
    throw new Error(detail);
  }
  return res.blob();
}

function fileButton(ui, r, fmt) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = fmt === "pdf" ? "secondary" : "";
  button.textContent = fmt === "pdf" ? "Download PDF" : "Open";
  button.dataset.format = fmt;
  button.addEventListener("click", async () => {
    try {
      const blob = await fetchReport(ui, r, fmt === "pdf" ? "application/pdf" : "text/html");
      const url = URL.createObjectURL(blob);
      if (fmt === "pdf") {
        const a = document.createElement("a");
        a.href = url;
        a.download = `channel-report-${r.month}-${r.lang}.pdf`;
        a.click();
      } else {
        window.open(url, "_blank");
      }
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
    } catch (err) { ui.fail(err); }
  });
  return button;
}

function row(ui, r) {
  const { td, badge } = ui;
  const tr = document.createElement("tr");
  tr.dataset.month = r.month;
  tr.dataset.lang = r.lang;
  const status = td("");
  status.appendChild(badge(r.status));
  const files = td("", "files");
  for (const fmt of r.formats) files.appendChild(fileButton(ui, r, fmt));
  const note = r.error || (r.pdf_error ? `no PDF: ${r.pdf_error}` : "");
  tr.append(td(r.month), td(LANGS[r.lang] || r.lang), status,
    td(r.generated_at ? new Date(r.generated_at).toLocaleString() : "–"), td(r.trigger),
    files, td(note, "wrap"));
  return tr;
}

export async function showReports(ui) {
  const { $ } = ui;
  ui.show("reports");
  const out = await ui.api("GET", "/reports");
  const pick = $("#r-month");
  const chosen = pick.value;
  pick.replaceChildren();
  for (const m of [...out.months_with_data].reverse()) {
    const o = document.createElement("option");
    o.value = m;
    o.textContent = m;
    pick.appendChild(o);
  }
  if (out.months_with_data.includes(chosen)) pick.value = chosen;
  $("#reports-count").textContent = `${out.reports.length} generated`;
  const tbody = $("#reports-table tbody");
  tbody.replaceChildren(...out.reports.map((r) => row(ui, r)));
  if (!out.reports.length) {
    const tr = document.createElement("tr");
    const c = ui.td("No report yet: the service writes last month's when a month closes, " +
      "or generate one above.");
    c.colSpan = 7;
    tr.appendChild(c);
    tbody.appendChild(tr);
  }
  return out;
}

export async function generateReport(ui) {
  const { $ } = ui;
  const month = $("#r-month").value;
  const lang = $("#r-lang").value;
  if (!month) return;
  const button = $("#reports-form button[type=submit]");
  button.disabled = true;
  try {
    await ui.api("POST", `/reports/${month}?lang=${lang}`);
    ui.banner(`Generating the report of ${month} (${LANGS[lang]})…`, "info");
    for (let i = 0; i < POLL_LIMIT; i += 1) {
      const out = await showReports(ui);
      const r = out.reports.find((x) => x.month === month && x.lang === lang);
      if (r && r.status !== "generating") {
        if (r.status === "ready") ui.banner(`The report of ${month} (${LANGS[lang]}) is ready.`,
          "info");
        else ui.banner(`The report of ${month} failed: ${r.error}`);
        return;
      }
      await new Promise((resolve) => { setTimeout(resolve, POLL_MS); });
    }
  } finally { button.disabled = false; }
}
