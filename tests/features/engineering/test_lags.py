import numpy as np
import pytest

from features.engineering import lags as L


def test_lag_oracle_units_equal_period_index():
    # units = period index, so lag l at origin t must be t - (l - 1)
    values = np.arange(10, dtype=float)[None, :]
    for k in (1, 2, 5):
        out = L.lag(values, lag=k)
        assert np.isnan(out[0, : k - 1]).all()
        np.testing.assert_array_equal(out[0, k - 1 :], np.arange(10 - (k - 1)))


def test_lag_below_one_is_refused():
    with pytest.raises(ValueError, match="`lag` must be >= 1"):
        L.lag(np.zeros((1, 3)), lag=0)


def test_rolling_mean_and_std_match_pandas():
    rng = np.random.default_rng(1)
    values = rng.poisson(3, (4, 40)).astype(float)
    values[1, 5:9] = np.nan
    import pandas as pd

    for w in (1, 3, 7):
        mean = L.rolling_mean(values, lag=1, window=w)
        std = L.rolling_std(values, lag=1, window=w)
        expect_mean = pd.DataFrame(values.T).rolling(w, min_periods=1).mean().T.to_numpy()
        expect_std = pd.DataFrame(values.T).rolling(w, min_periods=min(2, w)).std().T.to_numpy()
        np.testing.assert_allclose(mean, expect_mean, equal_nan=True)
        np.testing.assert_allclose(std, expect_std, equal_nan=True, atol=1e-9)


def test_rolling_at_lag_two_skips_the_origin():
    values = np.array([[1.0, 2.0, 3.0, 100.0]])
    out = L.rolling_mean(values, lag=2, window=2)
    assert out[0, 3] == pytest.approx(2.5)  # mean of 2 and 3; 100 (the origin) not used
    assert np.isnan(out[0, 0])


def test_zero_share_and_periods_since_sale():
    values = np.array([[0.0, 3.0, 0.0, 0.0, np.nan, 0.0]])
    share = L.rolling_zero_share(values, lag=1, window=3)
    assert share[0, 3] == pytest.approx(2 / 3)
    assert share[0, 5] == pytest.approx(1.0)  # NaN is skipped, not a zero
    since = L.periods_since_last_positive(values)
    assert np.isnan(since[0, 0])
    np.testing.assert_array_equal(since[0, 1:], [0, 1, 2, 3, 4])


def test_series_age_counts_from_first_report():
    age = L.series_age(np.array([2]), 5)
    assert np.isnan(age[0, :2]).all()
    np.testing.assert_array_equal(age[0, 2:], [1, 2, 3])
