"""Tracked stages on a temporary MLflow store: train logs what a person opens, registers a
challenger; promote refuses a worse one and records `--force`; the champion loads in a
fresh process."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from mlflow import MlflowClient

from channelcast.args import add_train_arguments, config_from_args
from channelcast.cmd_train import preload
from features.config import TrainConfig
from features.contract.errors import DataContractError
from features.synthetic import generate_channel_data, write_channel_data
from serving.live import free_port
from tests.conftest import restore_tracking_uri
from training.engine.loading import load_data
from training.tracking.promotion import promote_stage
from training.tracking.registry import CHALLENGER, CHAMPION
from training.tracking.settings import StoreSettings
from training.tracking.stages import train_stage

FAST = ("snaive", "croston", "ma", "auto")
ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory):
    """A data folder, a local store, and one trained, promoted champion."""
    folder = tmp_path_factory.mktemp("mlflow")
    data = folder / "data"
    write_channel_data(generate_channel_data(nodes=4, skus=6, periods=60, freq="W", seed=1),
                       data)
    store = StoreSettings.local(folder)
    saved = os.environ.get("MLFLOW_TRACKING_URI")
    cfg = TrainConfig(data=data, windows=2, warmup=2, models=FAST)
    first = train_stage(cfg, store=store, commit="abc123")
    decision = promote_stage(store=store, by="tester")
    yield folder, store, cfg, first, decision
    restore_tracking_uri(saved)


def _client(store: StoreSettings) -> MlflowClient:
    return MlflowClient(tracking_uri=store.tracking_uri, registry_uri=store.tracking_uri)


def test_train_run_records_data_params_metrics_and_artifacts(workspace):
    _, store, cfg, first, _ = workspace
    client = _client(store)
    run = client.get_run(first.run_id)
    params, metrics = run.data.params, run.data.metrics
    assert params["data.series"] == "24" and len(params["data.sha256"]) == 16
    assert params["models"] == ",".join(FAST) and params["freq"].startswith("W-")
    assert "features.lags" in params and "lgbm.num_leaves" in params
    assert run.data.tags["mlflow.source.git.commit"] == "abc123"
    assert metrics["wrmsse"] == pytest.approx(first.scores.score("auto"))
    assert {f"wrmsse/{m}" for m in FAST} <= set(metrics)
    assert any(k.startswith("wape/auto/") for k in metrics)  # per series class
    steps = client.get_metric_history(first.run_id, "wrmsse_by_step/auto")
    assert sorted(m.step for m in steps) == list(range(1, cfg.horizon + 1))
    files = {f.path for d in ("metrics", "plots", "predictions")
             for f in client.list_artifacts(first.run_id, d)}
    assert {"metrics/metrics_by_model.csv", "metrics/metrics_by_class.csv",
            "plots/forecast_vs_actual.png", "plots/error_by_horizon.png",
            "predictions/predictions.parquet"} <= files


def test_train_registers_challenger_and_first_promotion_makes_champion(workspace):
    folder, store, _, first, decision = workspace
    client = _client(store)
    assert first.version is not None
    assert str(client.get_model_version_by_alias(store.model_name, CHALLENGER).version) == "1"
    assert decision.promote and "no champion" in decision.reason
    champion = client.get_model_version_by_alias(store.model_name, CHAMPION)
    assert str(champion.version) == "1"
    assert champion.tags["promotion.decision"] == "promoted"
    assert float(champion.tags["backtest.wrmsse"]) == pytest.approx(first.scores.score("auto"))
    assert (folder / "mlflow.db").exists() and (folder / "mlruns" / "channelcast").is_dir()


def test_promote_refuses_a_worse_challenger_and_records_force(workspace):
    _, store, cfg, first, _ = workspace
    client = _client(store)
    worse = train_stage(TrainConfig(data=cfg.data, windows=2, warmup=2, models=("naive",)),
                        store=store)
    assert worse.scores.score("naive") > first.scores.score("auto")
    refused = promote_stage(store=store, by="tester")
    assert not refused.promote and "not better" in refused.reason
    assert str(client.get_model_version_by_alias(store.model_name, CHAMPION).version) == "1"
    v2 = client.get_model_version(store.model_name, worse.version.version)
    assert v2.tags["promotion.decision"] == "refused"
    assert "Not promoted" in v2.description

    forced = promote_stage(store=store, force=True, why="manual test", by="tester")
    assert forced.promote and forced.forced
    v2 = client.get_model_version(store.model_name, worse.version.version)
    assert v2.tags["promotion.forced"] == "true" and v2.tags["promotion.by"] == "tester"
    assert "forced" in v2.description and "manual test" in v2.description
    assert str(client.get_model_version_by_alias(store.model_name, CHAMPION).version) == "2"
    # put the good model back: it beats the forced champion on the same windows
    back = promote_stage(store=store, version="1", by="tester")
    assert back.promote and "better on the same windows" in back.reason


def test_promote_rescores_the_champion_on_the_challengers_windows(workspace, monkeypatch,
                                                                  capsys):
    _, store, cfg, _, _ = workspace
    other = train_stage(TrainConfig(data=cfg.data, windows=3, warmup=2, models=FAST),
                        store=store)
    decision = promote_stage(store=store, by="tester")
    # the champion (v1, 2 windows) was backtested again on the challenger's 3 windows, with
    # the same models, so the scores tie and the challenger is refused
    assert decision.champion_score == pytest.approx(other.scores.score("auto"))
    assert not decision.promote
    # the command line: a refusal is exit 0, or 3 with --strict (for pipelines)
    from channelcast.cli import main as cli_main

    monkeypatch.setenv("MLFLOW_TRACKING_URI", store.tracking_uri)
    assert cli_main(["promote"]) == 0
    assert "NOT promoted" in capsys.readouterr().out
    assert cli_main(["promote", "--strict"]) == 3


def test_champion_loads_and_forecasts_in_a_fresh_process(workspace):
    folder, store, _, _, _ = workspace
    script = (
        "import json, mlflow, pandas as pd\n"
        "m = mlflow.pyfunc.load_model('models:/channelcast-demand@champion')\n"
        "out = m.predict(pd.DataFrame({'node_id': ['DLR-01'], 'sku': ['SKU-0001']}),\n"
        "                params={'horizon': 3, 'quantiles': [0.05, 0.5, 0.95]})\n"
        "print(out.to_json(orient='records', date_format='iso'))\n")
    env = {**os.environ, "MLFLOW_TRACKING_URI": store.tracking_uri}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env=env, cwd=folder, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    rows = pd.DataFrame(json.loads(done.stdout.strip().splitlines()[-1]))
    assert list(rows["step"]) == [1, 2, 3]
    assert {"mean", "q0.05", "q0.5", "q0.95"} <= set(rows.columns)
    assert (rows["q0.05"] <= rows["q0.5"]).all() and (rows["q0.5"] <= rows["q0.95"]).all()


def test_mlflow_models_serve_answers_invocations_like_the_loaded_model(workspace):
    import time
    import urllib.request

    folder, store, _, _, _ = workspace
    port = free_port()
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "MLFLOW_TRACKING_URI": store.tracking_uri,
           "PATH": f"{bin_dir}:{os.environ.get('PATH', '')}"}
    server = subprocess.Popen(
        [str(Path(bin_dir) / "mlflow"), "models", "serve", "-m",
         "models:/channelcast-demand@champion", "--env-manager", "local", "-p", str(port),
         "-h", "127.0.0.1"], env=env, cwd=folder, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2)
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"mlflow models serve did not start: "
                                         f"{server.stderr.read().decode()[-2000:]}"
                                         if server.poll() is not None else "timeout") from None
                time.sleep(0.5)
        body = {"dataframe_records": [{"node_id": "DLR-01", "sku": "SKU-0001"}],
                "params": {"horizon": 3, "quantiles": [0.1, 0.9]}}
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/invocations", data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as answer:
            served = pd.DataFrame(json.loads(answer.read())["predictions"])
        mlflow.set_tracking_uri(store.tracking_uri)
        local = mlflow.pyfunc.load_model("models:/channelcast-demand@champion").predict(
            pd.DataFrame(body["dataframe_records"]), params=body["params"])
        assert served["mean"].tolist() == pytest.approx(local["mean"].tolist())
        assert served["q0.9"].tolist() == pytest.approx(local["q0.9"].tolist())
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.mark.parametrize("flags, accept", [([], False), (["--accept-partial"], True),
                                           (["--accept-partial", "true"], True),
                                           (["--accept-partial", "false"], False)])
def test_accept_partial_flag_as_mlproject_passes_it(flags: list[str], accept: bool) -> None:
    parser = argparse.ArgumentParser()
    add_train_arguments(parser)
    cfg = config_from_args(parser.parse_args(["--data", "d", *flags]))
    assert cfg.accept_partial is accept
    assert TrainConfig.from_json(cfg.to_json()) == cfg


def test_load_data_refuses_a_refused_row_unless_accept_partial(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    write_channel_data(generate_channel_data(nodes=2, skus=2, periods=30, freq="W", seed=3),
                       data)
    sell = pd.read_csv(data / "sell_through.csv", dtype=str)
    sell.loc[2, "units"] = "-4"
    sell.to_csv(data / "sell_through.csv", index=False)
    with pytest.raises(DataContractError, match="accept-partial"):
        load_data(TrainConfig(data=data))
    loaded = preload(TrainConfig(data=data, accept_partial=True))
    assert loaded is not None and loaded.refused == 1
    assert len(loaded.history) == len(sell) - 1
    assert f"1 refused row(s) left out of {data} (each with its reason in " \
        f"{data / 'rejects.csv'})" in capsys.readouterr().out
    assert len(pd.read_csv(data / "rejects.csv")) == 1
