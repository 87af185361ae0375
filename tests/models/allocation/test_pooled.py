"""Pooled demand rate: the sku's recent level split by the nodes' long-run shares."""

from __future__ import annotations

import numpy as np
import pytest

from models.allocation.pooled import pooled_factor, pooled_rate


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
