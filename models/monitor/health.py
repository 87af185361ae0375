"""Channel health index: 0-100 per node (parent, channel) and month, with its reasons.

The index is a weighted mean of component scores (0-100), each computed from one KPI of
`models.monitor.kpi` so the numbers match the KPI table:

| component | KPI | score 100 when | score 0 when | default weight |
|---|---|---|---|---|
| growth_vs_forecast | growth_vs_forecast_pct | sales >= forecast | 50% below | 0.20 |
| sell_through_rate | sell_through_rate | >= its own 12-month median | 0 | 0.10 |
| cover_band | weeks_of_cover | inside its own 12-month band (10-90%) | 2x outside | 0.15 |
| availability | stockout_rate | no stock-outs | 20% of series-periods | 0.15 |
| stuffing | sell_in_to_sell_through_ratio | <= 1.1 | >= 2.0 | 0.15 |
| forecast_bias | forecast_bias_pct | 0 | +-50% | 0.05 |
| data_quality | stock_balance_breaks + periods_missing | 0 | x0.25 with each | 0.10 |
| open_alerts | alerts at medium or worse in the month | 0 | x0.7 each | 0.10 |

Seasonal months are scored against the same month last year: growth and bias relative to
last year's (1 + growth) for that month, the sell-through median and the cover band times
last year's ratio of that month to its own norm (clipped to 0.5-2; 1 without a year of
history). A planner's January after the holidays is not a bad January (walmart: 3 nodes
with a break in February scored higher than in the post-holiday January, BENCHMARKS.md).
The components' values stay the raw KPIs. Data quality also counts half of last month's
stock-balance breaks: stock that went missing is still missing until it is reconciled, so a
second break in a row scores lower than the first.

Why these weights: demand (growth, sell-through rate) and stock health (cover, availability,
stuffing) carry 0.30 and 0.45, because those are what lose sales or pile up stock at a
partner; bias, data quality and alerts (0.25) flag partners whose numbers cannot be trusted.
A component without data (no on_hand, no alerts given) drops out and the weights of the rest
are rescaled. One stock-balance break or missing period costs 7.5 points of the index: a
node whose stock does not add up cannot be planned for. Grades: A >= 85, B >= 70, C >= 55,
D >= 40, E below.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import pandas as pd
from sklearn.ensemble import IsolationForest

from features.schema import CHANNEL, NODE, PARENT
from models.monitor.kpi import check_month, monthly_kpis

__all__ = ["COMPONENTS", "HealthWeights", "health_index", "score_health"]

COMPONENTS = ("growth_vs_forecast", "sell_through_rate", "cover_band", "availability",
              "stuffing", "forecast_bias", "data_quality", "open_alerts")
_KEYS = {"node": [NODE], "parent": [PARENT], "channel": [CHANNEL]}
_GRADES = ((85, "A"), (70, "B"), (55, "C"), (40, "D"))
SEASON_MONTHS = 12
BREAK_CARRY = 0.5
"""Share of last month's stock-balance breaks still counted (not reconciled yet)."""


@dataclass(frozen=True)
class HealthWeights:
    """Weight of each component (rescaled to sum 1 over the components with data)."""

    growth_vs_forecast: float = 0.20
    sell_through_rate: float = 0.10
    cover_band: float = 0.15
    availability: float = 0.15
    stuffing: float = 0.15
    forecast_bias: float = 0.05
    data_quality: float = 0.10
    open_alerts: float = 0.10

    def __post_init__(self) -> None:
        """Refuse negative weights or all zero."""
        values = [getattr(self, f.name) for f in fields(self)]
        if min(values) < 0 or sum(values) <= 0:
            raise ValueError(f"HealthWeights must be >= 0 and not all 0; got {values}.")


def _own_history(table: pd.DataFrame, keys: list[str], column: str, q: float) -> pd.Series:
    """The q-quantile of `column` over each entity's previous 12 months."""
    shifted = table.groupby(keys, sort=False)[column].transform(
        lambda s: s.shift(1).rolling(12, min_periods=3).quantile(q))
    return shifted


