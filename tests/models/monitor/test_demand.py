"""The demand expectation's error scales: per run length, causal, never below count noise."""

from __future__ import annotations

import numpy as np

from models.monitor.config import MonitorConfig
from models.monitor.demand import MIN_PEERS, demand_expectation, item_shift, run_scales
from models.monitor.panel import build_panel
from tests.models.monitor.cases import channel, week


def test_run_scales_are_causal_and_shrink_with_run_length() -> None:
    config = MonitorConfig()
    frame = channel(n_nodes=1, n_skus=2, seed=3)
    scales = run_scales(demand_expectation(build_panel(frame), config), config)
    assert len(scales) == config.drop_window
    assert np.nanmean(scales[-1]) < np.nanmean(scales[0])  # independent weeks average out
    later = frame["date"] > week(70)
    changed = frame.assign(units=np.where(later, frame["units"] * 9 + 5, frame["units"]))
    moved = run_scales(demand_expectation(build_panel(changed), config), config)
    for before, after in zip(scales, moved, strict=True):
        np.testing.assert_array_equal(before[:, :71], after[:, :71])


def test_run_scales_never_below_poisson_noise() -> None:
    config = MonitorConfig()
    frame = channel(n_nodes=1, n_skus=1, seed=1, mean=4.0)
    exp = demand_expectation(build_panel(frame), config)
    one = run_scales(exp, config)[0]
    noise = 0.8 / np.sqrt(1.0 + exp.expected_units)
    known = ~np.isnan(one)
    assert known.any() and (one[known] >= noise[known] - 1e-12).all()


def test_item_shift_is_the_median_of_the_item_with_enough_clean_peers() -> None:
    error = np.array([[0.1, np.nan], [0.2, 0.5], [0.3, 0.5], [0.4, np.nan], [5.0, 0.5],
                      [1.0, 1.0]])
    items = np.array(["A", "A", "A", "A", "A", "B"], dtype=object)
    shift = item_shift(error, items)
    np.testing.assert_allclose(shift[:5, 0], 0.3)  # the outlier 5.0 moves it one rank only
    np.testing.assert_array_equal(shift[:5, 1], 0.0)  # 3 clean peers < MIN_PEERS
    np.testing.assert_array_equal(shift[5], 0.0)  # an item at one node has no peers
    assert MIN_PEERS == 5
