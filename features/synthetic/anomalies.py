"""Labelled anomalies injected into sell-through, with the stock flow kept consistent.

`inject_anomalies` changes a contract `sell_through` frame (with `sell_in` and `on_hand`)
and returns the labels (`kind, node_id, sku, onset, end, magnitude`; sku is empty for the
node-level kinds):

- `demand_drop`: units of a series from the onset on multiplied by `magnitude` (0.35, 0.6);
- `demand_spike`: units of one period without promotion multiplied by `magnitude` (3, 5);
- `channel_stuffing`: every series of a node receives extra sell-in (`magnitude` x its mean
  units) for several periods; the stock piles up (on_hand rises by the extra);
- `stock_mismatch`: on_hand of a series shifted by `magnitude` units from the onset on (stock
  leaving or appearing unreported), so the balance breaks once, with that sign and size;
- `reporting_gap`: a node sends no rows for `magnitude` periods.

After a demand change the series' stock is re-run from the onset with `order_up_to_flow`,
so on_hand = previous on_hand + sell_in - units holds except where a break is injected.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from features.schema import DATE, ITEM, NODE, ON_HAND, PROMO, SELL_IN, UNITS

__all__ = ["LABEL_COLUMNS", "InjectionPlan", "inject_anomalies", "order_up_to_flow",
           "restate_inventory"]

LABEL_COLUMNS = ("kind", NODE, ITEM, "onset", "end", "magnitude")
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class InjectionPlan:
    """How many anomalies of each kind, where and how large.

    Attributes:
        window: onsets fall in the last `window` periods (leaving room for the evidence).
        drops, spikes, mismatches: series per magnitude of each series-level kind.
        stuffed_nodes, silent_nodes: nodes with stuffing / a reporting gap.
        drop_levels: demand after a drop, as shares of before.
        spike_factors: demand in a spike, as multiples.
        stuffing_shares: extra sell-in per period, as shares of the series' mean units.
        min_units: mean units per period a series needs to receive a demand anomaly.
    """

    window: int = 40
    drops: int = 10
    spikes: int = 10
    mismatches: int = 10
    stuffed_nodes: int = 2
    silent_nodes: int = 2
    drop_levels: tuple[float, ...] = (0.35, 0.6)
    spike_factors: tuple[float, ...] = (3.0, 5.0)
    stuffing_shares: tuple[float, ...] = (0.5, 1.0)
    min_units: float = 5.0


def order_up_to_flow(units: FloatArray, *, cover: float = 3.0, window: int = 8, start: int = 0,
                     start_stock: FloatArray | None = None) -> tuple[FloatArray, FloatArray]:
    """sell_in and on_hand (series x periods) of an order-up-to node that never runs out.

    Each period the node is topped up to `cover` x its mean units over the last `window`
    periods (more if that period's sales need it: the shelf keeps a quarter of a period's
    mean), so on_hand[t] = on_hand[t-1] + sell_in[t] - units[t] holds exactly and no period
    ends at 0 (none is censored). With `start` > 0 the run begins
    at that period from `start_stock` (columns before it are NaN).
    """
    n, periods = units.shape
    cum = np.concatenate([np.zeros((n, 1)), np.cumsum(units, axis=1)], axis=1)
    stock = np.zeros(n) if start_stock is None else start_stock.astype(float).copy()
    sell_in, on_hand = np.full((n, periods), np.nan), np.full((n, periods), np.nan)
    for t in range(start, periods):
        lo = max(0, t - window)
        mean = (cum[:, t] - cum[:, lo]) / max(t - lo, 1) if t else units[:, 0]
        target = np.ceil(cover * mean)
        # topped up to the target, or further so that a week's sales never empty the shelf
        need = units[:, t] + np.ceil(0.25 * np.maximum(mean, 1.0)) - stock
        received = np.maximum(np.maximum(target - stock, need), 0.0)
        stock = stock + received - units[:, t]
        sell_in[:, t], on_hand[:, t] = received, stock
    return sell_in, on_hand


class _Series:
    """The frame's series as (series x periods) arrays over one date grid."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame.sort_values([NODE, ITEM, DATE], ignore_index=True)
        self.dates = pd.DatetimeIndex(np.unique(pd.to_datetime(self.frame[DATE])))
        self.code = self.frame.groupby([NODE, ITEM], sort=True).ngroup().to_numpy()
        self.keys = self.frame[[NODE, ITEM]].drop_duplicates().reset_index(drop=True)
        self.col = self.dates.get_indexer(pd.to_datetime(self.frame[DATE]))
        shape = (len(self.keys), len(self.dates))
        self.values = {}
        for name in (UNITS, SELL_IN, ON_HAND, PROMO):
            grid = np.full(shape, np.nan)
            if name in self.frame.columns:
                grid[self.code, self.col] = self.frame[name].to_numpy(float)
            self.values[name] = grid

    def reflow(self, s: int, t0: int, cover: float) -> None:
        """Re-run the stock of series s from period t0 on after its units changed."""
        units = np.nan_to_num(self.values[UNITS][s:s + 1, :])
        stock = np.nan_to_num(self.values[ON_HAND][s:s + 1, t0 - 1]) if t0 else None
        sell_in, on_hand = order_up_to_flow(units, cover=cover, start=t0, start_stock=stock)
        self.values[SELL_IN][s, t0:] = sell_in[0, t0:]
        self.values[ON_HAND][s, t0:] = on_hand[0, t0:]

    def result(self, dropped: npt.NDArray[np.bool_]) -> pd.DataFrame:
        """The frame with the arrays written back and `dropped` (series x periods) removed."""
        out = self.frame.copy()
        for name in (UNITS, SELL_IN, ON_HAND):
            if name in out.columns:
                out[name] = self.values[name][self.code, self.col].astype(
                    out[name].dtype if out[name].dtype.kind == "f" else float)
        keep = ~dropped[self.code, self.col]
        return out.loc[keep].reset_index(drop=True)


