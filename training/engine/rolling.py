"""Forecast again from a later origin with the fitted models: no refit.

A `ForecastState` is what a trained forecaster keeps besides its forecasts: the recent
history of every series (the tail), the feature spec, the node table, the ETS states and
the LightGBM booster. From it:

- `roll_forward` appends new periods of sell-through and forecasts from the new last
  period: LightGBM's features are rebuilt from the new tail and fed to the same booster,
  ETS states are filtered over the new periods with the fitted parameters, and the
  baselines (seasonal naive, moving average, Croston, TSB) are recomputed from the tail.
- `lgbm_means` rebuilds LightGBM's forecasts with planned prices and promotions of the
  forecast periods, which the booster takes as known-in-advance features.

The tail holds `tail_periods(spec, season)` periods: four times the longest lag, window or
season the features use (209 weeks, 365 days, 49 months by default). Every feature at the
origin reads less than a quarter of that; only the series age (capped at the tail's length)
and the smoothing of Croston/TSB see a shorter past than a refit on all history would when
the history is longer than the tail.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt
import pandas as pd

from features.config import FeatureSpec
from features.engineering.history import build_panel
from features.engineering.training_set import build_training_set
from features.periods import period_index, period_offset
from features.schema import DATE, ITEM, NODE, ON_HAND, PRICE, PROMO, SELL_IN, UNITS
from models.combine import combine
from models.ets import ETSFit
from models.lgbm import LGBMForecaster
from models.zoo import LOCAL_MODELS
from training.engine.selection import members

__all__ = ["ForecastState", "RollForwardError", "auto_means", "lgbm_means", "local_means",
           "new_periods", "roll_forward",
           "recompute_means", "tail_periods", "trim_tail"]

FloatArray = npt.NDArray[np.float64]
TAIL_COLUMNS = (DATE, NODE, ITEM, UNITS, PRICE, PROMO, ON_HAND, SELL_IN)


class RollForwardError(ValueError):
    """New sell-through that cannot be appended (named rows, and how to fix them)."""


def tail_periods(spec: FeatureSpec, season: int) -> int:
    """Periods of history a forecaster keeps: 4x the longest lag, window or season, + 1."""
    need = max(*spec.lags, *spec.windows, *spec.hierarchy_windows, spec.price_window, season)
    return 4 * need + 1


@dataclass
class ForecastState:
    """What a forecaster needs to forecast from a later origin without refitting.

    Attributes:
        tail: sell-through rows (`TAIL_COLUMNS` present in the data) of the last `periods`
            periods up to the origin.
        periods: how many periods the tail keeps.
        season: season length of the seasonal models.
        spec: LightGBM's feature spec; `nodes`: the node table (attributes, hierarchy).
        ets: ETS fits with states after the origin, rows following the forecaster's keys.
        lgbm: the fitted LightGBM booster.
    """

    tail: pd.DataFrame
    periods: int
    season: int
    spec: FeatureSpec
    nodes: pd.DataFrame | None = None
    ets: ETSFit | None = None
    lgbm: LGBMForecaster | None = None


def trim_tail(history: pd.DataFrame, *, freq: str, periods: int) -> pd.DataFrame:
    """The rows of `history`'s last `periods` periods (only the columns a forecast uses)."""
    cols = [c for c in TAIL_COLUMNS if c in history]
    dates = pd.to_datetime(history[DATE])
    first = dates.max() - (periods - 1) * period_offset(freq)
    out = history.loc[dates >= first, cols].copy()
    out[DATE] = pd.to_datetime(out[DATE])
    out[NODE] = out[NODE].astype(str)
    out[ITEM] = out[ITEM].astype(str)
    return out.sort_values([NODE, ITEM, DATE]).reset_index(drop=True)


