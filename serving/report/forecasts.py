"""The report's forecasts: the monitor's one-step expectation vs actual per channel (80% band),
lost sales in stock-out periods, and the outlook (next month per channel, stock risk).

Forecasts are the channel monitor's (`models.monitor.demand.demand_expectation`): a series'
expected units of a period from data before it, with its calibrated error scale (mean
absolute log error). A series' 80% interval is expected x/÷ exp(1.28 x 1.25 x scale) in log
units (1.25: mean absolute to standard deviation of a normal error); a channel's band sums
the series' means and their standard deviations in quadrature (errors taken independent, so
the band of an aggregate is, if anything, narrow). The outlook holds each series at its
`models.baselines.moving_average` level over the last 8 weeks, with the same error scale,
and ranks stock risk with `models.risk.stock_risk` from on_hand at the month's end.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

from features.schema import CHANNEL, IN_TRANSIT, ITEM, NODE, ON_HAND
from models.baselines import moving_average
from models.monitor.config import MonitorConfig
from models.monitor.demand import Expectation, demand_expectation
from models.monitor.panel import FloatArray, Panel
from models.risk import stock_risk

__all__ = ["Z80", "channel_band", "channel_of", "expectation", "lost_units", "outlook"]

Z80 = 1.2816
_SD_PER_MAD = 1.2533
_MA_WEEKS = 8


def channel_of(nodes: pd.DataFrame) -> pd.Series:
    """node_id -> channel ('' where none)."""
    facts = nodes.assign(**{NODE: nodes[NODE].astype(str)}).drop_duplicates(NODE)
    values = facts[CHANNEL] if CHANNEL in facts.columns else pd.Series("", index=facts.index)
    return pd.Series(values.fillna("").astype(str).to_numpy(), index=facts[NODE])


def expectation(panel: Panel) -> Expectation:
    """The monitor's one-step expectation of every series and period."""
    return demand_expectation(panel, MonitorConfig())


def _bounds(mean: FloatArray, scale: FloatArray) -> tuple[FloatArray, FloatArray]:
    """A series' 80% interval in units from its median and log error scale."""
    spread = Z80 * _SD_PER_MAD * scale
    centre = np.log1p(np.maximum(mean, 0.0))
    return np.expm1(np.maximum(centre - spread, 0.0)), np.expm1(centre + spread)


def _sum_band(mean: FloatArray, lo: FloatArray, hi: FloatArray, groups: npt.NDArray[np.object_]
              ) -> pd.DataFrame:
    """Sum series' means and (quadrature) standard deviations per group and period."""
    sd = (hi - lo) / (2 * Z80)
    known = ~np.isnan(mean)
    frame = {"forecast": np.where(known, mean, 0.0), "var": np.where(known, sd ** 2, 0.0)}
    out = {k: pd.DataFrame(v).groupby(groups).sum() for k, v in frame.items()}
    total, spread = out["forecast"], Z80 * np.sqrt(out["var"])
    return pd.concat({"forecast": total, "lo80": (total - spread).clip(lower=0.0),
                      "hi80": total + spread}, axis=1)



def channel_band(panel: Panel, exp: Expectation, nodes: pd.DataFrame, month: str,
                 *, months_before: int = 2) -> pd.DataFrame:
    """Actual vs forecast (80% band) per channel and period of `month` and the months before.

    Columns: channel, date, actual, forecast, lo80, hi80, in_month, inside (actual in band).
    """
    period = pd.Period(month, freq="M")
    shown = (panel.dates.to_period("M") >= period - months_before) & (
        panel.dates.to_period("M") <= period)
    cols = np.flatnonzero(shown)
    channels = panel.keys[NODE].astype(str).map(channel_of(nodes)).fillna("").to_numpy()
    lo, hi = _bounds(exp.expected_units[:, cols], exp.scale[:, cols])
    band = _sum_band(exp.expected_units[:, cols], lo, hi, channels)
    actual = pd.DataFrame(np.nan_to_num(panel.units[:, cols])).groupby(channels).sum()
    rows = []
    for name in band.index:
        for j, col in enumerate(cols):
            rows.append({CHANNEL: name, "date": panel.dates[col],
                         "actual": float(actual.loc[name, j]),
                         **{k: float(band[k].loc[name, j]) for k in ("forecast", "lo80",
                                                                      "hi80")}})
    out = pd.DataFrame(rows, columns=[CHANNEL, "date", "actual", "forecast", "lo80", "hi80"])
    out["in_month"] = out["date"].dt.to_period("M") == period
    out["inside"] = (out["actual"] >= out["lo80"]) & (out["actual"] <= out["hi80"])
    return out