def _row_mean(values: FloatArray) -> FloatArray:
    """Mean of each row's non-NaN values (0 for a row without any)."""
    count = (~np.isnan(values)).sum(axis=1)
    return np.nansum(values, axis=1) / np.maximum(count, 1)


def _cover(series: _Series, s: int, t0: int) -> float:
    """The series' usual stock in periods of sales before t0 (at least 1.5)."""
    lo = max(0, t0 - 8)
    units = float(_row_mean(series.values[UNITS][s:s + 1, lo:t0])[0])
    stock = float(_row_mean(series.values[ON_HAND][s:s + 1, lo:t0])[0])
    ratio = stock / units if units > 0 else np.nan
    return float(max(np.nan_to_num(ratio, nan=3.0), 1.5))


def _candidates(series: _Series, plan: InjectionPlan, nodes_taken: set[str]
                ) -> npt.NDArray[np.int64]:
    """Series with steady sales over the window and a known stock, not on a taken node."""
    window = series.values[UNITS][:, -plan.window - 8:]
    busy = (_row_mean(window) >= plan.min_units) & (np.isnan(window).sum(axis=1) == 0)
    free = ~series.keys[NODE].astype(str).isin(nodes_taken).to_numpy()
    has_stock = ~np.isnan(series.values[ON_HAND][:, -1])
    return np.flatnonzero(busy & free & has_stock)


def _series_kind(series: _Series, rng: np.random.Generator, kind: str, s: int, t0: int,
                 magnitude: float) -> tuple[int, float] | None:
    """Inject one series-level anomaly; returns (end period, magnitude) or None if unfit."""
    units, on_hand = series.values[UNITS], series.values[ON_HAND]
    periods = units.shape[1]
    if kind == "demand_drop":
        cover = _cover(series, s, t0)
        units[s, t0:] = np.round(units[s, t0:] * magnitude)
        series.reflow(s, t0, cover)
        return periods - 1, magnitude
    if kind == "demand_spike":
        if np.nan_to_num(series.values[PROMO][s, t0]) >= 1:
            return None
        cover = _cover(series, s, t0)
        units[s, t0] = np.round(units[s, t0] * magnitude)
        series.reflow(s, t0, cover)
        return t0, magnitude
    flow = np.nan_to_num(on_hand[s, t0 - 1] + series.values[SELL_IN][s, t0])
    size = max(3.0, round(magnitude * flow))
    delta = size if rng.random() < 0.5 else -size
    if delta < 0 and np.nanmin(on_hand[s, t0:]) < size:
        delta = size
    on_hand[s, t0:] += delta
    return t0, float(delta)


