"""Channel KPIs, defined once (units in the names), per month at every level of the channel.

Levels: `node_sku` (one series), `node`, `parent` (nodes.csv's parent_id), `channel` and
`total`. Additive sums are taken per level first and every ratio is computed from the sums,
so a node's weeks of cover is its stock over its sales, not a mean of its items' covers.

| column | definition |
|---|---|
| sell_through_units | units sold in the month |
| sell_through_value | sum of units x price (NaN without price) |
| growth_vs_prev_pct | units per period vs the previous month's, % |
| growth_vs_last_year_pct | units per period vs the same month a year before, % |
| sell_through_rate | units / (on_hand at the month's start + sell_in in the month) |
| weeks_of_cover | on_hand at the month's end / units per week in the month |
| inventory_turnover | units / mean on_hand per period, annualised (turns per year) |
| stockout_rate | share of reported periods ending at 0 on_hand with sales then or just before |
| sell_in_to_sell_through_ratio | sell_in / units |
| forecast_units | the forecast of the month's units (`forecasts`, else the monitor's one-step
  expectation) |
| forecast_error_wape | sum abs(units - forecast) / sum units |
| forecast_bias_pct | (sum forecast - sum units) / sum units, % |
| growth_vs_forecast_pct | (units - forecast) / forecast, % |
| stock_balance_breaks | periods whose on_hand breaks the stock balance (see alerts) |
| periods_missing | periods of the month without a row after the first one (node: none of
  its series reported) |
"""

from __future__ import annotations

import re

import numpy as np
import numpy.typing as npt
import pandas as pd

from features.schema import CHANNEL, DATE, ITEM, NODE, PARENT
from models.monitor.channel import mismatch_signal
from models.monitor.config import MonitorConfig
from models.monitor.demand import demand_expectation
from models.monitor.panel import FloatArray, Panel, build_panel

__all__ = ["KPI_COLUMNS", "LEVELS", "check_month", "kpis", "monthly_kpis", "rollup_kpis",
           "series_months"]

LEVELS = ("node_sku", "node", "parent", "channel", "total")
KPI_COLUMNS = (
    "sell_through_units", "sell_through_value", "growth_vs_prev_pct", "growth_vs_last_year_pct",
    "sell_through_rate", "weeks_of_cover", "inventory_turnover", "stockout_rate",
    "sell_in_to_sell_through_ratio", "forecast_units", "forecast_error_wape",
    "forecast_bias_pct", "growth_vs_forecast_pct", "stock_balance_breaks", "periods_missing",
)
_SUMS = ("units", "value", "sell_in", "on_hand_start", "on_hand_end", "on_hand_sum",
         "stock_periods", "stockouts", "reported", "forecast", "abs_error", "breaks",
         "missing", "periods")
_LEVEL_KEYS = {"node_sku": [NODE, ITEM], "node": [NODE], "parent": [PARENT],
               "channel": [CHANNEL], "total": []}


def _month_sums(values: FloatArray, bounds: npt.NDArray[np.int64]) -> FloatArray:
    return np.add.reduceat(np.nan_to_num(values, nan=0.0), bounds, axis=1)


def _ffill(values: FloatArray) -> FloatArray:
    idx = np.where(~np.isnan(values), np.arange(values.shape[1]), 0)
    np.maximum.accumulate(idx, axis=1, out=idx)
    out = values[np.arange(values.shape[0])[:, None], idx]
    return out


def _forecast_panel(panel: Panel, forecasts: pd.DataFrame | None) -> FloatArray:
    if forecasts is None:
        return demand_expectation(panel, MonitorConfig()).expected_units
    column = next((c for c in ("forecast", "mean", "q0.5", "yhat") if c in forecasts.columns),
                  None)
    if column is None:
        raise ValueError("`forecasts` needs a column forecast, mean, q0.5 or yhat next to "
                         f"node_id, sku and date; it has {list(forecasts.columns)}.")
    out = np.full(panel.units.shape, np.nan)
    keys = pd.MultiIndex.from_frame(panel.keys)
    row = keys.get_indexer(pd.MultiIndex.from_frame(forecasts[[NODE, ITEM]].astype(str)))
    col = panel.dates.get_indexer(pd.to_datetime(forecasts[DATE]))
    ok = (row >= 0) & (col >= 0)
    out[row[ok], col[ok]] = forecasts[column].to_numpy(float)[ok]
    return out


