"""Pooled demand rate: the sku's recent level split by the nodes' long-run shares."""

from __future__ import annotations

import numpy as np
import pytest

from models.allocation.pooled import (
    NO_EVIDENCE,
    IntervalEvidence,
    interval_evidence,
    pooled_factor,
    pooled_gate_on,
    pooled_rate,
    split_error,
)


def test_rate_is_the_skus_recent_level_split_by_long_run_shares() -> None:
    # sku 0: node a sells 3 a period, node b 1, then the sku doubles over the last 2 periods
    units = np.array([[3.0, 3.0, 3.0, 3.0, 6.0, 6.0],
                      [1.0, 1.0, 1.0, 1.0, 2.0, 2.0],
                      [5.0, 5.0, 5.0, 5.0, 5.0, 5.0]])  # sku 1 alone
    group = np.array([0, 0, 1])
    rate = pooled_rate(units, np.zeros_like(units, dtype=bool), group, level_periods=2,
                       share_periods=4)
    np.testing.assert_allclose(rate, [6.0, 2.0, 5.0])


def test_censored_and_unreported_periods_count_nowhere() -> None:
    units = np.array([[4.0, 4.0, 0.0, 4.0],
                      [2.0, np.nan, 2.0, 2.0]])
    censored = np.array([[False, False, True, False], [False, False, False, False]])
    rate = pooled_rate(units, censored, np.array([0, 0]), level_periods=2, share_periods=4)
    np.testing.assert_allclose(rate, [4.0, 2.0])  # the stock-out's 0 is not a drop in demand


def test_a_sku_without_sales_has_no_rate() -> None:
    rate = pooled_rate(np.zeros((2, 3)), np.zeros((2, 3), dtype=bool), np.array([0, 0]))
    np.testing.assert_array_equal(rate, [0.0, 0.0])


def test_factor_moves_the_mean_by_the_weight_and_leaves_empty_forecasts() -> None:
    factor = pooled_factor(np.array([10.0, 0.0, 4.0]), np.array([20.0, 5.0, 4.0]), weight=0.5)
    np.testing.assert_allclose(factor, [1.5, 1.0, 1.0])
    np.testing.assert_allclose(pooled_factor(np.array([10.0]), np.array([20.0]), weight=0.0),
                               [1.0])
    with pytest.raises(ValueError, match="`weight` must be in"):
        pooled_factor(np.array([1.0]), np.array([1.0]), weight=1.5)
    with pytest.raises(ValueError, match="`level_periods`"):
        pooled_rate(np.zeros((1, 2)), np.zeros((1, 2), dtype=bool), np.array([0]),
                    level_periods=0)


def test_interval_evidence_sums_each_interval_and_leaves_out_stock_outs() -> None:
    units = np.array([[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], [2.0, 2.0, 2.0, 2.0, 2.0, 2.0]])
    censored = np.zeros_like(units, dtype=bool)
    censored[1, 4] = True
    forecasts = np.full((2, 2, 3), 1.0)  # windows at cutoffs 3 and 4, 3 steps
    ev = interval_evidence(units, censored, np.array([0, 0]), cutoffs=[3, 4],
                           forecasts=forecasts, periods=np.array([2.0, 1.5]),
                           level_periods=1, share_periods=3)
    np.testing.assert_allclose(ev.model, [[2.0, 1.5], [2.0, 1.5]])
    # series 0 from cutoff 3: periods 3, 4; series 1 from 3: 2 + half of (censored) 2: NaN
    np.testing.assert_allclose(ev.actual[0], [4.0 + 5.0, np.nan])
    np.testing.assert_allclose(ev.actual[1], [5.0 + 6.0, np.nan])  # 1: censored at 4
    rate = pooled_rate(units[:, :3], censored[:, :3], np.array([0, 0]), level_periods=1,
                       share_periods=3)
    np.testing.assert_allclose(ev.pooled[0], rate * [2.0, 1.5])
    late = interval_evidence(units, censored, np.array([0, 0]), cutoffs=[5],
                             forecasts=forecasts[:1], periods=np.array([2.0, np.nan]))
    assert np.isnan(late.actual).all()  # interval past the data; a series without interval
    beyond = interval_evidence(units, censored, np.array([0, 0]), cutoffs=[8],
                               forecasts=forecasts[:1], periods=np.array([1.0, 1.0]))
    assert np.isnan(beyond.actual).all()  # a cutoff past the data's end: nothing recorded


def test_gate_is_on_when_the_half_way_means_split_each_skus_sales_better() -> None:
    group = np.array([0, 0, 1])
    actual = np.array([[6.0, 2.0, 5.0], [3.0, 1.0, np.nan]])
    model = np.array([[4.0, 4.0, 9.0], [2.0, 2.0, 1.0]])  # sku 0 split 50/50, recorded 75/25
    pooled = np.array([[9.0, 3.0, 100.0], [6.0, 2.0, 100.0]])  # 75/25; sku 1's level far off
    gate = pooled_gate_on(IntervalEvidence(model, pooled, actual, group))
    assert gate.used and gate.windows == 2 and gate.intervals == 5
    # model: |4 - 6| + |4 - 2| + |2 - 3| + |2 - 1|; half-way (6.5, 3.5), (4, 2) of 8 and 4
    assert gate.model_error == 6.0
    assert gate.pooled_error == pytest.approx(0.8 + 0.8 + 1.0 / 3.0 + 1.0 / 3.0)
    # a level twice too high with the recorded split: the forecasts are kept
    exact = pooled_gate_on(IntervalEvidence(2.0 * actual, pooled, actual, group))
    assert not exact.used and exact.model_error == 0.0
    none = pooled_gate_on(IntervalEvidence(*(np.full((1, 2), np.nan),) * 3, np.array([0, 0])))
    assert none is NO_EVIDENCE and not none.used


def test_split_error_splits_a_sku_without_means_evenly() -> None:
    means = np.array([[0.0, 0.0, 3.0]])
    actual = np.array([[4.0, 2.0, 7.0]])
    ok = np.array([[True, True, True]])
    assert split_error(means, actual, np.array([0, 0, 1]), ok) == 2.0  # 3 / 3 against 4 / 2
    assert split_error(means, actual, np.array([0, 0, 1]), ok & [[True, False, True]]) == 0.0
