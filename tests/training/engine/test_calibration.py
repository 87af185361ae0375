"""The served model's per-period forecasts on its calibration windows (`Forecaster.calibration`)."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest

from features.engineering.history import build_panel
from features.synthetic import generate_channel_data
from training.engine.calibration import EMPTY_CALIBRATION
from training.engine.forecast import Forecaster, fit_forecaster

FREQ, H = "W-MON", 4


@pytest.fixture(scope="module")
def fitted() -> tuple[Forecaster, pd.DataFrame]:
    """A forecaster fitted on all but the last 2 weeks, and the whole history."""
    history = generate_channel_data(nodes=4, skus=3, periods=70, freq="W", seed=5).sell_through
    dates = pd.to_datetime(history["date"])
    cut = dates.drop_duplicates().sort_values().iloc[-3]
    f = fit_forecaster(history[dates <= cut], freq=FREQ, horizon=H,
                       models=("ma", "tsb", "auto"), calibration_windows=3)
    return f, history


def test_calibration_keeps_the_served_models_forecasts_of_each_window(fitted) -> None:
    f, history = fitted
    cal = f.calibration
    assert cal.windows == 3 and cal.means.dtype == np.float32
    assert cal.means.shape == (len(f.keys), 3, H)
    step = pd.Timedelta(weeks=H)
    assert list(cal.cutoffs) == [f.origin - k * step for k in (3, 2, 1)]
    # the same forecasts that `errors` scored: their absolute errors add up to it
    panel = build_panel(history[["date", "node_id", "sku", "units"]], freq=FREQ)
    at = pd.MultiIndex.from_frame(panel.keys[["node_id", "sku"]].astype(str)).get_indexer(
        pd.MultiIndex.from_frame(f.keys[["node_id", "sku"]].astype(str)))
    seen = [int(panel.dates.get_loc(c)) + 1 for c in cal.cutoffs]
    actual = np.stack([panel.units[at, t:t + H] for t in seen], axis=1)
    abs_err = np.nansum(np.abs(cal.means - actual), axis=(1, 2))
    assert f.errors is not None
    expected = (f.errors["mae_scaled"] * f.errors["periods"] * f.scale).to_numpy()
    scored = f.errors["periods"].to_numpy() > 0
    np.testing.assert_allclose(abs_err[scored], expected[scored], rtol=1e-5)


def test_calibration_survives_pickling_and_rolling_forward(fitted) -> None:
    f, history = fitted
    again = pickle.loads(pickle.dumps(f))
    np.testing.assert_array_equal(again.calibration.means, f.calibration.means)
    assert list(again.calibration.cutoffs) == list(f.calibration.cutoffs)
    new = history[pd.to_datetime(history["date"]) > f.origin]
    assert f.update(new).calibration is f.calibration  # the model did not change
    old = pickle.loads(pickle.dumps(f))
    del old.__dict__["calibration"]  # a forecaster pickled before calibration was kept
    older = pickle.loads(pickle.dumps(old))
    assert older.calibration is EMPTY_CALIBRATION and older.calibration.windows == 0
