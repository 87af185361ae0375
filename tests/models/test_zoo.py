"""GlobalModel follows scikit-learn's estimator contract and forecasts as a booster fitted by
hand on the same training rows does."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from features.config import LGBMConfig
from features.engineering.history import build_panel
from features.engineering.training_set import ORIGIN, build_training_set
from features.periods import period_offset
from models.lgbm import LGBMForecaster, StackedRows
from models.zoo import GlobalModel
from tests.conftest import make_history, make_nodes

FAST = LGBMConfig(max_rounds=30, num_leaves=7, min_data_in_leaf=5, num_threads=1,
                  learning_rate=0.2)


def _model(**kw: object) -> GlobalModel:
    return GlobalModel(**{"freq": "W-MON", "horizon": 3, "config": FAST, **kw})  # type: ignore[arg-type]


def test_constructor_stores_hyper_parameters_only() -> None:
    model = _model(step_share=0.5, refit_every=4)
    params = model.get_params()
    assert params == {"freq": "W-MON", "horizon": 3, "spec": None, "config": FAST,
                      "step_share": 0.5, "refit_every": 4}
    assert not [k for k in vars(model) if k.endswith("_")]
    twin = clone(model)
    assert twin is not model and twin.get_params() == params
    assert twin.set_params(refit_every=2).refit_every == 2
    assert GlobalModel(**params).get_params() == params


def test_forecast_before_fit_is_refused() -> None:
    with pytest.raises(NotFittedError, match="GlobalModel"):
        _model().forecast(pd.Timestamp("2024-06-03"), fallback=np.zeros((6, 3)))


def test_forecast_equals_a_booster_fitted_by_hand_and_fallback_fills_the_rest() -> None:
    history = make_history(n_nodes=2, n_items=3, weeks=40, seed=1)
    history = history[~((history["sku"] == "S2") & (history["node_id"] == "N1")
                        & (history["date"] >= "2024-08-01"))]  # one series ended early
    panel = build_panel(history, freq="W-MON")
    cutoff = pd.Timestamp(sorted(history["date"].unique())[-4])
    fallback = np.full((len(panel.keys), 3), -1.0)
    model = _model(step_share=1.0).fit(history, panel_keys=panel.keys, nodes=make_nodes(2))
    got = model.forecast(cutoff, fallback=fallback)

    ts = build_training_set(history, horizon=3, freq="W-MON", nodes=make_nodes(2))
    booster = LGBMForecaster(config=FAST).fit(StackedRows.from_training_set(ts), cutoff=cutoff,
                                              horizon=3, period=period_offset("W-MON"))
    rows = np.flatnonzero(ts.keys[ORIGIN].to_numpy() == np.datetime64(cutoff))
    expected = booster.predict(ts, rows=rows)
    keys = list(zip(panel.keys["node_id"].astype(str), panel.keys["sku"].astype(str),
                    strict=True))
    for i, (node, sku) in enumerate(zip(ts.keys["node_id"].iloc[rows].astype(str),
                                        ts.keys["sku"].iloc[rows].astype(str), strict=True)):
        np.testing.assert_array_equal(got[keys.index((node, sku))], expected[i])
    ended = keys.index(("N1", "S2"))
    assert (got[ended] == -1.0).all()
    assert model.last_model_ is not None and model.n_series_ == len(panel.keys)


def test_refit_every_reuses_the_last_booster(lgbm_fits: list[pd.Timestamp]) -> None:
    history = make_history(n_nodes=2, n_items=2, weeks=36, seed=2)
    panel = build_panel(history, freq="W-MON")
    dates = [pd.Timestamp(d) for d in sorted(history["date"].unique())[-6:-2]]
    model = _model(refit_every=2).fit(history, panel_keys=panel.keys)
    for cut in dates:
        model.forecast(cut, fallback=np.zeros((len(panel.keys), 3)))
    assert lgbm_fits == [dates[0], dates[2]]