def _node_kind(series: _Series, kind: str, node: str, t0: int, magnitude: float,
               dropped: npt.NDArray[np.bool_]) -> int:
    """Inject one node-level anomaly; returns its end period."""
    rows = np.flatnonzero(series.keys[NODE].astype(str).to_numpy() == node)
    if kind == "reporting_gap":
        end = min(t0 + int(magnitude), dropped.shape[1]) - 1
        dropped[rows, t0:end + 1] = True
        return end
    units = series.values[UNITS][rows]
    end = min(t0 + 6, units.shape[1]) - 1
    mean = _row_mean(units[:, max(0, t0 - 8):t0])
    extra = np.zeros_like(units)
    extra[:, t0:end + 1] = np.round(magnitude * mean)[:, None]
    extra = np.where(np.isnan(units), 0.0, extra)
    series.values[SELL_IN][rows] += extra
    series.values[ON_HAND][rows] += np.cumsum(extra, axis=1)
    return end


def inject_anomalies(sell_through: pd.DataFrame, *, seed: int = 0,
                     plan: InjectionPlan | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """`sell_through` with labelled anomalies of every kind, and the labels.

    Raises:
        ValueError: the frame lacks sell_in/on_hand, or has too few periods or series.
    """
    plan = plan or InjectionPlan()
    missing = {SELL_IN, ON_HAND} - set(sell_through.columns)
    if missing:
        raise ValueError(f"injecting anomalies needs the columns {sorted(missing)} in "
                         "sell_through (the stock flow); generate or load data that has them.")
    rng = np.random.default_rng(seed)
    series = _Series(sell_through)
    periods = len(series.dates)
    if periods < plan.window + 20:
        raise ValueError(f"injecting anomalies in the last {plan.window} periods needs >= "
                         f"{plan.window + 20} periods; the data has {periods}.")
    dropped = np.zeros((len(series.keys), periods), dtype=bool)
    labels: list[tuple[str, str, str, int, int, float]] = []
    onsets = np.arange(periods - plan.window, periods - 6)
    all_nodes = np.unique(series.keys[NODE].astype(str))
    picked = rng.permutation(all_nodes)[: plan.stuffed_nodes + plan.silent_nodes]
    for i, node in enumerate(picked):
        kind = "channel_stuffing" if i < plan.stuffed_nodes else "reporting_gap"
        magnitude = (plan.stuffing_shares[i % len(plan.stuffing_shares)]
                     if kind == "channel_stuffing" else float(rng.integers(2, 6)))
        t0 = int(rng.choice(onsets))
        labels.append((kind, str(node), "", t0, _node_kind(series, kind, str(node), t0,
                                                           magnitude, dropped), magnitude))
    pool = rng.permutation(_candidates(series, plan, set(picked.tolist())))
    jobs = [("demand_drop", m, plan.drops) for m in plan.drop_levels]
    jobs += [("demand_spike", m, plan.spikes) for m in plan.spike_factors]
    jobs += [("stock_mismatch", m, plan.mismatches) for m in (0.2, 0.5)]
    cursor = 0
    for kind, magnitude, count in jobs:
        done = 0
        while done < count and cursor < len(pool):
            s, t0 = int(pool[cursor]), int(rng.choice(onsets))
            cursor += 1
            result = _series_kind(series, rng, kind, s, t0, magnitude)
            if result is not None:
                node, sku = series.keys.iloc[s]
                labels.append((kind, str(node), str(sku), t0, result[0], result[1]))
                done += 1
    table = pd.DataFrame(labels, columns=list(LABEL_COLUMNS))
    table["onset"] = series.dates[table["onset"].to_numpy(int)]
    table["end"] = series.dates[table["end"].to_numpy(int)]
    return series.result(dropped), table


def restate_inventory(inventory: pd.DataFrame, sell_through: pd.DataFrame) -> pd.DataFrame:
    """`inventory` whose on_hand is each series' last reported on_hand in `sell_through`.

    After an injection the stock of stuffed and broken series differs from the generated
    snapshot; the snapshot (as of the last period) must tell the same story. Series whose
    last row is not in the last period (a silent node) or has no on_hand keep their value.
    """
    last_day = sell_through[DATE].max()
    last = sell_through[(sell_through[DATE] == last_day) & sell_through[ON_HAND].notna()]
    stock = last.set_index([NODE, ITEM])[ON_HAND]
    keys = pd.MultiIndex.from_frame(inventory[[NODE, ITEM]])
    reported = stock.reindex(keys).to_numpy()
    out = inventory.copy()
    known = ~np.isnan(reported.astype(float))
    out.loc[known, ON_HAND] = reported[known].astype(out[ON_HAND].dtype)
    return out