def demand_matrix(tail: pd.DataFrame, *, freq: str, keys: pd.DataFrame
                  ) -> tuple[FloatArray, pd.DatetimeIndex]:
    """Units per series (rows follow `keys`) and period of the tail; stock-out periods and
    periods outside a series' span are NaN (not demand)."""
    panel = build_panel(tail, freq=freq)
    y = panel.units.copy()
    y[panel.censored] = np.nan
    rows = pd.MultiIndex.from_frame(panel.keys[[NODE, ITEM]].astype(str)).get_indexer(
        pd.MultiIndex.from_frame(keys[[NODE, ITEM]].astype(str)))
    out = np.full((len(keys), panel.n_periods), np.nan)
    out[rows >= 0] = y[rows[rows >= 0]]
    return out, panel.dates


def local_means(y: FloatArray, *, models: Sequence[str], horizon: int, season: int,
                ets: ETSFit | None) -> dict[str, FloatArray]:
    """Every local model's forecast from the last column of `y`; ETS from its states."""
    out: dict[str, FloatArray] = {}
    for name in models:
        if name == "ets" and ets is not None:
            out[name] = np.clip(ets.forecast(horizon), 0.0, None)
        elif name in LOCAL_MODELS and name != "ets":
            out[name] = np.nan_to_num(LOCAL_MODELS[name](y, horizon=horizon, season=season))
    return out


def lgbm_means(state: ForecastState, *, keys: pd.DataFrame, freq: str, horizon: int,
               fallback: FloatArray, future: pd.DataFrame | None = None,
               rows: npt.NDArray[np.intp] | None = None) -> FloatArray:
    """LightGBM's forecast from the tail's last period for series `rows` of `keys` (all by
    default), with planned `future` price/promo where given. As in training, a series
    without a row at the origin (ended, or not reported in the last period) takes `fallback`
    (same rows)."""
    assert state.lgbm is not None
    ts = build_training_set(state.tail, horizon=horizon, freq=freq, spec=state.spec,
                            nodes=state.nodes, future=future, origins="last")
    wanted = keys if rows is None else keys.iloc[rows]
    found = pd.MultiIndex.from_frame(ts.keys[[NODE, ITEM]].astype(str)).get_indexer(
        pd.MultiIndex.from_frame(wanted[[NODE, ITEM]].astype(str)))
    last = state.tail[DATE] == state.tail[DATE].max()
    live = pd.MultiIndex.from_frame(state.tail.loc[last, [NODE, ITEM]])
    out = fallback.copy()
    reported = live.get_indexer(pd.MultiIndex.from_frame(wanted[[NODE, ITEM]].astype(str)))
    known = (found >= 0) & (reported >= 0)
    if known.any():
        out[known] = state.lgbm.predict(ts, rows=found[known].astype(np.intp))
    return out


def auto_means(means: dict[str, FloatArray], chosen: npt.NDArray[np.str_]) -> FloatArray:
    """`auto`: each series takes the combination of models chosen for it (its weights)."""
    some = next(iter(v for k, v in means.items() if k != "auto"))
    out = np.zeros_like(some)
    for name in np.unique(chosen):
        sel = chosen == name
        out[sel] = combine(str(name), {m: means[m][sel] for m in members(str(name))})
    return out


def recompute_means(state: ForecastState, *, keys: pd.DataFrame, freq: str, horizon: int,
                    models: Sequence[str], chosen: npt.NDArray[np.str_],
                    y: FloatArray | None = None) -> dict[str, FloatArray]:
    """Every model's forecast from the tail's last period, with the fitted models. `y`: the
    tail's `demand_matrix`, when the caller has it already."""
    if y is None:
        y, _ = demand_matrix(state.tail, freq=freq, keys=keys)
    local = [m for m in models if m not in ("lgbm", "auto")]
    if "lgbm" in models and "ma" not in local:
        local.append("ma")  # LightGBM's fallback
    means = local_means(y, models=local, horizon=horizon, season=state.season, ets=state.ets)
    if "lgbm" in models:
        means["lgbm"] = lgbm_means(state, keys=keys, freq=freq, horizon=horizon,
                                   fallback=means["ma"])
    means = {m: v for m, v in means.items() if m in models}
    if "auto" in models:
        means["auto"] = auto_means(means, chosen)
    return {m: means[m] for m in models if m in means}  # the forecaster's order of models