def _alert_counts(table: pd.DataFrame, keys: list[str], alerts: pd.DataFrame | None,
                  nodes: pd.DataFrame) -> pd.Series:
    if alerts is None:
        return pd.Series(np.nan, index=table.index)
    serious = alerts[alerts["severity"].isin(["critical", "high", "medium"])]
    frame = serious.assign(month=pd.to_datetime(serious["period_end"]).dt.to_period(
        "M").astype(str), **{NODE: serious[NODE].astype(str)})
    facts = nodes.assign(**{NODE: nodes[NODE].astype(str)}).drop_duplicates(NODE)
    frame = frame.merge(facts[[c for c in (NODE, PARENT, CHANNEL) if c in facts.columns]],
                        on=NODE, how="left", suffixes=("_alert", ""))
    counts = frame.groupby([*keys, "month"]).size()
    wanted = pd.MultiIndex.from_frame(table[[*keys, "month"]].astype(str))
    return pd.Series(counts.reindex(wanted).fillna(0).to_numpy(), index=table.index)


def _months_ago(table: pd.DataFrame, keys: list[str], values: pd.Series, months: int
                ) -> pd.Series:
    """`values` of the same entity `months` months before each row's (NaN if not there)."""
    when = pd.PeriodIndex(table["month"].astype(str), freq="M")
    own = pd.MultiIndex.from_frame(table[keys].astype(str).assign(month=when.astype(str)))
    wanted = pd.MultiIndex.from_frame(
        table[keys].astype(str).assign(month=(when - months).astype(str)))
    lookup = pd.Series(values.to_numpy(), index=own)
    return pd.Series(lookup.reindex(wanted).to_numpy(), index=table.index)


def _season(table: pd.DataFrame, keys: list[str], ratio: pd.Series) -> pd.Series:
    """Last year's ratio for the same month (value / its own norm then), 1 when unknown.

    Clipped to 0.5-2 so one odd month a year ago cannot excuse or condemn this one.
    """
    return _months_ago(table, keys, ratio, SEASON_MONTHS).clip(0.5, 2.0).fillna(1.0)


def _pct_vs_season(table: pd.DataFrame, keys: list[str], pct: pd.Series) -> pd.Series:
    """A percentage relative to last year's for the same month: (1 + pct) / its season."""
    ratio = 1 + pct / 100
    return 100 * (ratio / _season(table, keys, ratio) - 1)


def _components(table: pd.DataFrame, keys: list[str], alerts: pd.DataFrame | None,
                nodes: pd.DataFrame) -> dict[str, tuple[pd.Series, pd.Series]]:
    """(value, score) of each component, per row of the monthly KPI table."""
    t = table
    st_median = _own_history(t, keys, "sell_through_rate", 0.5)
    st_norm = st_median * _season(t, keys, t["sell_through_rate"] / st_median)
    low, mid, high = (_own_history(t, keys, "weeks_of_cover", q) for q in (0.1, 0.5, 0.9))
    cover = t["weeks_of_cover"]
    cover_season = _season(t, keys, cover / mid)
    outside = np.maximum(np.log(low * cover_season / cover),
                         np.log(cover / (high * cover_season))).clip(lower=0)
    growth = _pct_vs_season(t, keys, t["growth_vs_forecast_pct"])
    bias = _pct_vs_season(t, keys, t["forecast_bias_pct"])
    carried = _months_ago(t, keys, t["stock_balance_breaks"], 1).fillna(0.0)
    quality = t["stock_balance_breaks"] + t["periods_missing"] + BREAK_CARRY * carried
    alerts_n = _alert_counts(t, keys, alerts, nodes)
    return {
        "growth_vs_forecast": (t["growth_vs_forecast_pct"], (100 + 2 * growth).clip(0, 100)),
        "sell_through_rate": (t["sell_through_rate"],
                              (100 * t["sell_through_rate"] / st_norm).clip(0, 100)),
        "cover_band": (cover, (100 * (1 - outside / np.log(2))).clip(0, 100)),
        "availability": (t["stockout_rate"], (100 * (1 - t["stockout_rate"] / 0.2)).clip(0, 100)),
        "stuffing": (t["sell_in_to_sell_through_ratio"],
                     (100 * (2.0 - t["sell_in_to_sell_through_ratio"]) / 0.9).clip(0, 100)),
        "forecast_bias": (t["forecast_bias_pct"], (100 - 2 * bias.abs()).clip(0, 100)),
        "data_quality": (quality, 100 * 0.25 ** quality),
        "open_alerts": (alerts_n, 100 * 0.7 ** alerts_n),
    }


