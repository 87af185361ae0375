"""Validated sell-through as a dense panel: one row per series, one column per period.

Every feature is an array operation over this panel, so building features for 30,000 series
costs a few passes over a (series x periods) array instead of a groupby per feature.
Works on any subset of whole series (a Dask partition holding complete series is fine).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from features.periods import period_grid, period_index
from features.schema import DATE, ITEM, NODE, ON_HAND, PRICE, PROMO, SELL_IN, UNITS

__all__ = ["Panel", "build_panel"]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class Panel:
    """Sell-through of many series on one date grid.

    Attributes:
        keys: one row per series, columns `node_id`, `sku` (row i describes array row i).
        dates: the period grid, shared by every series.
        freq: pandas frequency of the grid ("W-MON", "D", "MS").
        units: units sold, NaN outside each series' span (before its first or after its
            last reported period).
        censored: True where demand is unknown: the node ended the period with nothing on
            hand (sales were capped by stock), or the period was missing from the report
            while the node was out of stock.
        filled: True where a missing period inside the span was filled with 0 units.
        price, promo, on_hand, sell_in: optional inputs, NaN where not given.
        first, last: index of each series' first and last reported period.
    """

    keys: pd.DataFrame
    dates: pd.DatetimeIndex
    freq: str
    units: FloatArray
    censored: BoolArray
    filled: BoolArray
    price: FloatArray
    promo: FloatArray
    on_hand: FloatArray
    sell_in: FloatArray
    first: npt.NDArray[np.int64]
    last: npt.NDArray[np.int64]

    @property
    def n_series(self) -> int:
        return len(self.keys)

    @property
    def n_periods(self) -> int:
        return len(self.dates)

    def in_span(self) -> BoolArray:
        """True inside each series' span (first..last reported period)."""
        t = np.arange(self.n_periods)
        return (t >= self.first[:, None]) & (t <= self.last[:, None])

    def to_frame(self) -> pd.DataFrame:
        """Long frame of every in-span cell (inverse of `build_panel`, gaps filled)."""
        s, t = np.nonzero(self.in_span())
        out = pd.DataFrame(
            {
                DATE: self.dates[t],
                NODE: self.keys[NODE].to_numpy()[s],
                ITEM: self.keys[ITEM].to_numpy()[s],
                UNITS: self.units[s, t],
            }
        )
        for name, arr in ((PRICE, self.price), (PROMO, self.promo), (ON_HAND, self.on_hand)):
            out[name] = arr[s, t]
        out["censored"] = self.censored[s, t]
        out["filled"] = self.filled[s, t]
        return out


def _scatter(values: pd.Series | None, s: npt.NDArray[np.int64], t: npt.NDArray[np.int64],
             shape: tuple[int, int]) -> FloatArray:
    out = np.full(shape, np.nan)
    if values is not None:
        out[s, t] = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64)
    return out


