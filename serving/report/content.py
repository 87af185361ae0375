"""The monthly channel report's numbers, all from `models.monitor` (KPIs, health, alerts).

`report_content` computes every table the report shows for one month, using rows dated up
to the month's last period only (the report is what was known when the month closed).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from features.schema import DATE, NODE
from models.monitor.alerts import detector_signals, replay_signals
from models.monitor.config import MonitorConfig
from models.monitor.health import COMPONENTS, score_health
from models.monitor.kpi import check_month, rollup_kpis, series_months
from models.monitor.panel import Panel, build_panel
from models.monitor.vocabulary import KINDS, STATUSES
from serving.report.forecasts import channel_band, expectation, lost_units, outlook
from training.engine.progress import bar

__all__ = ["ReportContent", "available_months", "last_full_month", "report_content"]

TOP = 10


@dataclass
class ReportContent:
    """Every table of one month's report (numbers only; labels come at rendering).

    Attributes:
        month: YYYY-MM reported; prev_month and last_year_month the comparisons.
        total: the channel-wide KPI row of the month (KPI_COLUMNS), plus `lost_units`.
        channels, parents: the KPI rows per channel and per parent node.
        growth_top, growth_bottom: nodes ranked by growth_vs_prev_pct.
        health_top, health_bottom: nodes ranked by health index, with component points.
        alerts: the month's alerts (models.monitor.alerts.replay rows).
        alert_counts: alerts per kind (rows) and final status (columns).
        band: forecast vs actual per channel and period, with the 80% band.
        outlook: next month's forecast per channel with its 80% band.
        risk: the top of the stock-risk list at the month's end.
        decisions: the month's allocations from the service database (None: not asked).
    """

    month: str
    prev_month: str
    last_year_month: str
    freq: str
    series: int
    nodes: int
    total: dict[str, float]
    channels: pd.DataFrame
    parents: pd.DataFrame
    growth_top: pd.DataFrame
    growth_bottom: pd.DataFrame
    health_top: pd.DataFrame
    health_bottom: pd.DataFrame
    alerts: pd.DataFrame
    alert_counts: pd.DataFrame
    band: pd.DataFrame
    outlook: pd.DataFrame
    risk: pd.DataFrame
    decisions: pd.DataFrame | None = field(default=None)


def available_months(sell_through: pd.DataFrame) -> pd.Series:
    """The months (YYYY-MM) that have sell-through rows."""
    months = pd.to_datetime(sell_through[DATE]).dt.to_period("M").astype(str)
    return pd.Series(sorted(months.unique()), dtype=object)


def last_full_month(sell_through: pd.DataFrame) -> str:
    """The last month (YYYY-MM) whose periods the data covers to its end."""
    dates = pd.Series(sorted(pd.to_datetime(sell_through[DATE]).unique()))
    if dates.empty:
        raise ValueError("no sell-through rows: there is no month to report.")
    step = dates.diff().min() if len(dates) > 1 else pd.Timedelta(days=1)
    last = dates.iloc[-1]
    if step >= pd.Timedelta(days=28):  # monthly periods: the last one is a full month
        return str(last.to_period("M"))
    covered = last + step - pd.Timedelta(days=1)
    month = last.to_period("M")
    return str(month if covered >= month.end_time.normalize() else month - 1)


def _month_panel(sell_through: pd.DataFrame, month: str) -> Panel:
    """The panel of rows dated up to the month's end (what was known when it closed)."""
    end = pd.Period(month, freq="M").end_time.normalize()
    dates = pd.to_datetime(sell_through[DATE])
    return build_panel(sell_through[dates <= end])


def _ranked(table: pd.DataFrame, column: str, ascending: bool) -> pd.DataFrame:
    ok = table[table[column].notna()]
    return ok.sort_values(column, ascending=ascending, kind="stable").head(TOP).reset_index(
        drop=True)


def _alert_counts(alerts: pd.DataFrame) -> pd.DataFrame:
    counts = pd.crosstab(alerts["kind"], alerts["status"]) if len(alerts) else pd.DataFrame()
    counts = counts.reindex(index=list(KINDS), columns=list(STATUSES), fill_value=0)
    counts = counts.fillna(0).astype(int)
    counts["total"] = counts.sum(axis=1)
    return counts


def _health(kpi_node: pd.DataFrame, nodes: pd.DataFrame, month: str, alerts: pd.DataFrame
            ) -> pd.DataFrame:
    health = score_health(kpi_node, nodes, level="node", month=month, alerts=alerts)
    keep = [NODE, "score", "grade", "change_vs_prev", "explanation",
            *[f"{c}_contribution" for c in COMPONENTS]]
    return health[[c for c in keep if c in health.columns]]


def report_content(sell_through: pd.DataFrame, nodes: pd.DataFrame, month: str, *,
                   progress: bool = False
                   ) -> ReportContent:
    """The report's tables for `month` (YYYY-MM).

    Raises:
        ValueError: `month` is not YYYY-MM or has no sell-through (the message names the
            months that have some).
    """
    chosen = check_month(month, available_months(sell_through))
    shown = bar(desc="report", total=5, enabled=progress, unit="step")
    with shown:
        panel = _month_panel(sell_through, chosen)
        series = series_months(panel, nodes)
        levels = {lv: rollup_kpis(series, lv, panel.period_weeks)
                  for lv in ("node", "parent", "channel", "total")}
        this = {lv: t[t["month"] == chosen].reset_index(drop=True) for lv, t in levels.items()}
        shown.update()
        alerts = _month_alerts(panel, nodes, chosen)
        shown.update()
        health = _health(levels["node"], nodes, chosen, alerts)
        shown.update()
        exp = expectation(panel)
        band = channel_band(panel, exp, nodes, chosen)
        total = {k: float(v) for k, v in this["total"].iloc[0].items() if k != "month"}
        total["lost_units"] = lost_units(panel, exp, chosen)
        shown.update()
        ahead, risk = outlook(panel, exp, nodes, top=TOP)
        shown.update()
    period = pd.Period(chosen, freq="M")
    return ReportContent(
        month=chosen, prev_month=str(period - 1), last_year_month=str(period - 12),
        freq=panel.freq, series=len(panel.keys), nodes=int(this["node"][NODE].nunique()),
        total=total, channels=this["channel"], parents=this["parent"],
        growth_top=_ranked(this["node"], "growth_vs_prev_pct", ascending=False),
        growth_bottom=_ranked(this["node"], "growth_vs_prev_pct", ascending=True),
        health_top=health.sort_values("score", ascending=False, kind="stable").head(
            TOP).reset_index(drop=True),
        health_bottom=health.head(TOP).reset_index(drop=True),
        alerts=alerts, alert_counts=_alert_counts(alerts), band=band, outlook=ahead,
        risk=risk)


def _month_alerts(panel: Panel, nodes: pd.DataFrame, month: str) -> pd.DataFrame:
    """Every alert raised while the month's periods were the newest (the monitor's replay)."""
    inside = panel.dates[panel.dates.to_period("M") == pd.Period(month, freq="M")]
    config = MonitorConfig()
    signals = detector_signals(panel, config)
    return replay_signals(panel, signals, nodes, since=inside.min().date(),
                          until=inside.max().date(), config=config)