def lost_units(panel: Panel, exp: Expectation, month: str) -> float:
    """Estimated lost sales: expected minus sold units in the month's stock-out periods
    (on_hand 0 at the period's end)."""
    cols = np.flatnonzero(panel.dates.to_period("M") == pd.Period(month, freq="M"))
    out = panel.on_hand[:, cols] == 0
    gap = np.nan_to_num(exp.expected_units[:, cols]) - np.nan_to_num(panel.units[:, cols])
    return float(np.where(out, np.maximum(gap, 0.0), 0.0).sum())


def _next_dates(panel: Panel) -> pd.DatetimeIndex:
    """The periods of the month after the panel's last one."""
    last = panel.dates[-1]
    step = pd.DateOffset(months=1) if panel.freq == "MS" else pd.Timedelta(
        days=7 if panel.freq == "W" else 1)
    ahead = pd.DatetimeIndex([last + step * k for k in range(1, 63)])
    target = last.to_period("M") + 1
    return ahead[ahead.to_period("M") == target]


def _forecast_frame(panel: Panel, exp: Expectation, steps: int) -> pd.DataFrame:
    """Per series and step: mean, q0.1, q0.5, q0.9 (the moving-average level, flat)."""
    window = max(1, int(round(_MA_WEEKS / panel.period_weeks)))
    level = moving_average(np.where(exp.clean, panel.units, np.nan), horizon=1,
                           window=window)[:, 0]
    scale = np.nan_to_num(exp.scale[:, -1], nan=1.0)
    lo, hi = _bounds(level, scale)
    n = len(level)
    frame = pd.DataFrame({
        NODE: np.repeat(panel.keys[NODE].astype(str).to_numpy(), steps),
        ITEM: np.repeat(panel.keys[ITEM].astype(str).to_numpy(), steps),
        "step": np.tile(np.arange(1, steps + 1), n),
        "mean": np.repeat(level, steps), "q0.1": np.repeat(lo, steps),
        "q0.5": np.repeat(level, steps), "q0.9": np.repeat(hi, steps)})
    return frame


def outlook(panel: Panel, exp: Expectation, nodes: pd.DataFrame, *, top: int = 10
            ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Next month's forecast per channel (forecast, lo80, hi80) and the top of stock risk."""
    dates = _next_dates(panel)
    steps = max(len(dates), 1)
    frame = _forecast_frame(panel, exp, max(steps, 26))
    head = frame[frame["step"] <= steps]
    per_series = head.groupby([NODE, ITEM], sort=False)[["mean", "q0.1", "q0.9"]].sum()
    ch = per_series.index.get_level_values(NODE).map(channel_of(nodes)).fillna("").to_numpy()
    mean, lo, hi = (per_series[c].to_numpy()[:, None] for c in ("mean", "q0.1", "q0.9"))
    band = _sum_band(mean, lo, hi, ch)
    ahead = pd.DataFrame({CHANNEL: band.index, "forecast": band["forecast"][0].to_numpy(),
                          "lo80": band["lo80"][0].to_numpy(),
                          "hi80": band["hi80"][0].to_numpy()})
    ahead.attrs["month"] = str(dates[0].to_period("M")) if len(dates) else ""
    ahead.attrs["periods"] = len(dates)
    return ahead, _risk(panel, frame, nodes, top)


def _risk(panel: Panel, frame: pd.DataFrame, nodes: pd.DataFrame, top: int) -> pd.DataFrame:
    """stock_risk from on_hand at the panel's last period (in transit unknown: 0)."""
    filled = pd.DataFrame(panel.on_hand).ffill(axis=1).iloc[:, -1].to_numpy()
    known = ~np.isnan(filled)
    if not known.any() or not {"lead_time_days", "review_period_days"} <= set(nodes.columns):
        return pd.DataFrame()
    inventory = pd.DataFrame({NODE: panel.keys[NODE].astype(str).to_numpy()[known],
                              ITEM: panel.keys[ITEM].astype(str).to_numpy()[known],
                              ON_HAND: filled[known], IN_TRANSIT: 0.0})
    price = pd.DataFrame(panel.price).ffill(axis=1).iloc[:, -1].to_numpy()
    prices = pd.Series(price, index=pd.MultiIndex.from_frame(panel.keys[[NODE, ITEM]].astype(
        str))).dropna()
    freq = {"W": "W", "D": "D"}.get(panel.freq, "MS")
    risk = stock_risk(frame, nodes=nodes, inventory=inventory, freq=freq, prices=prices)
    return risk.head(top).reset_index(drop=True)