def new_periods(rows: pd.DataFrame, *, origin: pd.Timestamp, freq: str,
                keys: pd.DataFrame) -> pd.DataFrame:
    """Check new sell-through rows against a forecaster; the rows, typed and sorted.

    Raises:
        RollForwardError: missing columns, dates not on the grid or not after `origin`,
            series the model does not know, or duplicated (date, node_id, sku) rows; the
            message names the first offending rows (0-based positions in `rows`).
    """
    missing = [c for c in (DATE, NODE, ITEM, UNITS) if c not in rows]
    if missing:
        raise RollForwardError(f"new sell-through lacks column(s) {missing}; send at least "
                               f"{DATE}, {NODE}, {ITEM}, {UNITS}.")
    if rows.empty:
        raise RollForwardError("new sell-through has no rows; send at least one period.")
    out = rows[[c for c in TAIL_COLUMNS if c in rows]].reset_index(drop=True).copy()
    out[NODE] = out[NODE].astype(str)
    out[ITEM] = out[ITEM].astype(str)
    dates = pd.to_datetime(out[DATE], errors="coerce")
    t = period_index(dates, start=origin, freq=freq)
    bad = np.flatnonzero(np.isnan(t))
    _refuse(bad, out, f"`{DATE}` is not a period start on the model's {freq} grid "
            f"(periods start on {origin:%Y-%m-%d} + k periods)")
    _refuse(np.flatnonzero(t < 1), out, f"`{DATE}` is not after the model's last period "
            f"{origin:%Y-%m-%d} (those periods are already in the model)")
    known = pd.MultiIndex.from_frame(keys[[NODE, ITEM]].astype(str))
    unknown = known.get_indexer(pd.MultiIndex.from_frame(out[[NODE, ITEM]])) < 0
    _refuse(np.flatnonzero(unknown), out, "the series is not in the model (train a new "
            "version with its history to forecast it)")
    out[DATE] = dates
    dup = out.duplicated([DATE, NODE, ITEM], keep="first").to_numpy()
    _refuse(np.flatnonzero(dup), out, "the (date, node_id, sku) appears twice")
    units = pd.to_numeric(out[UNITS], errors="coerce")
    _refuse(np.flatnonzero(~(units >= 0)), out, f"`{UNITS}` must be a number >= 0")
    out[UNITS] = units.astype(np.float64)
    return out


def _refuse(bad: npt.NDArray[np.intp], rows: pd.DataFrame, why: str) -> None:
    if len(bad) == 0:
        return
    shown = "; ".join(f"row {i}: {rows.at[i, DATE]} {rows.at[i, NODE]} / {rows.at[i, ITEM]}"
                      for i in bad[:5])
    raise RollForwardError(f"{len(bad)} row(s) refused: {why}. First: {shown}.")


def roll_forward(state: ForecastState, rows: pd.DataFrame, *, origin: pd.Timestamp,
                 freq: str, keys: pd.DataFrame
                 ) -> tuple[ForecastState, pd.Timestamp, FloatArray]:
    """The state after appending `rows` (checked by `new_periods`), the new origin, and the
    new tail's `demand_matrix` (rows follow `keys`)."""
    new = new_periods(rows, origin=origin, freq=freq, keys=keys)
    tail = pd.concat([state.tail, new], ignore_index=True)
    tail = trim_tail(tail, freq=freq, periods=state.periods)
    new_origin = pd.Timestamp(tail[DATE].max())
    y, dates = demand_matrix(tail, freq=freq, keys=keys)
    ets = None if state.ets is None else state.ets.update(y[:, dates > origin])
    return replace(state, tail=tail, ets=ets), new_origin, y
