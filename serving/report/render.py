"""The report as one self-contained HTML file (Jinja2, inline CSS and SVG) and as PDF."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pandas as pd
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from features.schema import CHANNEL, ITEM, NODE, PARENT
from models.monitor import health as health_module
from models.monitor import kpi as kpi_module
from models.monitor.health import COMPONENTS
from serving.report.charts import band_chart
from serving.report.content import ReportContent
from serving.report.i18n import Words

__all__ = ["definitions", "render_html", "summary", "write_pdf"]

_TABLE_COLUMNS = (("sell_through_units", "num"), ("sell_through_value", "num"),
                  ("growth_vs_prev_pct", "signed"), ("growth_vs_last_year_pct", "signed"),
                  ("sell_in_to_sell_through_ratio", "ratio"), ("weeks_of_cover", "ratio"),
                  ("stockout_rate", "share"), ("forecast_error_wape", "share"))


def definitions(doc: str | None) -> list[tuple[str, str]]:
    """The (name, definition) rows of a module docstring's markdown table."""
    rows: list[str] = []
    for line in (doc or "").splitlines():
        if line.startswith("|"):
            rows.append(line.strip())
        elif rows and line.startswith("  ") and not rows[-1].endswith("|"):
            rows[-1] += " " + line.strip()
        elif rows and line.startswith("  ") and rows[-1].count("|") < 3:
            rows[-1] += " " + line.strip()
    out = []
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        header = cells[0] in ("column", "component")
        if len(cells) >= 2 and not header and re.fullmatch(r"[a-z_0-9]+", cells[0]):
            out.append((cells[0], " | ".join(cells[1:])))
    return out


def _fmt(w: Words, value: object, how: str) -> str:
    if how == "signed":
        return w.pct(value, signed=True)
    if how == "share":
        return w.share(value)
    if how == "ratio":
        return w.num(value, 2)
    return w.num(value)


def _kpi_rows(table: pd.DataFrame, key: str, w: Words) -> list[list[str]]:
    return [[str(row[key]) or "–", *(_fmt(w, row[c], how) for c, how in _TABLE_COLUMNS)]
            for _, row in table.iterrows()]


def summary(c: ReportContent, w: Words) -> list[str]:
    """The two sentences of the headline, written from the numbers."""
    t = c.total
    value = t.get("sell_through_value", float("nan"))
    worth = w("worth").format(value=w.num(value)) if value == value else ""

    def change(pct: float) -> str:
        if pct != pct:
            return w("no_comparison")
        word = w("flat") if abs(pct) < 0.05 else (w("up") if pct > 0 else w("down"))
        return f"{word} {w.pct(abs(pct))}"

    first = w("summary1").format(
        month=w.month(c.month), units=w.num(t["sell_through_units"]), value=worth,
        prev=change(t["growth_vs_prev_pct"]), prev_month=w.month(c.prev_month),
        ly=change(t["growth_vs_last_year_pct"]), ly_month=w.month(c.last_year_month))
    second = w("summary2").format(
        cover=w.num(t["weeks_of_cover"], 1), so=w.share(t["stockout_rate"]),
        lost=w.num(t["lost_units"]), wape=w.share(t["forecast_error_wape"]))
    return [first, second]


def _headline(c: ReportContent, w: Words) -> list[tuple[str, str]]:
    t = c.total
    return [(w("units"), w.num(t["sell_through_units"])),
            (w("value"), w.num(t["sell_through_value"])),
            (w("vs_prev"), w.pct(t["growth_vs_prev_pct"], signed=True)),
            (w("vs_ly"), w.pct(t["growth_vs_last_year_pct"], signed=True)),
            (w("sell_in_ratio"), w.num(t["sell_in_to_sell_through_ratio"], 2)),
            (w("cover"), w.num(t["weeks_of_cover"], 1)),
            (w("stockouts"), w.share(t["stockout_rate"])),
            (w("lost"), w.num(t["lost_units"])),
            (w("wape"), w.share(t["forecast_error_wape"])),
            (w("bias"), w.pct(t["forecast_bias_pct"], signed=True))]


