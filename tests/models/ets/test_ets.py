"""Tests for `models.ets`: oracles, filter consistency, NaN semantics and agreement with
statsmodels' `ETSModel` (the reference implementation)."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from models.ets import ETSFit, aicc, end_states, fit_ets, forecast_ets, parse_forms
from tests.conftest import SHARED_DATA, require

WALMART = SHARED_DATA / "walmart_store_dept"


def _seasonal_panel(n_series: int, periods: int, season: int, seed: int) -> np.ndarray:
    """Level + trend + season + AR noise, different shapes per row."""
    rng = np.random.default_rng(seed)
    t = np.arange(periods)
    rows = []
    for _ in range(n_series):
        season_shape = rng.normal(0, rng.uniform(1, 6), season)
        noise = np.cumsum(rng.normal(0, rng.uniform(0.2, 1.5), periods)) * rng.uniform(0, 1)
        rows.append(50 + rng.uniform(-0.3, 0.3) * t + season_shape[t % season] + noise
                    + rng.normal(0, rng.uniform(0.5, 3), periods))
    return np.array(rows)


# --- oracles ---------------------------------------------------------------------------


def test_constant_series_forecasts_the_constant():
    y = np.array([[3.0] * 60, [7.5] * 60])
    np.testing.assert_allclose(forecast_ets(y, horizon=8, season=12), [[3.0] * 8, [7.5] * 8],
                               atol=1e-6)


def test_pure_seasonal_series_repeats_its_season():
    pattern = np.array([1, 5, 3, 2, 8, 4, 0, 6, 2, 9, 3, 1.0])
    fit = fit_ets(np.tile(pattern, 6)[None, :], season=12)
    assert fit.form[0].endswith("A")
    np.testing.assert_allclose(fit.forecast(24)[0], np.tile(pattern, 2), atol=1e-4)


def test_linear_trend_continues():
    y = (5.0 + 0.5 * np.arange(40))[None, :]
    fit = fit_ets(y, season=1)
    assert fit.form[0] == "AAN"
    np.testing.assert_allclose(fit.forecast(5)[0], 5.0 + 0.5 * np.arange(40, 45), atol=1e-4)


def test_all_nan_series_forecasts_zero_without_breaking_the_others():
    y = np.vstack([np.full(30, np.nan), 10 + np.sin(np.arange(30))])
    fit = fit_ets(y, season=4)
    np.testing.assert_array_equal(fit.forecast(3)[0], 0.0)
    assert np.isfinite(fit.forecast(3)[1]).all()
    assert fit.nobs[0] == 0 and np.isnan(fit.aicc[0]) and np.isfinite(fit.aicc[1])


@pytest.mark.parametrize("n_obs", [1, 2, 3])
def test_very_short_series_forecast_their_mean(n_obs):
    values = np.array([4.0, 6.0, 11.0])[:n_obs]
    y = np.r_[np.full(20 - n_obs, np.nan), values][None, :]
    fc = forecast_ets(y, horizon=4, season=12)
    np.testing.assert_allclose(fc, values.mean())


def test_short_series_use_non_seasonal_forms_only():
    y = _seasonal_panel(3, 40, 12, seed=1)  # 40 < 2 seasons of 12 + R's rule for ANA
    y[:, :20] = np.nan
    fit = fit_ets(y, season=12)
    assert all(f.endswith("N") for f in fit.form)
    assert np.isfinite(fit.forecast(6)).all()


# --- consistency -----------------------------------------------------------------------


def _textbook_filter(fit: ETSFit, y_new: np.ndarray) -> np.ndarray:
    """Hyndman et al.'s error-correction equations, one series and period at a time."""
    out = []
    for i, row in enumerate(y_new):
        p = {k: 0.0 if np.isnan(v[i]) else v[i] for k, v in fit.params.items()}
        phi = fit.params["phi"][i] if not np.isnan(fit.params["phi"][i]) else 1.0
        level, trend, seas = fit.states[i, 0], fit.states[i, 1], list(fit.states[i, 2:])
        for value in row:
            now = seas[0] if seas else 0.0
            e = 0.0 if np.isnan(value) else value - (level + phi * trend + now)
            level, trend = level + phi * trend + p["alpha"] * e, phi * trend + p["beta"] * e
            seas = seas[1:] + [now + p["gamma"] * e] if seas else seas
        out.append([level, trend, *seas])
    return np.array(out)


