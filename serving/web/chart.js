// Small SVG charts for the planner page: a sparkline and a history + forecast chart with
// the 80% band, stock-outs and promotions marked. No library: the page works offline.
"use strict";

const SVG_NS = "http://www.w3.org/2000/svg";

function el(name, attrs, text) {
  const node = document.createElementNS(SVG_NS, name);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

// A sparkline of recent sell-through: `values` (numbers, null = not reported).
export function sparkline(values, { width = 110, height = 26, label = "" } = {}) {
  const svg = el("svg", { width, height, viewBox: `0 0 ${width} ${height}`, class: "spark",
                          role: "img", "aria-label": label });
  const nums = values.map((v) => (v === null || v === undefined ? null : Number(v)));
  const finite = nums.filter((v) => v !== null && Number.isFinite(v));
  if (finite.length < 2) return svg;
  const max = Math.max(...finite, 1e-9);
  const x = (i) => 1 + (i * (width - 2)) / (nums.length - 1);
  const y = (v) => height - 2 - (v / max) * (height - 4);
  let d = "";
  let pen = false;
  nums.forEach((v, i) => {
    if (v === null || !Number.isFinite(v)) { pen = false; return; }
    d += `${pen ? "L" : "M"}${x(i).toFixed(1)},${y(v).toFixed(1)}`;
    pen = true;
  });
  svg.appendChild(el("path", { d, class: "spark-line" }));
  const last = nums.length - 1;
  if (nums[last] !== null) svg.appendChild(el("circle", { cx: x(last), cy: y(nums[last]), r: 2,
                                                          class: "spark-dot" }));
  svg.appendChild(el("title", {}, label));
  return svg;
}

function niceStep(span, ticks) {
  const raw = span / Math.max(ticks, 1);
  const mag = 10 ** Math.floor(Math.log10(raw || 1));
  for (const m of [1, 2, 2.5, 5, 10]) if (raw <= m * mag) return m * mag;
  return 10 * mag;
}

const fmtDate = (d) => d.toISOString().slice(0, 10);

// History and forecast of one series.
// data: {history: [{date, units, stockout, promo}], forecast: [{date, mean, lo, hi}],
//        unit: "units / week", loLabel, hiLabel, marked: {start, end, label} | null}
export function seriesChart(data, { width = 860, height = 320 } = {}) {
  const m = { top: 16, right: 16, bottom: 46, left: 56 };
  const svg = el("svg", { viewBox: `0 0 ${width} ${height}`, class: "series-chart",
                          role: "img", "aria-label": "history and forecast" });
  const hist = data.history.map((r) => ({ ...r, t: new Date(r.date) }));
  const fc = data.forecast.map((r) => ({ ...r, t: new Date(r.date) }));
  const times = [...hist, ...fc].map((r) => r.t.getTime());
  if (times.length === 0) return svg;
  const t0 = Math.min(...times);
  const t1 = Math.max(...times);
  const ys = [...hist.map((r) => r.units), ...fc.map((r) => r.hi), ...fc.map((r) => r.mean)]
    .filter((v) => v !== null && Number.isFinite(v));
  const yMax = Math.max(1, ...ys) * 1.08;
  const W = width - m.left - m.right;
  const H = height - m.top - m.bottom;
  const x = (t) => m.left + ((t - t0) / Math.max(t1 - t0, 1)) * W;
  const y = (v) => m.top + H - (v / yMax) * H;

  // grid and y axis
  const step = niceStep(yMax, 5);
  const axis = el("g", { class: "axis" });
  for (let v = 0; v <= yMax; v += step) {
    axis.appendChild(el("line", { x1: m.left, x2: m.left + W, y1: y(v), y2: y(v), class: "grid" }));
    axis.appendChild(el("text", { x: m.left - 6, y: y(v) + 4, "text-anchor": "end" },
                        v >= 1000 ? `${(v / 1000).toFixed(1)}k` : String(+v.toFixed(2))));
  }
  axis.appendChild(el("text", { x: 14, y: m.top + H / 2, transform:
    `rotate(-90 14 ${m.top + H / 2})`, "text-anchor": "middle", class: "axis-title" },
    data.unit || "units"));
  // x axis: about 6 date labels
  const all = [...hist, ...fc];
  const every = Math.max(1, Math.ceil(all.length / 6));
  all.forEach((r, i) => {
    if (i % every !== 0) return;
    const px = x(r.t.getTime());
    axis.appendChild(el("line", { x1: px, x2: px, y1: m.top + H, y2: m.top + H + 4 }));
    axis.appendChild(el("text", { x: px, y: m.top + H + 17, "text-anchor": "middle" },
                        fmtDate(r.t)));
  });
  axis.appendChild(el("line", { x1: m.left, x2: m.left + W, y1: m.top + H, y2: m.top + H }));
  axis.appendChild(el("text", { x: m.left + W / 2, y: height - 6, "text-anchor": "middle",
                                class: "axis-title" }, "period start (date)"));
  svg.appendChild(axis);

  // promotions: shaded periods
  const half = hist.length > 1 ? (x(hist[1].t.getTime()) - x(hist[0].t.getTime())) / 2 : 4;
  for (const r of [...hist, ...fc]) {
    if (!r.promo) continue;
    const px = x(r.t.getTime());
    svg.appendChild(el("rect", { x: px - half, y: m.top, width: 2 * half, height: H,
                                 class: "promo" }));
  }
  // an alert's periods: outlined, from the first period's start to the last period's end
  if (data.marked) {
    const a = x(new Date(data.marked.start).getTime()) - half;
    const b = x(new Date(data.marked.end).getTime()) + half;
    const rect = el("rect", { x: Math.max(a, m.left), y: m.top, height: H, class: "anomaly",
                              width: Math.max(Math.min(b, m.left + W) - Math.max(a, m.left), 2) });
    rect.appendChild(el("title", {}, `${data.marked.label}: ${data.marked.start} to ` +
                                     `${data.marked.end}`));
    svg.appendChild(rect);
  }
  // 80% band
  if (fc.length) {
    const top = fc.map((r) => `${x(r.t.getTime()).toFixed(1)},${y(r.hi).toFixed(1)}`);
    const bottom = fc.slice().reverse().map((r) =>
      `${x(r.t.getTime()).toFixed(1)},${y(r.lo).toFixed(1)}`);
    svg.appendChild(el("polygon", { points: [...top, ...bottom].join(" "), class: "band" }));
  }
  const line = (rows, key, cls) => {
    let d = "";
    let pen = false;
    for (const r of rows) {
      const v = r[key];
      if (v === null || !Number.isFinite(v)) { pen = false; continue; }
      d += `${pen ? "L" : "M"}${x(r.t.getTime()).toFixed(1)},${y(v).toFixed(1)}`;
      pen = true;
    }
    svg.appendChild(el("path", { d, class: cls }));
  };
  line(hist, "units", "history");
  if (fc.length && hist.length) line([hist[hist.length - 1], ...fc.map((r) => ({ ...r,
    units: r.mean }))], "units", "forecast");
  else line(fc.map((r) => ({ ...r, units: r.mean })), "units", "forecast");
  // stock-outs: red marks on the axis and the point
  for (const r of hist) {
    if (!r.stockout) continue;
    const px = x(r.t.getTime());
    svg.appendChild(el("path", { d: `M${px - 4},${m.top + H + 1}l4,-7l4,7z`, class: "stockout" }));
  }

  // legend
  const legend = el("g", { class: "legend", transform: `translate(${m.left + 8},${m.top + 4})` });
  const items = [["history", "sell-through"], ["forecast", "forecast (mean)"],
                 ["band", data.bandLabel || "80% interval"], ["promo", "promotion"],
                 ["stockout", "stock-out (demand censored)"]];
  if (data.marked) items.push(["anomaly", data.marked.label]);
  let lx = 0;
  for (const [cls, text] of items) {
    const g = el("g", { transform: `translate(${lx},0)` });
    if (cls === "history" || cls === "forecast") {
      g.appendChild(el("line", { x1: 0, x2: 18, y1: 6, y2: 6, class: cls }));
    } else if (cls === "stockout") {
      g.appendChild(el("path", { d: "M5,10l4,-7l4,7z", class: cls }));
    } else {
      g.appendChild(el("rect", { x: 0, y: 0, width: 18, height: 12, class: cls }));
    }
    g.appendChild(el("text", { x: 22, y: 10 }, text));
    legend.appendChild(g);
    lx += 30 + text.length * 6.2;
  }
  svg.appendChild(legend);
  return svg;
}