def _series_months(panel: Panel, forecasts: pd.DataFrame | None
                   ) -> tuple[dict[str, FloatArray], pd.PeriodIndex]:
    """Additive monthly sums per series (series x months)."""
    months = panel.dates.to_period("M")
    bounds = np.flatnonzero(np.r_[True, months[1:] != months[:-1]]).astype(np.int64)
    last = np.r_[bounds[1:], len(months)] - 1
    units, on_hand = panel.units, panel.on_hand
    filled = _ffill(on_hand)
    before = np.where(bounds > 0, bounds - 1, 0)
    sold_recently = (np.nan_to_num(units) > 0) | np.roll(np.nan_to_num(units) > 0, 1, axis=1)
    forecast = _forecast_panel(panel, forecasts)
    both = ~np.isnan(forecast) & panel.present
    started = np.cumsum(panel.present, axis=1) > 0
    breaks = np.nan_to_num(mismatch_signal(panel, MonitorConfig()).score) > 0
    sums = {
        "units": _month_sums(units, bounds),
        "value": _month_sums(units * panel.price, bounds),
        "sell_in": _month_sums(panel.sell_in, bounds),
        "on_hand_start": np.where(bounds > 0, np.nan_to_num(filled[:, before]), 0.0),
        "on_hand_end": np.nan_to_num(filled[:, last]),
        "on_hand_sum": _month_sums(on_hand, bounds),
        "stock_periods": _month_sums((~np.isnan(on_hand)).astype(float), bounds),
        "stockouts": _month_sums(((on_hand == 0) & sold_recently).astype(float), bounds),
        "reported": _month_sums(panel.present.astype(float), bounds),
        "forecast": _month_sums(np.where(both, forecast, 0.0), bounds),
        "abs_error": _month_sums(np.where(both, np.abs(forecast - np.nan_to_num(units)), 0.0),
                                 bounds),
        "breaks": _month_sums(breaks.astype(float), bounds),
        "missing": _month_sums((started & ~panel.present).astype(float), bounds),
        "periods": np.broadcast_to(np.diff(np.r_[bounds, len(months)]).astype(float),
                                   (len(panel.keys), len(bounds))).copy(),
    }
    sums["value"] = np.where(np.isnan(panel.price).all(axis=1, keepdims=True), np.nan,
                             sums["value"])
    return sums, months[bounds]


def _long(panel: Panel, sums: dict[str, FloatArray], months: pd.PeriodIndex,
          nodes: pd.DataFrame) -> pd.DataFrame:
    n, m = sums["units"].shape
    frame = pd.DataFrame({
        NODE: np.repeat(panel.keys[NODE].to_numpy(), m),
        ITEM: np.repeat(panel.keys[ITEM].to_numpy(), m),
        "month": np.tile(months.astype(str), n),
        **{k: v.reshape(-1) for k, v in sums.items()},
    })
    facts = nodes.assign(**{NODE: nodes[NODE].astype(str)}).drop_duplicates(NODE)
    facts = facts.set_index(NODE)
    for col in (PARENT, CHANNEL):
        values = facts[col] if col in facts.columns else pd.Series(dtype=object)
        frame[col] = frame[NODE].map(values).fillna("").astype(str)
    return frame


def _rollup(frame: pd.DataFrame, level: str) -> pd.DataFrame:
    keys = _LEVEL_KEYS[level]
    table = frame.groupby([*keys, "month"], sort=True, dropna=False)[list(_SUMS)].sum(
        min_count=1)
    table = table.reset_index()
    if level != "node_sku":  # a node is missing a period when none of its series reported
        node = frame.groupby([NODE, "month"])[["missing", "reported", "periods"]].agg(
            {"missing": "min", "reported": "max", "periods": "max"})
        gaps = (node["periods"] - np.minimum(node["reported"], node["periods"])).where(
            node["missing"] > 0, 0.0)
        node_gaps = gaps.rename("missing").reset_index()
        if level != "node":
            node_gaps = node_gaps.merge(frame[[NODE, *keys]].drop_duplicates(), on=NODE)
        table["missing"] = table[[*keys, "month"]].merge(
            node_gaps.groupby([*keys, "month"], as_index=False)["missing"].sum(),
            on=[*keys, "month"], how="left")["missing"].fillna(0.0).to_numpy()
        table["periods"] = frame.groupby("month")["periods"].max().reindex(
            table["month"]).to_numpy()
    return table


