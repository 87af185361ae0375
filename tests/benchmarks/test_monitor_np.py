"""The core of benchmarks/monitor_np.py on tiny hand-made cases."""

from __future__ import annotations

import numpy as np
import pandas as pd

from benchmarks.monitor_np import (
    GRID,
    History,
    allocate,
    grouped_ceiling,
    standard_drop_scores,
    start_counts,
)
from models.monitor.config import MonitorConfig
from models.monitor.panel import Panel, build_panel


def _panel(units: np.ndarray) -> Panel:
    weeks = units.shape[1]
    dates = pd.date_range("2020-01-03", periods=weeks, freq="7D")
    frame = pd.DataFrame({"date": np.tile(dates, len(units)),
                          "node_id": np.repeat([f"N{i}" for i in range(len(units))], weeks),
                          "sku": "S0", "units": units.reshape(-1), "promo": 0.0,
                          "on_hand": 500.0, "sell_in": 0.0})
    return build_panel(frame)


def _at(h: float) -> int:
    return int(np.flatnonzero(np.isclose(GRID, h))[0])


def test_start_counts_count_crossings_from_below_within_the_periods() -> None:
    """An alert starts where the score reaches the threshold and the period before did not."""
    score = np.array([[np.nan, 0.0, 5.0, 5.0, 0.0, 6.0]])
    counts = start_counts(score, 0, 6)
    assert counts[0, _at(4.0)] == 2 and counts[0, _at(5.5)] == 1 and counts[0, _at(7.0)] == 0
    assert start_counts(score, 3, 6)[0, _at(4.0)] == 1  # period 3 continues period 2's


def test_allocate_spends_the_budget_where_it_buys_detection() -> None:
    """Quiet and hopeless series get high thresholds, the middle one a low one; a dearer
    false alarm never lowers a threshold."""
    tail = np.round(1000 * np.exp(-2.0 * GRID)).astype(np.int64)  # same clean tail for all
    detected = np.stack([np.where(GRID <= 10, 1.0, 0.0),              # quiet: any drop is huge
                         np.zeros(len(GRID)),                          # hopeless
                         np.where(GRID <= 3, 1.0, np.where(GRID <= 5, 0.5, 0.0))])
    history = History(starts=np.stack([tail] * 3), periods=np.full(3, 1000, dtype=np.int64),
                      detected=detected, power=np.array([12.0, 0.5, 3.0]))
    groups = np.arange(3, dtype=np.int64)
    cheap = allocate(history, groups, 1e-3, pooled=False)
    dear = allocate(history, groups, 1e-1, pooled=False)
    assert cheap[1] > cheap[2] and cheap[0] > cheap[2]
    assert (dear >= cheap).all()
    assert (allocate(history, groups, 1e-3, pooled=True) == cheap).all()  # one tail for all


def test_standard_drop_scores_find_a_drop_and_use_no_data_after_onset_plus_two() -> None:
    """A drop to 35% of a steady series scores far above no drop; data from onset + 3 on
    changes nothing."""
    rng = np.random.default_rng(0)
    units = rng.poisson(50.0, size=(3, 75)).astype(float)
    config, onsets = MonitorConfig(), np.array([65, 70])
    dropped = standard_drop_scores(_panel(units), config, onsets, 0.35)
    same = standard_drop_scores(_panel(units), config, onsets, 1.0)
    assert dropped.shape == (3, 2)
    assert (dropped > 5).all() and (same < 3).all()
    later = units.copy()
    later[:, 73:] = 0.0
    assert np.array_equal(standard_drop_scores(_panel(later), config, onsets, 0.35), dropped)


def test_grouped_ceiling_is_a_knapsack_over_the_groups_thresholds() -> None:
    """With no false alert allowed only thresholds above the clean window's scores count."""
    window = np.zeros((2, len(GRID)), dtype=np.int64)
    window[0, GRID <= 4.0] = 1  # series 0 has a false alert below 4.0
    best = np.array([3.0, 6.0, 2.0])  # labelled drops' best scores: on series 0, 1, 1
    rows, sixty = np.array([0, 1, 1]), np.array([True, False, True])
    groups = np.array([0, 1], dtype=np.int64)
    assert grouped_ceiling(groups, window, best, rows, sixty, 0) == (2, 1)  # both on series 1
    assert grouped_ceiling(groups, window, best, rows, sixty, 1) == (3, 2)
