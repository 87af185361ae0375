"""Demand detectors: a one-step demand expectation per series and its calibrated errors.

The expectation of period t is a level (mean of log1p units over recent clean periods,
ending `level_lag` periods before t) plus a share of last year's deviation from its level.
"Clean" periods are reported, without a recorded promotion and not censored (on_hand > 0 at
the end, or on_hand unknown): stock-out and promotion weeks neither teach the baseline nor
raise an alert. Errors are scaled by the series' own mean absolute past error, so a score
of 4 means four of that series' typical errors.

- `demand_spike`: the scaled error of a clean period (one period is enough), against the
  expectation shifted by the item's movement at its other nodes in that period
  (`peer_spike_signal`, applied where alerts are extracted, over all series): a holiday, an
  Easter or a back-to-school week lifts an item everywhere, a spike at one node does not
  (walmart: spike recall 0.73 / 0.83 -> 0.90 / 0.87 at 0.29 false spikes per 1,000; with
  the medium floor at 6.0, 0.90 / 0.90 at 0.38).
- `demand_drop`: a run of clean periods below expectation (by more than `drop_slack`
  error scales each); it scores only after `min_run` of them, so one bad week is not a drop.
  The score is the mean shortfall of the run's last r (<= `drop_window`) periods over the
  series' own scale of r-period mean errors (mean absolute r-period mean error over the past
  `scale_window` periods): weekly errors of real series are correlated, so dividing one
  week's scale by sqrt(r) would overstate a short drift on a noisy series (walmart: drop
  recall at 0.5 false alerts per 1,000 up from 0.80 / 0.70 to 0.87 / 0.77, BENCHMARKS.md).
  Its start is the run's most likely change point (`changepoint.shift_start` over the scaled
  shortfalls -z of the run's clean periods), not the run's first period: runs often begin
  with ordinary weeks a little below expectation before the real drop. Expected and sold
  units are summed from that start (the message quotes them), so the message of a period
  names the start estimated then; an extended alert keeps the start it opened with.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt
import pandas as pd

from models.monitor.changepoint import shift_start, sum_from
from models.monitor.config import MonitorConfig
from models.monitor.panel import FloatArray, Panel, trailing_mean
from models.monitor.signal import Signal

__all__ = ["Expectation", "demand_expectation", "drop_signal", "item_shift", "peer_spike_signal",
           "run_scales", "spike_signal"]

SPIKE_FLOORS = (3.5, 6.0, 7.5, 9.0)
MIN_PEERS = 5
"""Clean series of an item a period needs before its median error shifts the expectation."""
DROP_FLOORS = (3.0, 4.0, 5.0, 7.0)
_MIN_SCALE = 0.05
_COUNT_NOISE = 0.8  # mean absolute log1p error of Poisson counts ~ 0.8 / sqrt(1 + mean)


@dataclass(frozen=True)
class Expectation:
    """One-step expectations and their scaled errors, (series x periods).

    Attributes:
        clean: periods that count as demand (reported, no promotion, not censored).
        expected_units: expected units of each period (NaN when the series is too new).
        scale: the series' mean absolute past error in log units.
        z: scaled error log1p(units) - log1p(expected) over scale; NaN where not clean.
        seasonal_from: first period with last year's season in the expectation (0 if never).
    """

    clean: npt.NDArray[np.bool_]
    expected_units: FloatArray
    scale: FloatArray
    z: FloatArray
    seasonal_from: int = 0


def demand_expectation(panel: Panel, config: MonitorConfig) -> Expectation:
    """Causal one-step expectation of every series and period (columns <= t only)."""
    censored = panel.on_hand <= 0  # NaN compares False: unknown stock is not censored
    clean = panel.present & ~(panel.promo >= 1) & ~censored
    logged = np.where(clean, np.log1p(np.maximum(panel.units, 0.0)), np.nan)
    level = trailing_mean(logged, config.level_window, lag=config.level_lag,
                          min_count=max(2, config.level_window // 2))
    expected = level.copy()
    m = panel.season
    seasonal = config.season_weight > 0 and logged.shape[1] > m + config.min_history
    if seasonal:
        deviation = np.nan_to_num(logged - level, nan=0.0)
        expected[:, m:] += config.season_weight * deviation[:, :-m]
    error = logged - expected
    mean_abs = trailing_mean(np.abs(error), config.scale_window, lag=1,
                             min_count=config.min_history)
    # counts have their own noise: about 1/sqrt(1 + expected) in log1p units (Poisson), so
    # an intermittent item selling 2 where 0.1 was expected is not a spike
    scale = np.maximum(np.fmax(mean_abs, _count_noise(expected)), _MIN_SCALE)
    return Expectation(clean=clean, expected_units=np.expm1(np.maximum(expected, 0.0)),
                       scale=scale, z=error / scale, seasonal_from=m if seasonal else 0)


def _count_noise(expected_log: FloatArray) -> FloatArray:
    """Mean absolute log1p error of Poisson counts around an expectation (log1p units)."""
    # counts have their own noise: about 1/sqrt(1 + expected) in log1p units (Poisson), so
    # an intermittent item selling 2 where 0.1 was expected is not a spike
    return _COUNT_NOISE / np.sqrt(1.0 + np.expm1(np.maximum(expected_log, 0.0)))


def run_scales(exp: Expectation, config: MonitorConfig) -> list[FloatArray]:
    """Per run length r = 1..`drop_window`: each series' scale of r-period mean errors.

    The mean absolute r-period mean error over the past `scale_window` periods, ending
    before the r periods checked (so a drop does not widen its own scale); where too few
    are known, one period's scale over sqrt(r), never below Poisson noise over sqrt(r).
    """
    error = exp.z * exp.scale
    floor = np.maximum(_count_noise(np.log1p(exp.expected_units)), _MIN_SCALE)
    scales = []
    for r in range(1, config.drop_window + 1):
        mean_r = trailing_mean(error, r, min_count=r)
        own = trailing_mean(np.abs(mean_r), config.scale_window, lag=r,
                            min_count=config.min_history)
        scales.append(np.fmax(own, exp.scale / np.sqrt(r)).clip(floor / np.sqrt(r)))
    return scales


def spike_signal(panel: Panel, exp: Expectation) -> Signal:
    """`demand_spike`: the scaled error of each clean period (positive side)."""
    t = np.broadcast_to(np.arange(panel.units.shape[1]), panel.units.shape).astype(np.int64)
    return Signal(kind="demand_spike", node_level=False, score=exp.z, start=t.copy(),
                  calibrate_from=exp.seasonal_from,
                  expected=exp.expected_units, observed=panel.units, floors=SPIKE_FLOORS,
                  extra={"upper": np.expm1(np.log1p(exp.expected_units)
                                           + SPIKE_FLOORS[1] * exp.scale)})


def item_shift(error: FloatArray, items: npt.NDArray[np.object_]) -> FloatArray:
    """Per series and period, the median error (log units) of its item's series that period.

    0 where fewer than `MIN_PEERS` of them are clean (NaN errors are not clean). The series
    itself is among them: with >= 5 a single outlier moves the median by at most one rank.
    """
    codes = pd.factorize(pd.Series(items, dtype=object))[0]
    shift = np.zeros_like(error)
    order = np.argsort(codes, kind="stable")
    for rows in np.split(order, np.flatnonzero(np.diff(codes[order])) + 1):
        block = error[rows]
        count = (~np.isnan(block)).sum(axis=0)
        enough = count >= MIN_PEERS
        if len(rows) < MIN_PEERS or not enough.any():
            continue
        median = np.zeros(block.shape[1])
        median[enough] = np.nanmedian(block[:, enough], axis=0)
        shift[rows] = median
    return shift


def peer_spike_signal(spike: Signal, items: npt.NDArray[np.object_],
                      config: MonitorConfig) -> Signal:
    """`demand_spike` over all series: the series' own expectation shifted by `item_shift`,
    errors scaled by their own past (as in `demand_expectation`); idempotent."""
    if "item_shift" in spike.extra:
        return spike
    own = np.log1p(np.maximum(spike.expected, 0.0))
    logged = np.where(np.isnan(spike.score), np.nan,
                      np.log1p(np.maximum(spike.observed, 0.0)))
    shift = item_shift(logged - own, items)
    expected = own + shift
    error = logged - expected
    mean_abs = trailing_mean(np.abs(error), config.scale_window, lag=1,
                             min_count=config.min_history)
    scale = np.maximum(np.fmax(mean_abs, _count_noise(expected)), _MIN_SCALE)
    expected_units = np.expm1(np.maximum(expected, 0.0))
    upper = np.expm1(np.maximum(expected, 0.0) + SPIKE_FLOORS[1] * scale)
    return replace(spike, score=error / scale, expected=expected_units,
                   extra={"upper": upper, "item_shift": np.expm1(shift)})


def drop_signal(panel: Panel, exp: Expectation, config: MonitorConfig) -> Signal:
    """`demand_drop`: a run of >= `min_run` clean periods below expectation, scored by the
    mean log shortfall of its last r (<= `drop_window`) periods over `run_scales`' r-th,
    dated at the run's most likely change point (`shift_start` over its scaled shortfalls),
    with the units expected and sold summed from that date."""
    n, periods = exp.z.shape
    w = config.drop_window
    scales = run_scales(exp, config)
    error = exp.z * exp.scale
    score = np.full((n, periods), np.nan)
    first_of = np.zeros((n, periods), dtype=np.int64)
    runs = np.zeros((n, periods), dtype=np.int64)
    recent = np.zeros((n, w))  # the run's last w scaled errors (0 = none)
    run, first = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
    checked = np.zeros(n, dtype=bool)
    for t in range(periods):
        z = exp.z[:, t]
        ok = ~np.isnan(z)
        checked |= ok
        below = ok & (z < -config.drop_slack)
        broken = ok & ~below
        opened = below & (run == 0)
        first = np.where(opened, t, first)
        run = np.where(broken, 0, run + below)
        recent = np.where(broken[:, None] | opened[:, None], 0.0, recent)
        recent[below] = np.roll(recent[below], 1, axis=1)
        recent[below, 0] = -error[below, t]
        r = np.clip(run, 1, w)
        by_length = np.stack([scale[:, t] for scale in scales])
        value = recent.sum(axis=1) / r / by_length[r - 1, np.arange(n)]
        score[:, t] = np.where(checked, np.where(run >= config.min_run, value, 0.0), np.nan)
        first_of[:, t], runs[:, t] = first, run
    start = shift_start(-exp.z, first_of, runs > 0)
    below = exp.z < -config.drop_slack  # NaN compares False: clean periods only
    expected = _run_sums(exp.expected_units, below, start, runs > 0)
    observed = _run_sums(panel.units, below, start, runs > 0)
    return Signal(kind="demand_drop", node_level=False, score=score, start=start,
                  expected=expected, observed=observed, floors=DROP_FLOORS,
                  calibrate_from=exp.seasonal_from)


def _run_sums(values: FloatArray, counted: npt.NDArray[np.bool_],
              start: npt.NDArray[np.int64], live: npt.NDArray[np.bool_]) -> FloatArray:
    """Per row and period t, the sum of `values` over the counted periods start .. t (0
    where no run is `live`)."""
    return np.where(live, sum_from(np.where(counted, np.nan_to_num(values), 0.0), start), 0.0)
