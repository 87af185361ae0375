"""The registered model answers aggregate series (issue 23): reconciled by the method that
won the per-level backtest, as the forecaster does; bottom rows without a level unchanged."""

from __future__ import annotations

import os

import mlflow
import pandas as pd
import pytest

from features.config import TrainConfig
from features.schema import ITEM, NODE
from features.synthetic import generate_channel_data, write_channel_data
from models.hierarchy import COHERENT_METHODS
from tests.conftest import restore_tracking_uri
from training.tracking.settings import StoreSettings
from training.tracking.stages import train_stage

AGGREGATES = pd.DataFrame({"level": ["total", "channel", "node"],
                           NODE: ["TOTAL", "dealer", "DLR-01"], ITEM: ["*", "*", "*"]})


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("levels")
    data = folder / "data"
    write_channel_data(generate_channel_data(nodes=4, skus=3, periods=60, freq="W", seed=5),
                       data)
    store = StoreSettings.local(folder)
    saved = os.environ.get("MLFLOW_TRACKING_URI")
    outcome = train_stage(TrainConfig(data=data, windows=2, warmup=2, horizon=4,
                                      models=("snaive", "ma", "auto")), store=store)
    assert outcome.version is not None  # train_stage registers a version
    model = mlflow.pyfunc.load_model(f"models:/{store.model_name}/{outcome.version.version}")
    yield outcome, model, store
    restore_tracking_uri(saved)


def test_the_default_method_is_the_level_backtest_winner_and_is_logged(trained):
    outcome, model, _ = trained
    forecaster = model.unwrap_python_model().forecaster
    assert outcome.levels is not None and outcome.levels.winner in COHERENT_METHODS
    assert forecaster.reconcile == outcome.levels.winner
    run = mlflow.get_run(outcome.run_id)
    assert run.data.tags["reconcile.default"] == outcome.levels.winner
    assert f"levels/wrmsse_m5/{outcome.levels.winner}" in run.data.metrics
    assert "levels/coverage95/none/total/all" in run.data.metrics


def test_the_pyfunc_answers_aggregates_as_the_forecaster_does(trained):
    _, model, _ = trained
    forecaster = model.unwrap_python_model().forecaster
    answer = model.predict(AGGREGATES)
    expected = forecaster.predict_levels(AGGREGATES)
    pd.testing.assert_frame_equal(answer.reset_index(drop=True), expected)
    assert set(answer["reconcile"]) == {forecaster.reconcile}
    bottom = forecaster.keys.head(2).astype(str)
    plain = model.predict(bottom)
    pd.testing.assert_frame_equal(plain, forecaster.predict(bottom))
    none = model.predict(AGGREGATES, params={"reconcile": "none"})
    assert set(none["reconcile"]) == {"none"}
    assert not none["mean"].equals(answer["mean"])


def test_unknown_aggregates_and_bad_methods_are_request_errors(trained):
    from training.tracking.pyfunc import ForecastRequestError, UnknownSeriesRequest

    _, model, _ = trained
    forecaster = model.unwrap_python_model().forecaster
    from training.tracking.pyfunc import answer

    with pytest.raises(UnknownSeriesRequest, match="NOPE"):
        answer(forecaster, pd.DataFrame({"level": ["parent"], NODE: ["NOPE"], ITEM: ["*"]}), {})
    with pytest.raises(ForecastRequestError, match="reconcile"):
        answer(forecaster, AGGREGATES, {"reconcile": "magic"})


def test_forecast_stage_writes_every_series_of_a_level(trained, tmp_path):
    from training.tracking.stages import forecast_stage

    outcome, _, store = trained
    uri = f"models:/{store.model_name}/{outcome.version.version}"
    out = tmp_path / "total.csv"
    frame = forecast_stage(store=store, model_uri=uri, out=out, level="total",
                           reconcile="bottom_up")
    assert set(frame["level"]) == {"total"} and set(frame["reconcile"]) == {"bottom_up"}
    assert "*" in set(frame[ITEM]) and len(pd.read_csv(out)) == len(frame)
