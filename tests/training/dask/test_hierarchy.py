"""Forecasts at every level on the Dask engine (issue 23) agree with the local engine: the
aggregate history summed from the partitions equals `aggregate_history` of the whole,
`fit_levels_dask` gives `fit_levels`' model (hierarchy, default method, reconciled means and
quantiles of every series at every level) and `backtest_levels_dask` `backtest_levels`'
scores, predictions and winner, with the local models (ETS, baselines, `auto`: identical on
both engines; LightGBM is another draw on Dask, see test_engine.py); the Dask train stage
logs the levels and registers a model that answers them."""

from __future__ import annotations

import mlflow
import numpy as np
import pandas as pd
import pytest

from channelcast.cli import main as cli
from features.config import BacktestConfig, TrainConfig
from features.contract.partitioned import open_store, write_partitioned
from features.contract.validation import load_validated
from features.synthetic import generate_channel_data, write_channel_data
from training.dask.backtest import run_backtest_dask
from training.dask.cluster import connect
from training.dask.hierarchy import aggregate_history_dask, backtest_levels_dask, fit_levels_dask
from training.dask.stages import train_stage_dask
from training.engine.backtest import run_backtest
from training.engine.hierarchy import LEVEL_QUANTILES, backtest_levels, fit_levels
from training.engine.hierarchy_model import aggregate_history
from training.tracking.settings import StoreSettings

pytestmark = pytest.mark.slow  # a Dask cluster per module: `make test-fast` leaves it out
LOCAL = ("ets", "snaive", "croston", "tsb", "ma", "auto")


@pytest.fixture(scope="module")
def client():
    with connect("local-cluster:2") as c:
        yield c