def _ratios(table: pd.DataFrame, keys: list[str], period_weeks: float) -> pd.DataFrame:
    t = table
    with np.errstate(invalid="ignore", divide="ignore"):
        per_period = t["units"] / t["periods"]
        out = t[[*keys, "month"]].copy()
        out["periods"] = t["periods"]
        out["sell_through_units"] = t["units"]
        out["sell_through_value"] = t["value"]
        out["growth_vs_prev_pct"] = _growth(t, keys, per_period, 1)
        out["growth_vs_last_year_pct"] = _growth(t, keys, per_period, 12)
        out["sell_through_rate"] = t["units"] / (t["on_hand_start"] + t["sell_in"])
        out["weeks_of_cover"] = t["on_hand_end"] / (per_period / period_weeks)
        mean_stock = t["on_hand_sum"] / t["periods"]
        out["inventory_turnover"] = (t["units"] / mean_stock) * 52 / (t["periods"]
                                                                      * period_weeks)
        out["stockout_rate"] = t["stockouts"] / t["stock_periods"]
        out["sell_in_to_sell_through_ratio"] = t["sell_in"] / t["units"]
        out["forecast_units"] = t["forecast"]
        out["forecast_error_wape"] = t["abs_error"] / t["units"]
        out["forecast_bias_pct"] = 100 * (t["forecast"] - t["units"]) / t["units"]
        out["growth_vs_forecast_pct"] = 100 * (t["units"] - t["forecast"]) / t["forecast"]
    out["stock_balance_breaks"] = t["breaks"].astype(int)
    out["periods_missing"] = t["missing"].astype(int)
    return out.replace([np.inf, -np.inf], np.nan)


def _growth(t: pd.DataFrame, keys: list[str], per_period: pd.Series, months: int
            ) -> pd.Series:
    month = pd.PeriodIndex(t["month"], freq="M")
    before = (month - months).astype(str)
    index = pd.MultiIndex.from_frame(t[keys].assign(month=t["month"])) if keys else \
        pd.Index(t["month"])
    lookup = pd.Series(per_period.to_numpy(), index=index)
    wanted = pd.MultiIndex.from_frame(t[keys].assign(month=before)) if keys else \
        pd.Index(before)
    prev = lookup.reindex(wanted).to_numpy()
    return pd.Series(100 * (per_period.to_numpy() / prev - 1), index=t.index)


def monthly_kpis(sell_through: pd.DataFrame, nodes: pd.DataFrame, *, level: str = "node",
                 forecasts: pd.DataFrame | None = None, panel: Panel | None = None
                 ) -> pd.DataFrame:
    """KPI_COLUMNS of every month at `level` (one row per level key x month)."""
    if level not in LEVELS:
        raise ValueError(f"`level` must be one of {', '.join(LEVELS)}; got {level!r}.")
    panel = panel if panel is not None else build_panel(sell_through)
    return rollup_kpis(series_months(panel, nodes, forecasts), level, panel.period_weeks)


def series_months(panel: Panel, nodes: pd.DataFrame, forecasts: pd.DataFrame | None = None
                  ) -> pd.DataFrame:
    """Additive monthly sums per series (one row per series x month): the KPIs' input.

    Rows of different series sets (the parts of a store) concatenate into the whole's.
    """
    sums, months = _series_months(panel, forecasts)
    return _long(panel, sums, months, nodes)


def rollup_kpis(series: pd.DataFrame, level: str, period_weeks: float) -> pd.DataFrame:
    """KPI_COLUMNS per `level` key and month from `series_months` rows."""
    if level not in LEVELS:
        raise ValueError(f"`level` must be one of {', '.join(LEVELS)}; got {level!r}.")
    return _ratios(_rollup(series, level), _LEVEL_KEYS[level], period_weeks)


def kpis(sell_through: pd.DataFrame, nodes: pd.DataFrame, *, level: str = "node",
         month: str | None = None, forecasts: pd.DataFrame | None = None) -> pd.DataFrame:
    """The KPIs of one month (YYYY-MM, default: the last with data) at `level`.

    Raises:
        ValueError: unknown level, a month that is not YYYY-MM or has no data.
    """
    table = monthly_kpis(sell_through, nodes, level=level, forecasts=forecasts)
    chosen = check_month(month, table["month"])
    return table[table["month"] == chosen].reset_index(drop=True)


def check_month(month: str | None, months: pd.Series) -> str:
    """`month` as YYYY-MM if it has data (None: the last month); ValueError otherwise."""
    if month is None:
        return str(months.max())
    if not re.fullmatch(r"\d{4}-\d{2}", str(month)):
        raise ValueError(f"`month` must be YYYY-MM; got {month!r}.")
    chosen = str(month)
    if chosen not in set(months):
        raise ValueError(f"no sell-through in {chosen}; months with data: {months.min()} .. "
                         f"{months.max()}.")
    return chosen
