"""Calibration of a detector's scores into severities: rates of alerts, not of periods."""

from __future__ import annotations

import numpy as np

from models.monitor.config import MonitorConfig
from models.monitor.signal import Signal, thresholds_at


def _signal(score: np.ndarray, floors: tuple[float, float, float, float]) -> Signal:
    zeros = np.zeros(score.shape)
    return Signal(kind="demand_drop", node_level=False, score=score,
                  start=zeros.astype(np.int64), expected=zeros, observed=zeros, floors=floors)


def _alerts_started(score: np.ndarray, h: float) -> int:
    above = np.nan_to_num(score, nan=-np.inf) >= h
    return int((above[:, 1:] & ~above[:, :-1]).sum() + above[:, 0].sum())


def test_a_lasting_run_counts_as_one_alert() -> None:
    config = MonitorConfig(calibration_window=100)
    score = np.random.default_rng(0).standard_normal((1000, 101))
    score[0, 20:80] = 10.0  # one entity far out for 60 periods: one alert
    thresholds = thresholds_at(_signal(score, (0.0, 0.0, 0.0, 0.0)), 100, config)
    past = score[:, :100]
    n = past.size
    for h, rate in zip(thresholds, config.rates, strict=True):
        if n * rate >= 5:
            assert _alerts_started(past, h) <= rate * n
    assert thresholds[1] < 4.5  # a quantile of periods would put it at 10
    assert np.all(np.diff(thresholds) >= 0)


def test_floors_and_causality() -> None:
    config = MonitorConfig(calibration_window=50)
    score = np.random.default_rng(1).standard_normal((200, 60))
    floors = (2.0, 8.0, 9.0, 10.0)
    before = thresholds_at(_signal(score, floors), 50, config)
    assert np.all(before >= floors)
    later = score.copy()
    later[:, 50:] = 100.0  # scores from t on do not move the thresholds of t
    np.testing.assert_array_equal(before, thresholds_at(_signal(later, floors), 50, config))
    unknown = np.full((5, 60), np.nan)
    np.testing.assert_array_equal(thresholds_at(_signal(unknown, floors), 50, config), floors)