def test_update_continues_the_fitted_filter():
    y = _seasonal_panel(4, 60, 12, seed=2)
    y[1, 50] = np.nan
    head = fit_ets(y[:, :48], season=12)
    updated = head.update(y[:, 48:])
    np.testing.assert_allclose(updated.states, _textbook_filter(head, y[:, 48:]), atol=1e-9)
    # The filter that fitting uses (internal circular layout) gives the same states.
    for i in range(4):
        form = parse_forms([str(head.form[i])], 12)[0]
        u = np.array([[head.params["alpha"][i], 0.0, 0.0, 1.0]])
        if form.trend:
            u[0, 1] = head.params["beta"][i] / u[0, 0]
        if form.seasonal:
            u[0, 2] = head.params["gamma"][i] / (1 - u[0, 0])
        if form.damped:
            u[0, 3] = head.params["phi"][i]
        x0 = head.states[i:i + 1, : 2 + 12 * form.seasonal]
        obs = (~np.isnan(y[i:i + 1, 48:])).astype(float)
        _, state = end_states(np.nan_to_num(y[i:i + 1, 48:]), obs, u, form, 12,
                              x0 if form.seasonal else np.c_[x0, 0.0], np.array([12]))
        np.testing.assert_allclose(state[0, :2], updated.states[i, :2], atol=1e-9)
        if form.seasonal:  # 12 steps: the circular slots are back in forecast order
            np.testing.assert_allclose(state[0, 2:], updated.states[i, 2:], atol=1e-9)


def test_update_over_missing_periods_only_moves_the_forecast_origin():
    fit = fit_ets(_seasonal_panel(3, 48, 12, seed=3), season=12)
    later = fit.update(np.full((3, 5), np.nan))
    np.testing.assert_allclose(later.forecast(7), fit.forecast(12)[:, 5:], atol=1e-9)


def test_one_step_forecast_after_update_equals_the_filtered_prediction():
    y = _seasonal_panel(2, 50, 12, seed=4)
    head = fit_ets(y[:, :49], season=12)
    error = y[:, 49] - head.forecast(1)[:, 0]
    phi = np.where(np.isnan(head.params["phi"]), 1.0, head.params["phi"])
    gain = head.params["alpha"] + phi * np.nan_to_num(head.params["beta"])
    expected = head.forecast(2)[:, 1] + gain * error  # the season of period 50 is untouched
    np.testing.assert_allclose(head.update(y[:, 49:50]).forecast(1)[:, 0], expected)


def test_leading_missing_periods_do_not_change_the_fit():
    y = _seasonal_panel(3, 40, 4, seed=5)
    padded = np.hstack([np.full((3, 7), np.nan), y])
    a, b = fit_ets(y, season=4), fit_ets(padded, season=4)
    np.testing.assert_array_equal(a.form, b.form)
    np.testing.assert_allclose(a.aicc, b.aicc, rtol=1e-9)
    np.testing.assert_allclose(a.forecast(15), b.forecast(15), rtol=1e-8)


def test_trailing_missing_periods_move_the_forecast_origin():
    y = _seasonal_panel(3, 40, 4, seed=6)
    ended = np.hstack([y, np.full((3, 4), np.nan)])
    a, b = fit_ets(y, season=4), fit_ets(ended, season=4)
    np.testing.assert_allclose(b.forecast(6), a.forecast(10)[:, 4:], rtol=1e-8)


def test_missing_period_is_the_same_as_observing_its_prediction():
    """NaN skips the error correction, exactly as if y_t equalled its one-step prediction:
    same states and SSE afterwards, one observation fewer."""
    rng = np.random.default_rng(7)
    y = _seasonal_panel(1, 40, 4, seed=7)[0]
    form = parse_forms(["AAdA"], 4)[0]
    u = np.array([[0.3, 0.2, 0.1, 0.9]])
    x0 = np.r_[rng.normal(50, 1), 0.1, rng.normal(0, 1, 4)][None, :]
    gap = y.copy()
    gap[25] = np.nan
    obs = (~np.isnan(gap)).astype(float)[None, :]
    _, before = end_states(gap[None, :25], obs[:, :25], u, form, 4, x0, np.array([25]))
    level, trend, seas = before[0, 0], before[0, 1], before[0, 2:]
    imputed = y.copy()
    imputed[25] = level + 0.9 * trend + seas[25 % 4]
    sse_gap, state_gap = end_states(np.nan_to_num(gap)[None], obs, u, form, 4, x0,
                                    np.array([40]))
    sse_imp, state_imp = end_states(imputed[None], np.ones((1, 40)), u, form, 4, x0,
                                    np.array([40]))
    np.testing.assert_allclose(sse_gap, sse_imp, rtol=1e-12)
    np.testing.assert_allclose(state_gap, state_imp, rtol=1e-12)
    assert fit_ets(gap[None], season=4).nobs[0] == 39


# --- variance, containers, validation --------------------------------------------------


def _fit_of(form: str, *, alpha: float, beta: float = np.nan, gamma: float = np.nan,
            phi: float = np.nan, season: int = 4) -> ETSFit:
    one = np.ones(1)
    params = {"alpha": alpha * one, "beta": beta * one, "gamma": gamma * one, "phi": phi * one}
    return ETSFit(np.array([form]), one, one, np.array([50]), params,
                  np.zeros((1, 2 + season)), 2.0 * one, season)


