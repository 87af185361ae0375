"""The monitor's dense view of sell-through: one row per series, one column per period.

Every detector works on these (series x periods) arrays, so a statistic for period t is a
function of columns <= t only and the whole replay is computed in one pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import numpy.typing as npt
import pandas as pd
import scipy.sparse as sp

from features.periods import season_length
from features.schema import DATE, ITEM, NODE, ON_HAND, PRICE, PROMO, SELL_IN, UNITS

__all__ = ["Panel", "build_panel", "node_sums", "trailing_mean"]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class Panel:
    """Sell-through as (series x periods) arrays; NaN where a series reported nothing.

    Attributes:
        keys: node_id and sku of each series (row order of the arrays).
        dates: the period grid (period starts), ascending.
        units, on_hand, sell_in, promo, price: the contract's columns (NaN when absent).
        node_ids: the nodes, in the order of `node_of`'s codes.
        node_of: node code of each series.
        freq: "W", "D" or "MS" (from the spacing of the grid).
    """

    keys: pd.DataFrame
    dates: pd.DatetimeIndex
    units: FloatArray
    on_hand: FloatArray
    sell_in: FloatArray
    promo: FloatArray
    price: FloatArray
    node_ids: npt.NDArray[np.object_]
    node_of: npt.NDArray[np.int64]
    freq: str

    @property
    def present(self) -> BoolArray:
        """Whether the series reported a row in the period."""
        return ~np.isnan(self.units)

    @property
    def season(self) -> int:
        """Periods per seasonal cycle (52 weekly, 7 daily, 12 monthly)."""
        return season_length(self.freq)

    @property
    def period_weeks(self) -> float:
        """Length of one period in weeks."""
        return {"W": 1.0, "D": 1 / 7}.get(self.freq, 365.25 / 12 / 7)


def _freq_of(dates: pd.DatetimeIndex) -> str:
    if len(dates) < 2:
        return "W"
    days = float(np.median(np.diff(dates.values).astype("timedelta64[D]").astype(float)))
    return "D" if days < 2 else "W" if days < 20 else "MS"


def build_panel(sell_through: pd.DataFrame, *, as_of: date | pd.Timestamp | None = None,
                grid: pd.DatetimeIndex | None = None) -> Panel:
    """The (series x periods) arrays of `sell_through` rows dated up to `as_of` (inclusive).

    `as_of` is added to the grid when no row has that date yet, so a node silent in the
    newest period is seen as silent. `grid` imposes the periods (a part of a partitioned
    store is laid on the whole store's grid).
    """
    dates = pd.to_datetime(sell_through[DATE])
    frame = sell_through
    if as_of is not None:
        keep = (dates <= pd.Timestamp(as_of)).to_numpy()
        frame, dates = sell_through.loc[keep], dates.loc[keep]
    if grid is None:
        grid = pd.DatetimeIndex(np.unique(dates.to_numpy()))
    if as_of is not None and pd.Timestamp(as_of) not in grid and len(grid):
        grid = grid.append(pd.DatetimeIndex([pd.Timestamp(as_of)]))
    codes, keys = _series_codes(frame)
    col = grid.get_indexer(dates)
    if (col < 0).any():
        raise ValueError(f"{int((col < 0).sum())} sell_through rows are dated off the period "
                         f"grid (e.g. {dates[col < 0].iloc[0]:%Y-%m-%d}); validate the data.")
    shape = (len(keys), len(grid))

    def dense(name: str) -> FloatArray:
        out = np.full(shape, np.nan)
        if name in frame.columns:
            out[codes, col] = pd.to_numeric(frame[name], errors="coerce").to_numpy(float)
        return out

    node_codes, node_ids = pd.factorize(keys[NODE], sort=True)
    return Panel(keys=keys, dates=grid, units=dense(UNITS), on_hand=dense(ON_HAND),
                 sell_in=dense(SELL_IN), promo=dense(PROMO), price=dense(PRICE),
                 node_ids=np.asarray(node_ids, dtype=object),
                 node_of=node_codes.astype(np.int64), freq=_freq_of(grid))


def _series_codes(frame: pd.DataFrame) -> tuple[npt.NDArray[np.int64], pd.DataFrame]:
    keys = frame[[NODE, ITEM]].astype(str)
    codes = keys.groupby([NODE, ITEM], sort=True).ngroup().to_numpy(np.int64)
    table = keys.drop_duplicates().sort_values([NODE, ITEM], ignore_index=True)
    return codes, table


def trailing_mean(values: FloatArray, window: int, *, lag: int = 0, min_count: int = 1
                  ) -> FloatArray:
    """Mean of the non-NaN values in columns t-lag-window+1 .. t-lag, for every t.

    NaN where fewer than `min_count` values are there (a causal rolling mean along axis 1).
    """
    valid = ~np.isnan(values)
    cum = np.zeros((values.shape[0], values.shape[1] + 1))
    cnt = np.zeros_like(cum)
    np.cumsum(np.where(valid, values, 0.0), axis=1, out=cum[:, 1:])
    np.cumsum(valid, axis=1, out=cnt[:, 1:])
    t = np.arange(values.shape[1])
    end = np.clip(t - lag + 1, 0, values.shape[1])
    start = np.clip(end - window, 0, None)
    total, count = cum[:, end] - cum[:, start], cnt[:, end] - cnt[:, start]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count >= min_count, total / np.maximum(count, 1), np.nan)


def node_sums(panel: Panel, values: FloatArray) -> FloatArray:
    """(nodes x periods) sums of a (series x periods) array over each node's series (NaN = 0)."""
    n_series = len(panel.node_of)
    member = sp.csr_matrix((np.ones(n_series), (panel.node_of, np.arange(n_series))),
                           shape=(len(panel.node_ids), n_series))
    return np.asarray(member @ np.nan_to_num(values, nan=0.0))
