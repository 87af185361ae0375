"""One served-model rule: with `--models lgbm,ets` and `--models ets,lgbm` the registry's
recorded score, the pyfunc's default answers and the service's model are the same model
(`models.zoo.primary_model`: `auto` when trained, else the first given)."""

from __future__ import annotations

import os

import mlflow
import pandas as pd
import pytest

from features.config import FAST_LGBM, TrainConfig
from features.synthetic import generate_channel_data, write_channel_data
from tests.conftest import restore_tracking_uri
from training.tracking.registry import client_for
from training.tracking.settings import StoreSettings
from training.tracking.stages import train_stage


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory):
    """Two versions on tiny data: models lgbm,ets then ets,lgbm."""
    folder = tmp_path_factory.mktemp("served")
    data = folder / "data"
    write_channel_data(generate_channel_data(nodes=3, skus=4, periods=70, freq="W", seed=3),
                       data)
    store = StoreSettings.local(folder)
    saved = os.environ.get("MLFLOW_TRACKING_URI")
    outcomes = {order: train_stage(TrainConfig(data=data, windows=1, warmup=1, horizon=4,
                                               models=order, lgbm=FAST_LGBM), store=store)
                for order in (("lgbm", "ets"), ("ets", "lgbm"))}
    yield store, outcomes
    restore_tracking_uri(saved)


@pytest.mark.parametrize("order", [("lgbm", "ets"), ("ets", "lgbm")])
def test_registry_score_pyfunc_and_service_answer_with_the_first_model(trained, order):
    from training.tracking.pyfunc import served_model

    store, outcomes = trained
    outcome = outcomes[order]
    version = client_for(store.tracking_uri).get_model_version(store.model_name,
                                                               outcome.version.version)
    assert version.tags["primary_model"] == order[0]
    assert float(version.tags["backtest.wrmsse"]) == outcome.scores.score(order[0])
    assert outcome.scores.score(order[0]) != outcome.scores.score(order[1])
    model = mlflow.pyfunc.load_model(f"models:/{store.model_name}/{outcome.version.version}")
    forecaster = model.unwrap_python_model().forecaster
    assert forecaster.models == list(order)
    # what serving/ answers with when a request names no model (routes/forecasts.py)
    assert served_model(forecaster) == order[0]
    answer = model.predict(forecaster.keys.head(2).astype(str))
    assert set(answer["model"]) == {order[0]}
    expected = forecaster.predict(forecaster.keys.head(2), model=order[0])
    pd.testing.assert_series_equal(answer["mean"], expected["mean"], check_names=False)