def build_panel(history: pd.DataFrame, *, freq: str, end: pd.Timestamp | None = None,
                start: pd.Timestamp | None = None) -> Panel:
    """Turn validated sell-through rows into a dense panel.

    Args:
        history: rows with `date`, `node_id`, `sku`, `units` and optionally `price`, `promo`,
            `on_hand`, `sell_in`; one row per (date, node_id, sku), dates on the `freq` grid.
        freq: the grid ("W-MON", "D", "MS"), as validated.
        end: last date of the grid; defaults to the last date in `history`. Pass a later date
            to leave room for future periods.
        start: first date of the grid; defaults to the first date in `history`. A partition
            of series passes the whole history's first date, so that its panel lines up
            with the panel of every series (Dask engine).

    Returns:
        The panel. Missing periods inside a series become 0 units, flagged in `filled`; they
        are censored when the node's last reported stock before the gap was 0.
    """
    if history.empty:
        raise ValueError("`history` is empty; there is nothing to build a panel from.")
    start, t, n_periods = _grid_positions(history, freq=freq, start=start, end=end)
    s, keys = _series_codes(history)
    shape = (len(keys), n_periods)
    if np.bincount(s * n_periods + t, minlength=1).max() > 1:
        raise ValueError("`history` has duplicate (date, node_id, sku) rows; aggregate them first.")

    units = _scatter(history[UNITS], s, t, shape)
    first = np.full(shape[0], n_periods, dtype=np.int64)
    last = np.full(shape[0], -1, dtype=np.int64)
    np.minimum.at(first, s, t)
    np.maximum.at(last, s, t)
    grid_t = np.arange(n_periods)
    span = (grid_t >= first[:, None]) & (grid_t <= last[:, None])
    filled = span & np.isnan(units)
    units[filled] = 0.0

    optional = {c: history[c] if c in history else None for c in (PRICE, PROMO, ON_HAND, SELL_IN)}
    on_hand = _scatter(optional[ON_HAND], s, t, shape)
    censored = _censored(on_hand, filled)
    return Panel(
        keys=keys,
        dates=period_grid(start, n_periods, freq),
        freq=freq,
        units=units,
        censored=censored,
        filled=filled,
        price=_scatter(optional[PRICE], s, t, shape),
        promo=_scatter(optional[PROMO], s, t, shape),
        on_hand=on_hand,
        sell_in=_scatter(optional[SELL_IN], s, t, shape),
        first=first,
        last=last,
    )


def _grid_positions(history: pd.DataFrame, *, freq: str, start: pd.Timestamp | None,
                    end: pd.Timestamp | None) -> tuple[pd.Timestamp, npt.NDArray[np.int64], int]:
    """The grid's first date, each row's period position on it and the number of periods."""
    dates = pd.to_datetime(history[DATE])
    start = dates.min() if start is None else min(pd.Timestamp(start), dates.min())
    last_date = dates.max() if end is None else max(pd.Timestamp(end), dates.max())
    pos = period_index(dates, start=start, freq=freq)
    end_pos = period_index(pd.DatetimeIndex([last_date]), start=start, freq=freq)[0]
    if np.isnan(pos).any() or np.isnan(end_pos):
        bad = dates[np.isnan(pos)].iloc[0] if np.isnan(pos).any() else last_date
        raise ValueError(f"date {bad.date()} is not on the {freq} grid starting {start.date()}; "
                         "run `channelcast validate` to find every such row.")
    return start, pos.astype(np.int64), int(end_pos) + 1


def _series_codes(history: pd.DataFrame) -> tuple[npt.NDArray[np.int64], pd.DataFrame]:
    """Series number of each row (sorted by node, then sku) and the series' keys.

    Factorizing the two id columns separately and combining the codes is an order of
    magnitude faster than factorizing (node, sku) tuples.
    """
    node_codes, node_ids = pd.factorize(history[NODE].astype(str), sort=True)
    sku_codes, sku_ids = pd.factorize(history[ITEM].astype(str), sort=True)
    pair = node_codes.astype(np.int64) * len(sku_ids) + sku_codes
    present, s = np.unique(pair, return_inverse=True)
    keys = pd.DataFrame({
        NODE: np.asarray(node_ids, dtype=object)[present // len(sku_ids)],
        ITEM: np.asarray(sku_ids, dtype=object)[present % len(sku_ids)],
    })
    return s.astype(np.int64).ravel(), keys


def _censored(on_hand: FloatArray, filled: BoolArray) -> BoolArray:
    """Stock-out periods: on_hand == 0 at period end, or a gap while the last stock seen was 0."""
    stocked_out = on_hand == 0
    # carry the last known on_hand forward through gaps so a missing period after a stock-out
    # is not mistaken for a period with zero demand
    last_known = pd.DataFrame(on_hand).ffill(axis=1).to_numpy()
    gap = np.full((on_hand.shape[0], 1), np.nan)
    prev_known = np.concatenate([gap, last_known[:, :-1]], axis=1)
    return stocked_out | (filled & (prev_known == 0))