@pytest.fixture(scope="module")
def channel(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("levels")
    write_channel_data(generate_channel_data(nodes=5, skus=6, periods=70, freq="W", seed=4),
                       root / "data")
    report = load_validated(root / "data")
    history, nodes = report.tables["sell_through"], report.tables["nodes"]
    store = write_partitioned(history, root / "store", freq=str(report.freq), nodes=nodes,
                              buckets=3)
    return open_store(store), history, nodes, str(report.freq)


def test_aggregates_summed_over_partitions_equal_the_whole(client, channel):
    store, history, nodes, freq = channel
    local = fit_levels(history, nodes=nodes, freq=freq, horizon=4, models=("snaive",),
                       calibration_windows=1, method="bottom_up")
    hierarchy = local.hierarchy
    assert hierarchy is not None and len(store.files) == 3
    want = aggregate_history(history, hierarchy, freq=freq)
    got = aggregate_history_dask(client, store, hierarchy)
    pd.testing.assert_frame_equal(got, want, check_dtype=False, check_categorical=False,
                                  rtol=1e-12)


def test_fit_levels_on_dask_equals_the_local_engine(client, channel):
    store, history, nodes, freq = channel
    # the default method chosen on the calibration windows (scored at every level) on both
    local = fit_levels(history, nodes=nodes, freq=freq, horizon=4, models=LOCAL,
                       calibration_windows=2)
    dask = fit_levels_dask(client, store, horizon=4, models=LOCAL, calibration_windows=2)
    assert local.hierarchy is not None and dask.hierarchy is not None
    pd.testing.assert_frame_equal(dask.hierarchy.keys, local.hierarchy.keys)
    assert (dask.hierarchy.summing != local.hierarchy.summing).nnz == 0
    assert dask.reconcile == local.reconcile
    # the bottom series' calibration forecasts survive `attach_levels` on both engines
    assert list(dask.calibration.cutoffs) == list(local.calibration.cutoffs)
    np.testing.assert_array_equal(dask.calibration.means, local.calibration.means)
    assert local.levels is not None and dask.levels is not None
    assert local.levels.scores is not None and dask.levels.scores is not None
    cols = ["method", "level", "skus", "wrmsse"]
    pd.testing.assert_frame_equal(dask.levels.scores[cols], local.levels.scores[cols],
                                  rtol=1e-9)
    for how in ("bottom_up", "mint_shrink", "none", None):
        want = local.predict_levels(quantiles=(0.1, 0.5, 0.9), reconcile=how)
        got = dask.predict_levels(quantiles=(0.1, 0.5, 0.9), reconcile=how)
        pd.testing.assert_frame_equal(got, want, check_dtype=False, rtol=1e-9, atol=1e-9)
    # the levels add up: every aggregate is the sum of its bottom series
    means = dask.predict_levels(quantiles=(0.5,))
    table = means.pivot_table(index=["level", "node_id", "sku"], columns="date",
                              values="mean", sort=False)
    keys = dask.hierarchy.keys
    values = table.loc[pd.MultiIndex.from_frame(keys)].to_numpy()
    summed = dask.hierarchy.summing @ values[: dask.hierarchy.n_bottom]
    assert np.allclose(summed, values, rtol=1e-9, atol=1e-9)


def test_per_level_backtest_on_dask_equals_the_local_one(client, channel, tmp_path):
    store, history, nodes, freq = channel
    config = BacktestConfig(horizon=4, windows=2, step=4, warmup=2, models=LOCAL,
                            quantiles=tuple(sorted({0.5, *LEVEL_QUANTILES})))
    local = backtest_levels(run_backtest(history, freq=freq, config=config, nodes=nodes),
                            history, nodes=nodes, config=config)
    result = run_backtest_dask(client, store, config=config, all_models=tmp_path / "all",
                               score_by=(), tail_periods=1)
    dask = backtest_levels_dask(result, store, config=config)
    assert dask.winner == local.winner
    by = ["method", "level", "skus"]
    pd.testing.assert_frame_equal(dask.scores.sort_values(by).reset_index(drop=True),
                                  local.scores.sort_values(by).reset_index(drop=True),
                                  check_dtype=False, rtol=1e-9)
    order = ["method", "level", "node_id", "sku", "cutoff", "date"]
    pd.testing.assert_frame_equal(
        dask.predictions.sort_values(order).reset_index(drop=True),
        local.predictions.sort_values(order).reset_index(drop=True), check_dtype=False,
        rtol=1e-9, atol=1e-9)


def test_train_stage_on_dask_logs_the_levels_and_serves_them(client, channel, tmp_path):
    store = channel[0]
    cfg = TrainConfig(data=store.path, horizon=4, windows=1, warmup=2,
                      models=("snaive", "ma", "auto"), engine="dask",
                      scheduler=client.scheduler.address)
    saved = mlflow.get_tracking_uri()
    try:
        outcome = train_stage_dask(cfg, store=StoreSettings.local(tmp_path))
        run = mlflow.get_run(outcome.run_id)
        model = mlflow.pyfunc.load_model(f"runs:/{outcome.run_id}/model")
    finally:
        mlflow.set_tracking_uri(saved)
    assert outcome.levels is not None
    assert run.data.tags["reconcile.default"] == outcome.levels.winner
    assert any(k.startswith("levels/wrmsse_m5/") for k in run.data.metrics)
    forecaster = model.unwrap_python_model().forecaster
    assert forecaster.reconcile == outcome.levels.winner
    frame = model.predict(pd.DataFrame({"level": ["total"], "node_id": ["TOTAL"],
                                        "sku": ["*"]}))
    assert len(frame) == 4 and (frame["reconcile"] == outcome.levels.winner).all()


def test_channelcast_forecast_and_backtest_levels_on_dask(client, channel, tmp_path, capsys):
    store = channel[0]
    common = ["--data", str(store.path), "--horizon", "4", "--models", "snaive,ma,auto"]
    dask = ["--engine", "dask", "--scheduler", client.scheduler.address]
    local_out, dask_out = tmp_path / "local.parquet", tmp_path / "dask.parquet"
    assert cli(["forecast", *common, "--level", "parent", "--out", str(local_out)]) == 0
    assert cli(["forecast", *common, *dask, "--level", "parent", "--out", str(dask_out)]) == 0
    assert "reconcile:" in capsys.readouterr().out
    got, want = pd.read_parquet(dask_out), pd.read_parquet(local_out)
    assert set(got["level"]) == {"parent"}
    pd.testing.assert_frame_equal(got, want, check_dtype=False, rtol=1e-9, atol=1e-9)
    assert cli(["backtest", *common, *dask, "--windows", "1", "--warmup", "2", "--out",
                str(tmp_path / "bt.parquet")]) == 0
    printed = capsys.readouterr().out
    assert "default --reconcile:" in printed and "wrmsse_m5" in printed
    assert set(pd.read_csv(tmp_path / "bt.levels.csv")["level"]) == {"node", "parent",
                                                                   "channel", "total"}
