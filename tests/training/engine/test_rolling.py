"""Rolling a trained forecaster forward over new sell-through, and planned price/promo."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest

from features.engineering.history import build_panel
from features.engineering.training_set import build_training_set
from features.synthetic import generate_channel_data
from models.combine import weights_of
from models.zoo import LOCAL_MODELS
from training.engine.forecast import (
    Forecaster,
    RollForwardError,
    UnknownSeriesError,
    fit_forecaster,
)
from training.engine.rolling import recompute_means

FREQ, H, NEW = "W-MON", 4, 3
MODELS = ("lgbm", "ets", "snaive", "croston", "tsb", "ma", "auto")


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, pd.DataFrame]:
    generated = generate_channel_data(nodes=4, skus=6, periods=90, freq="W", seed=11)
    return generated.sell_through, generated.nodes


@pytest.fixture(scope="module")
def trained(data) -> tuple[Forecaster, pd.DataFrame, pd.DataFrame]:
    """A forecaster trained on all but the last NEW weeks, and those weeks' rows."""
    history, nodes = data
    dates = pd.to_datetime(history["date"])
    cut = dates.drop_duplicates().sort_values().iloc[-NEW - 1]
    forecaster = fit_forecaster(history[dates <= cut], freq=FREQ, horizon=H, nodes=nodes,
                                models=MODELS, calibration_windows=2)
    return forecaster, history, history[dates > cut]


def test_state_reproduces_every_models_forecast_at_the_origin(trained):
    forecaster, _, _ = trained
    assert forecaster.state is not None
    again = recompute_means(forecaster.state, keys=forecaster.keys, freq=FREQ, horizon=H,
                            models=forecaster.models, chosen=forecaster.chosen)
    for name in MODELS:
        np.testing.assert_allclose(again[name], np.nan_to_num(forecaster.means[name]),
                                   rtol=1e-9, atol=1e-9, err_msg=name)


def test_update_forecasts_from_the_new_last_period_like_the_fitted_models_would(trained, data):
    forecaster, history, new = trained
    rolled = forecaster.update(new)
    last = pd.Timestamp(pd.to_datetime(history["date"]).max())
    assert rolled.origin == last and rolled.dates[0] == last + pd.Timedelta(weeks=1)
    assert forecaster.origin < last  # the original is untouched
    panel = build_panel(history, freq=FREQ)
    assert (panel.keys[["node_id", "sku"]].astype(str).to_numpy()
            == rolled.keys[["node_id", "sku"]].astype(str).to_numpy()).all()
    y = panel.units.copy()
    y[panel.censored] = np.nan
    for name in ("snaive", "croston", "tsb", "ma"):  # recomputed from the whole history
        np.testing.assert_allclose(rolled.means[name],
                                   np.nan_to_num(LOCAL_MODELS[name](y, horizon=H, season=52)),
                                   err_msg=name)
    # LightGBM: the same booster on features of the new origin, built from all history
    ts = build_training_set(history, horizon=H, freq=FREQ, nodes=data[1], origins="last")
    assert forecaster.lgbm is not None
    expected = forecaster.lgbm.predict(ts, rows=np.arange(len(ts)))
    ended = panel.last < panel.n_periods - 1  # no row at the origin: the moving average
    expected[ended] = rolled.means["ma"][ended]
    assert 0 < ended.sum() < len(ended)
    np.testing.assert_allclose(rolled.means["lgbm"], expected, rtol=1e-9)
    # ETS: the states filtered over the new weeks with the fitted parameters
    assert forecaster.state is not None and forecaster.state.ets is not None
    filtered = forecaster.state.ets.update(y[:, -NEW:])
    np.testing.assert_allclose(rolled.means["ets"], np.clip(filtered.forecast(H), 0, None))
    assert not np.allclose(rolled.means["ets"], forecaster.means["ets"])


def test_rolling_week_by_week_equals_rolling_all_weeks_at_once(trained):
    forecaster, _, new = trained
    stepwise = forecaster
    for date in sorted(pd.to_datetime(new["date"]).unique()):
        stepwise = stepwise.update(new[pd.to_datetime(new["date"]) == date])
    at_once = forecaster.update(new)
    for name in MODELS:
        np.testing.assert_allclose(stepwise.means[name], at_once.means[name], err_msg=name)
    pd.testing.assert_frame_equal(stepwise.predict(), at_once.predict())


def test_a_spike_in_new_sales_raises_the_forecast(trained):
    forecaster, _, new = trained
    spiked = new.copy()
    spiked["units"] = spiked["units"] * 5 + 20
    low, high = forecaster.update(new), forecaster.update(spiked)
    for name in ("ets", "ma", "lgbm"):
        assert (high.means[name] >= low.means[name] - 1e-9).all(), name
        assert high.means[name].sum() > low.means[name].sum() * 1.2, name


def test_rolled_forecaster_pickles_and_predicts_quantiles(trained):
    forecaster, _, new = trained
    rolled = pickle.loads(pickle.dumps(forecaster.update(new)))
    out = rolled.predict(quantiles=[0.1, 0.5, 0.9])
    assert len(out) == len(rolled.keys) * H
    assert (out["q0.1"] <= out["q0.5"]).all() and (out["q0.5"] <= out["q0.9"]).all()
    assert (pd.to_datetime(out["date"]) > rolled.origin).all()


