"""Channel detectors from the stock flow: stuffing, stock-balance breaks, silent nodes.

- `channel_stuffing` (node): sell-in above sell-through in nearly every one of the last
  `stuffing_window` periods, sell-in / sell-through over them >= `min_sell_in_ratio`, and the
  node's cover risen above its own normal (median cover of its past `band_window` periods);
  the score is log(cover / normal cover). Its thresholds are the floors (cover 1.15, 1.25,
  1.5, 2 x normal): a channel has too few node-periods to measure a 1e-3 quantile, and the
  quantile would absorb earlier stuffing (measured false alarms on walmart: BENCHMARKS.md).
  Its start is the most likely change point (`changepoint.shift_start`) of the excess
  (sell_in - units) / mean units over the node's run of periods with sell-in above
  sell-through (an order-up-to flow ships more than it sells in ordinary periods too); the
  message's ratio is sell-in / sell-through from that start.
- `stock_mismatch` (series): on_hand differs from previous on_hand + sell_in - units by more
  than `mismatch_units` and `mismatch_share` of the flow; the score is the break's share of
  the flow (sign kept in `observed - expected`).
- `reporting_gap` (node): a node that reported in >= `gap_regularity` of the
  `gap_lookback` periods before has sent nothing; the score is the periods of silence.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from models.monitor.changepoint import shift_start, sum_from
from models.monitor.config import MonitorConfig
from models.monitor.panel import FloatArray, Panel, node_sums, trailing_mean
from models.monitor.signal import Signal

__all__ = ["NodeFlow", "gap_signal", "mismatch_signal", "node_flow", "stuffing_signal"]


@dataclass(frozen=True)
class NodeFlow:
    """(nodes x periods) sums over each node's series: what the node-level kinds need.

    Attributes:
        node_ids: the nodes (rows).
        units, sell_in, on_hand: summed over the node's series (NaN counted as 0).
        reported: series with a row; flows: series with a sell_in value.
        period_weeks: length of one period in weeks.

    Sums of integers are exact, so the flows of the parts of a store add up to the whole's.
    """

    node_ids: npt.NDArray[np.object_]
    units: FloatArray
    sell_in: FloatArray
    on_hand: FloatArray
    reported: FloatArray
    flows: FloatArray
    period_weeks: float

    def __add__(self, other: NodeFlow) -> NodeFlow:
        """The flows of two sets of series on the same grid, nodes aligned by id."""
        ids = np.union1d(self.node_ids.astype(str), other.node_ids.astype(str)).astype(object)
        def put(flow: NodeFlow, name: str) -> FloatArray:
            out = np.zeros((len(ids), getattr(flow, name).shape[1]))
            out[np.searchsorted(ids.astype(str), flow.node_ids.astype(str))] = getattr(flow,
                                                                                       name)
            return out
        names = ("units", "sell_in", "on_hand", "reported", "flows")
        sums = {n: put(self, n) + put(other, n) for n in names}
        return NodeFlow(node_ids=ids, period_weeks=self.period_weeks, **sums)


def node_flow(panel: Panel) -> NodeFlow:
    """The node sums of a panel."""
    return NodeFlow(node_ids=panel.node_ids, units=node_sums(panel, panel.units),
                    sell_in=node_sums(panel, panel.sell_in),
                    on_hand=node_sums(panel, panel.on_hand),
                    reported=node_sums(panel, panel.present.astype(float)),
                    flows=node_sums(panel, (~np.isnan(panel.sell_in)).astype(float)),
                    period_weeks=panel.period_weeks)

STUFFING_FLOORS = (float(np.log(1.15)), float(np.log(1.25)), float(np.log(1.5)),
                   float(np.log(2.0)))
MISMATCH_FLOORS = (0.01, 0.05, 0.2, 0.5)
GAP_FLOORS = (1.0, 1.0, 2.0, 4.0)


def _run_start(flag: np.ndarray) -> np.ndarray:
    """For each row and period, the first period of the run of True ending there."""
    n, periods = flag.shape
    start = np.zeros((n, periods), dtype=np.int64)
    current = np.zeros(n, dtype=np.int64)
    for t in range(periods):
        going_on = flag[:, t] & flag[:, t - 1] if t else np.zeros(n, dtype=bool)
        current = np.where(going_on, current, t)
        start[:, t] = current
    return start


def stuffing_signal(flow: NodeFlow, config: MonitorConfig) -> Signal:
    """`channel_stuffing` per node."""
    units, sell_in, on_hand = flow.units, flow.sell_in, flow.on_hand
    reported, has_flow = flow.reported > 0, flow.flows > 0
    k = config.stuffing_window
    mean_units = trailing_mean(np.where(reported, units, np.nan), config.cover_window,
                               min_count=max(1, config.cover_window // 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        cover = on_hand / mean_units
        ratio = (trailing_mean(np.where(reported, sell_in, np.nan), k)
                 / trailing_mean(np.where(reported, units, np.nan), k))
    above = trailing_mean(np.where(reported, (sell_in > units).astype(float), np.nan), k,
                          min_count=k)
    normal = _trailing_median(cover, config.band_window, lag=k)
    with np.errstate(invalid="ignore", divide="ignore"):
        rise = np.log(cover / normal)
    persistent = (above >= (k - 1) / k) & (ratio >= config.min_sell_in_ratio)
    score = np.where(np.isnan(rise) | ~has_flow, np.nan, np.where(persistent, rise, 0.0))
    loading = sell_in > units
    with np.errstate(invalid="ignore", divide="ignore"):
        excess = (sell_in - units) / mean_units  # periods of sales shipped on top of them
        start = shift_start(excess, _run_start(loading), loading)
        since = sum_from(sell_in, start) / sum_from(units, start)
    weeks = flow.period_weeks
    return Signal(kind="channel_stuffing", node_level=True, score=score, start=start,
                  expected=normal * weeks, observed=cover * weeks, floors=STUFFING_FLOORS,
                  extra={"ratio": since}, calibrated=False)


def _trailing_median(values: FloatArray, window: int, *, lag: int) -> FloatArray:
    """Median of the non-NaN values in columns t-lag-window+1 .. t-lag (NaN if < 4)."""
    n, periods = values.shape
    padded = np.concatenate([np.full((n, window + lag), np.nan), values], axis=1)
    out = np.full((n, periods), np.nan)
    for t in range(periods):
        block = padded[:, t + 1: t + 1 + window]
        enough = (~np.isnan(block)).sum(axis=1) >= 4
        if enough.any():
            out[enough, t] = np.nanmedian(block[enough], axis=1)
    return out


def mismatch_signal(panel: Panel, config: MonitorConfig) -> Signal:
    """`stock_mismatch` per series: the break's share of the period's stock flow."""
    previous = np.concatenate([np.full((panel.on_hand.shape[0], 1), np.nan),
                               panel.on_hand[:, :-1]], axis=1)
    expected = previous + panel.sell_in - panel.units
    diff = panel.on_hand - expected
    flow = np.maximum(np.maximum(previous + panel.sell_in, panel.units), 1.0)
    tolerance = np.maximum(config.mismatch_units, config.mismatch_share * flow)
    with np.errstate(invalid="ignore"):
        score = np.where(np.abs(diff) > tolerance, np.abs(diff) / flow, 0.0)
    score = np.where(np.isnan(diff), np.nan, score)
    t = np.broadcast_to(np.arange(diff.shape[1]), diff.shape).astype(np.int64)
    return Signal(kind="stock_mismatch", node_level=False, score=score, start=t.copy(),
                  expected=expected, observed=panel.on_hand, floors=MISMATCH_FLOORS)


def gap_signal(flow: NodeFlow, config: MonitorConfig) -> Signal:
    """`reporting_gap` per node: periods of silence after regular reporting."""
    reported = flow.reported > 0
    n, periods = reported.shape
    silent_start = _run_start(~reported)
    share = trailing_mean(reported.astype(float), config.gap_lookback, lag=1,
                          min_count=config.gap_lookback)
    score = np.zeros((n, periods))
    rows = np.arange(n)[:, None]
    regular_before = share[rows, silent_start] >= config.gap_regularity
    length = np.arange(periods)[None, :] - silent_start + 1
    score = np.where(~reported & regular_before, length.astype(float), 0.0)
    ever = np.cumsum(reported, axis=1) > 0
    score = np.where(ever, score, np.nan)
    return Signal(kind="reporting_gap", node_level=True, score=score, start=silent_start,
                  expected=share[rows, silent_start] * config.gap_lookback,
                  observed=np.zeros((n, periods)), floors=GAP_FLOORS, calibrated=False)