def _score(table: pd.DataFrame, comps: dict[str, tuple[pd.Series, pd.Series]],
           weights: HealthWeights) -> pd.DataFrame:
    out = table.copy()
    scores = pd.DataFrame({name: comps[name][1] for name in COMPONENTS}, index=table.index)
    w = pd.DataFrame({name: np.where(scores[name].notna(), getattr(weights, name), 0.0)
                      for name in COMPONENTS}, index=table.index)
    w = w.div(w.sum(axis=1).replace(0, np.nan), axis=0)
    for name in COMPONENTS:
        out[f"{name}_value"] = comps[name][0]
        out[f"{name}_score"] = scores[name].round(1)
        out[f"{name}_contribution"] = (scores[name] * w[name]).round(2)
    out["score"] = (scores.fillna(0) * w).sum(axis=1).round(1)
    out["grade"] = [next((g for cut, g in _GRADES if s >= cut), "E") for s in out["score"]]
    return out


def _trend(out: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    group = out.groupby(keys, sort=False) if keys else out.groupby(lambda _: 0)
    out["score_prev_month"] = group["score"].shift(1)
    out["score_3_months_ago"] = group["score"].shift(3)
    out["change_vs_prev"] = (out["score"] - out["score_prev_month"]).round(1)
    contrib = out[[f"{c}_contribution" for c in COMPONENTS]]
    fell = contrib - group[list(contrib.columns)].shift(1)
    weakest = out[[f"{c}_score" for c in COMPONENTS]].idxmin(axis=1).str.removesuffix("_score")
    worst_fall = fell.fillna(0).idxmin(axis=1).str.removesuffix("_contribution")
    dropped = fell.min(axis=1) < -0.5
    out["explanation"] = np.where(
        dropped, "fell most: " + worst_fall + "; weakest: " + weakest, "weakest: " + weakest)
    return out


def _unusual(out: pd.DataFrame) -> pd.Series:
    """IsolationForest over the month's KPI vectors: 0 (typical) .. 1 (most unusual)."""
    cols = ["growth_vs_forecast_pct", "sell_through_rate", "weeks_of_cover", "stockout_rate",
            "sell_in_to_sell_through_ratio", "forecast_bias_pct"]
    x = out[cols].astype(float)
    x = x.fillna(x.median()).fillna(0.0).to_numpy()
    if len(x) < 8:
        return pd.Series(np.nan, index=out.index)
    raw = -IsolationForest(random_state=0, n_estimators=200).fit(x).score_samples(x)
    return pd.Series(raw, index=out.index).rank(pct=True).round(3)


def health_index(sell_through: pd.DataFrame, nodes: pd.DataFrame, *, month: str | None = None,
                 level: str = "node", alerts: pd.DataFrame | None = None,
                 weights: HealthWeights | None = None) -> pd.DataFrame:
    """The health index of one month (YYYY-MM, default the last) at level node|parent|channel.

    Returns:
        One row per entity, worst first: score 0-100, grade A-E, per component its value,
        score and contribution (points of the index), the trend (score_prev_month,
        score_3_months_ago, change_vs_prev), an explanation naming the component that fell
        most (or the weakest), an `unusual_score` (IsolationForest) and the month's KPIs.
    """
    if level not in _KEYS:
        raise ValueError(f"`level` must be node, parent or channel; got {level!r}.")
    table = monthly_kpis(sell_through, nodes, level=level)
    return score_health(table, nodes, level=level, month=month, alerts=alerts,
                        weights=weights)


def score_health(table: pd.DataFrame, nodes: pd.DataFrame, *, level: str,
                 month: str | None = None, alerts: pd.DataFrame | None = None,
                 weights: HealthWeights | None = None) -> pd.DataFrame:
    """`health_index` from the monthly KPI table of `level` (every month, `monthly_kpis`)."""
    if level not in _KEYS:
        raise ValueError(f"`level` must be node, parent or channel; got {level!r}.")
    keys = _KEYS[level]
    table = table.sort_values([*keys, "month"], ignore_index=True)
    chosen = check_month(month, table["month"])
    scored = _trend(_score(table, _components(table, keys, alerts, nodes),
                           weights or HealthWeights()), keys)
    out = scored[scored["month"] == chosen].copy()
    out["unusual_score"] = _unusual(out)
    out = out.sort_values("score", kind="stable", ignore_index=True)
    out.insert(len(keys), "rank", np.arange(1, len(out) + 1))
    return out