@pytest.mark.parametrize(("change", "message"), [
    (lambda r: r.assign(date=pd.to_datetime(r["date"]) - pd.Timedelta(weeks=NEW)),
     "not after the model's last period"),
    (lambda r: r.assign(date=pd.to_datetime(r["date"]) + pd.Timedelta(days=2)),
     "not a period start"),
    (lambda r: r.assign(node_id="NOPE"), "not in the model"),
    (lambda r: pd.concat([r, r.head(1)]), "appears twice"),
    (lambda r: r.assign(units=-1.0), "must be a number >= 0"),
    (lambda r: r.drop(columns="units"), "lacks column"),
    (lambda r: r.head(0), "no rows"),
])
def test_bad_new_rows_are_refused_with_the_row_and_the_reason(trained, change, message):
    forecaster, _, new = trained
    with pytest.raises(RollForwardError, match=message):
        forecaster.update(change(new.reset_index(drop=True)))


def test_planned_price_cuts_change_only_lightgbm(trained):
    forecaster, _, _ = trained
    series = forecaster.keys.head(6)
    tail = forecaster.tail.groupby(["node_id", "sku"])["price"].last()
    price = tail.reindex(pd.MultiIndex.from_frame(series)).to_numpy()
    plan = pd.DataFrame({"date": np.repeat(forecaster.dates, len(series)),
                         "node_id": np.tile(series["node_id"], H),
                         "sku": np.tile(series["sku"], H)})
    cut = forecaster.predict(series, model="lgbm", future=plan.assign(price=np.tile(price, H) / 2))
    usual = forecaster.predict(series, model="lgbm", future=plan.assign(price=np.tile(price, H)))
    assert cut["mean"].sum() > usual["mean"].sum()
    assert forecaster.predict(series, model="snaive", future=plan.assign(price=1.0)).equals(
        forecaster.predict(series, model="snaive"))
    auto = forecaster.predict(series, future=plan.assign(price=np.tile(price, H) / 2))
    uses_lgbm = auto["model"].map(lambda name: "lgbm" in weights_of(name)).to_numpy()
    plain = forecaster.predict(series)
    assert (auto["mean"].to_numpy()[~uses_lgbm] == plain["mean"].to_numpy()[~uses_lgbm]).all()


def test_bad_planned_values_name_the_row(trained):
    forecaster, _, _ = trained
    one = forecaster.keys.head(1)
    row = {"node_id": one["node_id"].iloc[0], "sku": one["sku"].iloc[0], "promo": 1.0}
    with pytest.raises(ValueError, match="not one of the forecast periods"):
        forecaster.predict(one, future=pd.DataFrame([{**row, "date": forecaster.origin}]))
    with pytest.raises(ValueError, match="`price` must be a number"):
        forecaster.predict(one, future=pd.DataFrame([{**row, "date": forecaster.dates[0],
                                                      "price": "cheap"}]))
    with pytest.raises(UnknownSeriesError):
        forecaster.predict(one, future=pd.DataFrame([{**row, "node_id": "NOPE",
                                                      "date": forecaster.dates[0]}]))


def test_the_registered_model_takes_planned_prices_and_rolls_forward(trained, tmp_path):
    import mlflow
    from fastapi.testclient import TestClient
    from mlflow.pyfunc import scoring_server

    from training.tracking.pyfunc import log_forecast_model

    forecaster, _, new = trained
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    try:
        experiment = mlflow.create_experiment("t", artifact_location=(tmp_path / "a").as_uri())
        with mlflow.start_run(experiment_id=experiment):
            info = log_forecast_model(forecaster)
        loaded = mlflow.pyfunc.load_model(info.model_uri)
    finally:
        mlflow.set_tracking_uri(None)
    names = loaded.metadata.get_input_schema().input_names()
    assert names[:2] == ["node_id", "sku"] and {"date", "price", "promo"} <= set(names)
    one = forecaster.keys.head(1)
    plan = one.assign(date=f"{forecaster.dates[0]:%Y-%m-%d}", price=1.0)
    expected = forecaster.predict(one, future=plan.assign(date=forecaster.dates[0]))
    pd.testing.assert_frame_equal(loaded.predict(plan), expected)
    client = TestClient(scoring_server.init(loaded))
    answer = client.post("/invocations", json={"dataframe_records": plan.to_dict("records")})
    assert answer.status_code == 200, answer.text
    rows = pd.DataFrame(answer.json()["predictions"])
    assert rows["mean"].tolist() == pytest.approx(expected["mean"].tolist())
    # the artefact carries what rolling forward needs
    inner = loaded.unwrap_python_model().forecaster
    np.testing.assert_array_equal(inner.calibration.means, forecaster.calibration.means)
    rolled = inner.update(new)
    assert rolled.origin > forecaster.origin
    pd.testing.assert_frame_equal(rolled.predict(), forecaster.update(new).predict())


def test_forecaster_keeps_each_series_backtest_error_of_the_served_model(trained):
    forecaster, _, new = trained
    errors = forecaster.errors
    assert errors is not None and len(errors) == len(forecaster.keys)
    assert set(errors["model"]) == {"auto"}
    scored = errors["periods"] > 0
    assert scored.mean() > 0.5 and (errors.loc[scored, "mae_scaled"] >= 0).all()
    assert (errors.loc[scored, "wape"].dropna() >= 0).all()
    # carried along when rolling forward (the model did not change)
    assert forecaster.update(new).errors is errors