def test_forecast_variance_matches_the_closed_forms():
    h = np.arange(1, 11)
    ann = _fit_of("ANN", alpha=0.3).forecast_variance(10)[0]
    np.testing.assert_allclose(ann, 2.0 * (1 + (h - 1) * 0.09))
    aan = _fit_of("AAN", alpha=0.3, beta=0.1).forecast_variance(10)[0]
    closed = 1 + (h - 1) * (0.09 + 0.3 * 0.1 * h + 0.01 * h * (2 * h - 1) / 6)
    np.testing.assert_allclose(aan, 2.0 * closed)
    ana = _fit_of("ANA", alpha=0.3, gamma=0.2).forecast_variance(10)[0]
    seasons = (h - 1) // 4
    np.testing.assert_allclose(ana, 2.0 * (1 + (h - 1) * 0.09 + 0.2 * (0.6 + 0.2) * seasons))


def test_fit_pickles_small_and_subsets():
    y = _seasonal_panel(5, 40, 4, seed=8)
    fit = fit_ets(y, season=4)
    blob = pickle.dumps(fit)
    assert len(blob) < 6_000
    np.testing.assert_allclose(pickle.loads(blob).forecast(5), fit.forecast(5))
    np.testing.assert_allclose(fit.subset([3, 1]).forecast(5), fit.forecast(5)[[3, 1]])
    assert fit.states.shape == (5, 6)


def test_invalid_arguments_name_the_parameter():
    with pytest.raises(ValueError, match="`y`"):
        fit_ets(np.ones(10), season=4)
    with pytest.raises(ValueError, match="`season`"):
        fit_ets(np.ones((1, 10)), season=0)
    with pytest.raises(ValueError, match="`forms`"):
        fit_ets(np.ones((1, 10)), season=4, forms=["MAM"])
    with pytest.raises(ValueError, match="`horizon`"):
        forecast_ets(np.ones((1, 10)), horizon=0, season=1)


# --- agreement with statsmodels --------------------------------------------------------


def _statsmodels_aicc(y: np.ndarray, form: str, season: int) -> float:
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    seasonal = form.endswith("A")
    model = ETSModel(y, error="add", trend="add" if form[1] == "A" else None,
                     damped_trend="d" in form, seasonal="add" if seasonal else None,
                     seasonal_periods=season if seasonal else None)
    with warnings.catch_warnings(), threadpool_limits(limits=1, user_api="blas"):
        warnings.simplefilter("ignore")  # single-threaded BLAS: 4x faster on tiny matrices
        return float(model.fit(disp=False).aicc)


def _assert_no_worse_than_statsmodels(y: np.ndarray, form: str, season: int) -> None:
    """statsmodels counts all m seasonal initial states (we count m - 1, the identified
    ones), so its AICc is compared with ours at k + 1 parameters for seasonal forms."""
    fit = fit_ets(y, season=season, forms=[form])
    f = parse_forms([form], season)[0]
    ours = aicc(fit.loglik, fit.nobs, f.n_params(season) + f.seasonal)
    theirs = np.array([_statsmodels_aicc(row, form, season) for row in y])
    ok = ours <= theirs + np.maximum(0.5, 1e-3 * np.abs(theirs))
    assert ok.mean() >= 0.95, f"{form}: ours - statsmodels = {np.round(ours - theirs, 2)}"


@pytest.fixture(scope="module")
def walmart_weekly() -> np.ndarray:
    """12 complete weekly Walmart store x department series (thousands of dollars)."""
    require(WALMART.exists(),
            f"{WALMART} is absent; the Walmart part of the statsmodels check is skipped.")
    from features.contract.datasets import load_walmart
    from features.engineering.history import build_panel

    data = load_walmart(WALMART)
    panel = build_panel(data.sell_through, freq=data.freq)
    complete = np.flatnonzero(~np.isnan(panel.units).any(axis=1) & ~panel.filled.any(axis=1))
    rows = np.random.default_rng(0).choice(complete, 12, replace=False)
    return panel.units[rows] / 1000.0


@pytest.mark.parametrize("form", ["AAN", "AAdN"])
def test_aicc_no_worse_than_statsmodels_non_seasonal(walmart_weekly, form):
    rng = np.random.default_rng(9)
    walks = 20 + np.cumsum(rng.normal(0.1, 1.0, (8, 100)), axis=1) + rng.normal(0, 1, (8, 100))
    _assert_no_worse_than_statsmodels(walmart_weekly, form, 52)
    _assert_no_worse_than_statsmodels(walks, form, 1)


@pytest.mark.parametrize("form", ["ANA", "AAdA"])
def test_aicc_no_worse_than_statsmodels_seasonal_m12(form):
    _assert_no_worse_than_statsmodels(_seasonal_panel(10, 60, 12, seed=10), form, 12)


@pytest.mark.slow
def test_aicc_no_worse_than_statsmodels_seasonal_m52(walmart_weekly):
    _assert_no_worse_than_statsmodels(walmart_weekly[:4], "ANA", 52)
