"""Global LightGBM: learns a plain signal, ignores stock-out targets, never looks past cutoff."""

from __future__ import annotations

from dataclasses import replace

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError

from features.engineering.training_set import ORIGIN, build_training_set
from features.periods import period_offset
from features.schema import DATE, ON_HAND, UNITS
from models.lgbm import LGBMConfig, LGBMForecaster, StackedRows
from tests.conftest import make_history

FAST = LGBMConfig(max_rounds=60, num_leaves=7, min_data_in_leaf=5, num_threads=1,
                  learning_rate=0.2)


def _fit(history: pd.DataFrame, cutoff: pd.Timestamp) -> tuple[LGBMForecaster, np.ndarray]:
    ts = build_training_set(history, horizon=3, freq="W-MON")
    rows = StackedRows.from_training_set(ts)
    model = LGBMForecaster(config=FAST).fit(rows, cutoff=cutoff, horizon=3,
                                            period=period_offset("W-MON"))
    at = np.flatnonzero(ts.keys[ORIGIN].to_numpy() == np.datetime64(cutoff))
    return model, model.predict(ts, rows=at)


def test_constant_series_are_forecast_at_their_level() -> None:
    history = make_history(n_nodes=2, n_items=3, weeks=40)
    level = history["sku"].map({"S0": 2.0, "S1": 10.0, "S2": 30.0})
    history[UNITS] = level
    history[ON_HAND] = 50.0
    cutoff = pd.Timestamp(history[DATE].max()) - pd.Timedelta(weeks=3)
    _, pred = _fit(history, cutoff)
    expected = np.repeat(np.array([2.0, 10.0, 30.0] * 2)[:, None], 3, axis=1)
    np.testing.assert_allclose(pred, expected, rtol=0.1)
    assert (pred >= 0).all()


def test_stock_out_targets_are_not_learned_as_demand() -> None:
    history = make_history(n_nodes=2, n_items=3, weeks=40)
    history[UNITS] = 10.0
    history[ON_HAND] = 50.0
    out = history.index % 3 == 0
    history.loc[out, UNITS] = 0.0  # sold nothing because nothing was on the shelf
    history.loc[out, ON_HAND] = 0.0
    cutoff = pd.Timestamp(history[DATE].max()) - pd.Timedelta(weeks=3)
    _, pred = _fit(history, cutoff)
    assert pred.mean() > 9.0


def test_predict_before_fit_is_refused() -> None:
    ts = build_training_set(make_history(), horizon=2, freq="W-MON")
    with pytest.raises(NotFittedError, match="call `fit` first"):
        LGBMForecaster().predict(ts, rows=np.arange(3))


def test_step_share_must_be_a_fraction() -> None:
    ts = build_training_set(make_history(), horizon=2, freq="W-MON")
    with pytest.raises(ValueError, match="`step_share`"):
        StackedRows.from_training_set(ts, step_share=0.0)


@pytest.mark.parametrize("share", [1.0, 0.3])
def test_stacked_rows_are_the_sampled_rows_of_the_full_stack(share: float) -> None:
    history = make_history(n_nodes=3, n_items=4, weeks=30)
    history.loc[history.index % 5 == 0, ON_HAND] = 0.0  # some censored targets
    nodes = pd.DataFrame({"node_id": sorted(history["node_id"].unique()), "channel": "retail"})
    ts = build_training_set(history, horizon=3, freq="W-MON", nodes=nodes)
    X, y, cens, keys = ts.stack(observed_only=True)  # every step's frame, then the sample
    assert cens.any() and "channel" in X
    keep = ~cens & (np.random.default_rng(4).random(len(cens)) < share)
    rows = StackedRows.from_training_set(ts, step_share=share, seed=4)
    pd.testing.assert_frame_equal(rows.X, X[keep].reset_index(drop=True))
    np.testing.assert_array_equal(rows.y, y[keep])
    np.testing.assert_array_equal(rows.date, keys[DATE].to_numpy()[keep])
    np.testing.assert_array_equal(rows.origin, keys[ORIGIN].to_numpy()[keep])
    assert rows.feature_names == ts.feature_names


def test_booster_is_the_one_lightgbm_trains_on_the_frame() -> None:
    history = make_history(n_nodes=3, n_items=4, weeks=40)
    nodes = pd.DataFrame({"node_id": sorted(history["node_id"].unique()), "channel": "retail"})
    rows = StackedRows.from_training_set(build_training_set(history, horizon=3, freq="W-MON",
                                                            nodes=nodes))
    cutoff = pd.Timestamp(history[DATE].max()) - pd.Timedelta(weeks=3)
    config = replace(FAST, refit=True)
    model = LGBMForecaster(config=config).fit(rows, cutoff=cutoff, horizon=3,
                                              period=period_offset("W-MON"))
    usable = rows.date <= np.datetime64(cutoff)
    frame = lgb.Dataset(rows.X[usable], rows.y[usable])  # LightGBM's own frame conversion
    ref = lgb.train(config.params(), frame, num_boost_round=model.best_rounds_)
    assert model.booster_.model_to_string() == ref.model_to_string()
    assert model.booster_.pandas_categorical == [list(rows.X[c].cat.categories)
                                                 for c in ("node_id", "sku", "channel")]
