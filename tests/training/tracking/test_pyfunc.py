"""The `channelcast-demand` pyfunc: signature, params, the /invocations answer, and a clear
error for unknown series in process and over REST."""

from __future__ import annotations

import os

import mlflow
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from mlflow.exceptions import MlflowException
from mlflow.pyfunc import scoring_server

from features.synthetic import generate_channel_data
from tests.conftest import restore_tracking_uri
from training.engine.forecast import UnknownSeriesError, fit_forecaster
from training.tracking.pyfunc import ForecastRequestError, UnknownSeriesRequest, log_forecast_model


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("pyfunc")
    history = generate_channel_data(nodes=3, skus=4, periods=60, freq="W", seed=2).sell_through
    forecaster = fit_forecaster(history, freq="W-MON", horizon=6,
                                models=("snaive", "ma", "auto"), calibration_windows=2)
    saved = os.environ.get("MLFLOW_TRACKING_URI")
    mlflow.set_tracking_uri(f"sqlite:///{folder / 'mlflow.db'}")
    experiment = mlflow.create_experiment("t", artifact_location=(folder / "a").as_uri())
    with mlflow.start_run(experiment_id=experiment):
        info = log_forecast_model(forecaster)
    loaded = mlflow.pyfunc.load_model(info.model_uri)
    yield loaded, forecaster
    restore_tracking_uri(saved)


def _one(forecaster) -> pd.DataFrame:
    return forecaster.keys[["node_id", "sku"]].head(1).astype(str)


def test_signature_declares_series_columns_and_params(model):
    loaded, forecaster = model
    assert loaded.metadata.get_input_schema().input_names() == ["node_id", "sku"]
    params = {p.name: p.default for p in loaded.metadata.get_params_schema().params}
    assert params["horizon"] == forecaster.horizon and params["model"] == "auto"
    assert list(params["quantiles"]) == [0.1, 0.5, 0.9]


def test_predict_answers_any_quantile_and_horizon(model):
    loaded, forecaster = model
    out = loaded.predict(_one(forecaster), params={"horizon": 4, "quantiles": [0.05, 0.95]})
    assert list(out["step"]) == [1, 2, 3, 4]
    assert ["q0.05", "q0.95"] == [c for c in out.columns if c.startswith("q")]
    expected = forecaster.predict(_one(forecaster), horizon=4, quantiles=[0.05, 0.95])
    pd.testing.assert_frame_equal(out, expected)


def test_unknown_series_is_a_clear_error(model):
    loaded, _ = model
    with pytest.raises(UnknownSeriesRequest, match="NOPE") as info:
        loaded.predict(pd.DataFrame({"node_id": ["NOPE"], "sku": ["X"]}))
    assert isinstance(info.value, UnknownSeriesError) and isinstance(info.value, MlflowException)
    assert info.value.get_http_status_code() == 400


def test_bad_horizon_names_the_parameter(model):
    loaded, forecaster = model
    with pytest.raises(ForecastRequestError, match="`horizon`"):
        loaded.predict(_one(forecaster), params={"horizon": 99})


def test_invocations_answers_like_predict_and_400_for_unknown_series(model):
    loaded, forecaster = model
    client = TestClient(scoring_server.init(loaded))
    body = {"dataframe_records": _one(forecaster).to_dict(orient="records"),
            "params": {"horizon": 3, "quantiles": [0.1, 0.9]}}
    answer = client.post("/invocations", json=body)
    assert answer.status_code == 200, answer.text
    rows = pd.DataFrame(answer.json()["predictions"])
    local = loaded.predict(_one(forecaster), params=body["params"])
    assert rows["mean"].tolist() == pytest.approx(local["mean"].tolist())
    assert rows["q0.9"].tolist() == pytest.approx(local["q0.9"].tolist())
    bad = client.post("/invocations",
                      json={"dataframe_records": [{"node_id": "NOPE", "sku": "X"}]})
    assert bad.status_code == 400
    assert "not in the training data" in bad.json()["message"]