def _health_rows(table: pd.DataFrame, w: Words) -> list[list[str]]:
    return [[str(r[NODE]), w.num(r["score"], 1), str(r["grade"]),
             w.num(r["change_vs_prev"], 1),
             *(w.num(r[f"{k}_contribution"], 1) for k in COMPONENTS),
             w.explain(str(r["explanation"]))]
            for _, r in table.iterrows()]


def _growth_rows(table: pd.DataFrame, w: Words) -> list[list[str]]:
    return [[str(r[NODE]), w.num(r["sell_through_units"]),
             w.pct(r["growth_vs_prev_pct"], signed=True),
             w.pct(r["growth_vs_last_year_pct"], signed=True)] for _, r in table.iterrows()]


def _band_rows(c: ReportContent, w: Words) -> list[list[str]]:
    month = c.band[c.band["in_month"]]
    sums = month.groupby(CHANNEL, sort=True)[["actual", "forecast", "lo80", "hi80"]].sum()
    inside = month.groupby(CHANNEL, sort=True)["inside"].mean()
    return [[str(ch), w.num(r["actual"]), w.num(r["forecast"]),
             f"{w.num(r['lo80'])} – {w.num(r['hi80'])}", w.share(inside[ch], 0)]
            for ch, r in sums.iterrows()]


def _risk_rows(c: ReportContent, w: Words) -> list[list[str]]:
    return [[str(r[NODE]), str(r[ITEM]), w.num(r["on_hand"]), w.num(r["weeks_of_cover"], 1),
             w.share(r["p_stockout"], 0), w.num(r["expected_lost_units"]),
             w.term(str(r["risk_class"]))] for _, r in c.risk.iterrows()]


def _context(c: ReportContent, w: Words, source: str) -> dict[str, Any]:
    counts = c.alert_counts
    band_labels = {"band": w("band"), "forecast": w("forecast"), "actual": w("actual")}
    return {
        "w": w, "c": c, "source": source, "month_name": w.month(c.month),
        "summary": summary(c, w), "headline": _headline(c, w),
        "kpi_heads": [w("units"), w("value"), w("vs_prev"), w("vs_ly"), w("sell_in_ratio"),
                      w("cover"), w("stockouts"), w("wape")],
        "channels": _kpi_rows(c.channels, CHANNEL, w),
        "parents": _kpi_rows(c.parents, PARENT, w),
        "growth_top": _growth_rows(c.growth_top, w),
        "growth_bottom": _growth_rows(c.growth_bottom, w),
        "components": [w.term(c) for c in COMPONENTS],
        "health_top": _health_rows(c.health_top, w),
        "health_bottom": _health_rows(c.health_bottom, w),
        "alert_heads": [w.term(s) for s in counts.columns],
        "alert_rows": [[w.term(str(k)), *(w.num(v) for v in row)]
                       for k, row in counts.iterrows()],
        "band_svg": band_chart(c.band, band_labels), "band_rows": _band_rows(c, w),
        "outlook_month": w.month(c.outlook.attrs["month"]) if c.outlook.attrs.get("month")
        else "",
        "outlook_rows": [[str(r[CHANNEL]), w.num(r["forecast"]),
                          f"{w.num(r['lo80'])} – {w.num(r['hi80'])}"]
                         for _, r in c.outlook.iterrows()],
        "risk_rows": _risk_rows(c, w),
        "kpi_defs": [(n, w.define(n, d)) for n, d in definitions(kpi_module.__doc__)]
        + [("lost_units", w.define("lost_units", ""))],
        "health_defs": [(n, w.define(f"health.{n}", d))
                        for n, d in definitions(health_module.__doc__)],
    }


def render_html(content: ReportContent, words: Words, *, source: str,
                decisions: list[list[str]] | None = None) -> str:
    """The report as one HTML document (no external resources)."""
    env = Environment(loader=PackageLoader("serving.report", "templates"),
                      autoescape=select_autoescape(["html", "j2"]),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    context = _context(content, words, source)
    context["decisions"] = decisions
    return env.get_template("report.html.j2").render(**context)


def write_pdf(html: str, path: Path) -> int:
    """Write the HTML report as PDF with WeasyPrint; returns the number of pages."""
    from weasyprint import HTML  # needs Debian's pango libraries: imported only when asked

    document = HTML(string=html).render()
    document.write_pdf(path)
    return len(document.pages)
