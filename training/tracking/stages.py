"""The tracked stages behind `channelcast backtest --track`, `train` and `forecast --model-uri`.

Each stage takes a `TrainConfig` (or plain arguments) and the `StoreSettings` the entry point
read; it logs one MLflow run. `train` = backtest + fit on all history + a registered
`challenger` version (`training.tracking.promotion` moves `champion`). These run on the
local engine; `training.dask.stages` runs the same stages on a Dask cluster.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import mlflow
import pandas as pd
from mlflow.entities.model_registry import ModelVersion

from features.config import DEFAULT_QUANTILES, BacktestConfig, TrainConfig
from features.contract.partitioned import is_store, open_store, store_fingerprint
from features.schema import ITEM, NODE
from models.hierarchy.structure import LEVEL
from models.zoo import primary_model
from training.engine.backtest import BacktestResult, run_backtest
from training.engine.forecast import Forecaster, fit_forecaster
from training.engine.hierarchy import (
    LevelBacktest,
    backtest_levels,
    fit_levels,
    has_hierarchy,
    with_level_quantiles,
)
from training.engine.hierarchy_model import NoHierarchyError, check_method
from training.engine.loading import Loaded, load_data
from training.tracking.levels import log_levels
from training.tracking.pyfunc import log_forecast_model
from training.tracking.registry import client_for, register_challenger
from training.tracking.runs import (
    BacktestScores,
    data_fingerprint,
    log_backtest,
    log_params,
    open_run,
    run_params,
    score_backtest,
)
from training.tracking.settings import StoreSettings

__all__ = ["TrainOutcome", "backtest_scores", "backtest_stage", "fingerprint", "forecast_stage",
           "level_backtest", "version_record", "train_stage"]


@dataclass
class TrainOutcome:
    """What a backtest or train stage produced."""

    run_id: str
    scores: BacktestScores
    version: ModelVersion | None = None
    levels: LevelBacktest | None = None


def backtest_scores(cfg: TrainConfig, data: Loaded, cutoffs: list[pd.Timestamp] | None = None,
                    progress: bool = False) -> tuple[BacktestResult, BacktestScores]:
    """Backtest `cfg` on `data` (at `cutoffs`, default the rolling ones) and score it."""
    result = run_backtest(data.history, freq=data.freq, config=_backtest_config(cfg),
                          nodes=data.nodes, cutoffs=cutoffs, progress=progress)
    return result, score_backtest(result, data.history, freq=data.freq,
                                  outside_span=cfg.outside_span)


def _backtest_config(cfg: TrainConfig) -> BacktestConfig:
    config = cfg.backtest_config()
    if not cfg.levels:
        return config
    return with_level_quantiles(config)


def level_backtest(cfg: TrainConfig, data: Loaded, result: BacktestResult, *,
                   progress: bool = False) -> LevelBacktest | None:
    """The per-level backtest of `result` (None when `cfg.levels` is off or the node table
    has no `parent_id`/`channel`), logged into the active run with the default method it
    gives (`cfg.reconcile`, else the winner)."""
    if not cfg.levels or not has_hierarchy(data.nodes):
        return None
    levels = backtest_levels(result, data.history, nodes=data.nodes, items=data.items,
                             config=_backtest_config(cfg),
                             outside_span=cfg.outside_span,  # type: ignore[arg-type]
                             progress=progress)
    log_levels(levels, default=cfg.reconcile or str(levels.winner))
    return levels


def _fit(cfg: TrainConfig, data: Loaded, levels: LevelBacktest | None, progress: bool
         ) -> Forecaster:
    """The served forecaster: with `levels`, every aggregate series too (default method:
    `cfg.reconcile`, else the per-level backtest's winner)."""
    if levels is None:
        return fit_forecaster(data.history, freq=data.freq, horizon=cfg.horizon,
                              nodes=data.nodes, models=cfg.models,
                              calibration_windows=cfg.warmup, lgbm=cfg.lgbm, progress=progress)
    return fit_levels(data.history, nodes=data.nodes, items=data.items, freq=data.freq,
                      horizon=cfg.horizon, models=cfg.models, calibration_windows=cfg.warmup,
                      lgbm=cfg.lgbm, method=cfg.reconcile or levels.winner, progress=progress)


def fingerprint(cfg: TrainConfig, data: Loaded) -> dict[str, str]:
    """The data record of a run; a store's is the same whichever engine read it."""
    if is_store(cfg.data):
        return store_fingerprint(open_store(cfg.data))
    return data_fingerprint(data.history, freq=data.freq)


def _log_inputs(cfg: TrainConfig, data: Loaded, *, commit: str | None) -> dict[str, str]:
    record = fingerprint(cfg, data)
    log_params({**run_params(cfg, data.freq), **record})
    mlflow.set_tags({"data.sha256": record["data.sha256"], "data.folder": str(cfg.data)})
    if data.refused:
        mlflow.set_tag("data.refused_rows", str(data.refused))
    if commit:
        mlflow.set_tag("mlflow.source.git.commit", commit)
    return record


def _local(cfg: TrainConfig, stage: str) -> TrainConfig:
    if cfg.reconcile:
        check_method(cfg.reconcile)
    if cfg.engine != "local":
        raise ValueError(f"`{stage}` runs on the local engine; for `engine={cfg.engine}` use "
                         f"training.dask.stages.{stage}_dask.")
    return replace(cfg, data=Path(cfg.data).resolve())


def backtest_stage(cfg: TrainConfig, *, store: StoreSettings, commit: str | None = None,
                   data: Loaded | None = None, progress: bool = False) -> TrainOutcome:
    """Backtest every model of `cfg` and log metrics, tables, plots and predictions
    (`progress`: each fit on stderr)."""
    cfg = _local(cfg, "backtest_stage")
    data = data or load_data(cfg)
    with open_run(store, run_name="backtest") as run:
        _log_inputs(cfg, data, commit=commit)
        result, scores = backtest_scores(cfg, data, progress=progress)
        log_backtest(result, scores, data.history, primary=primary_model(cfg.models))
        levels = level_backtest(cfg, data, result, progress=progress)
    return TrainOutcome(run_id=run.info.run_id, scores=scores, levels=levels)


def train_stage(cfg: TrainConfig, *, store: StoreSettings, commit: str | None = None,
                data: Loaded | None = None, progress: bool = False) -> TrainOutcome:
    """Backtest, fit on all history, log the pyfunc model, register it as `challenger`
    (`progress`: each fit on stderr)."""
    cfg = _local(cfg, "train_stage")
    data = data or load_data(cfg)
    with open_run(store, run_name="train") as run:
        record = _log_inputs(cfg, data, commit=commit)
        result, scores = backtest_scores(cfg, data, progress=progress)
        log_backtest(result, scores, data.history, primary=primary_model(cfg.models))
        levels = level_backtest(cfg, data, result, progress=progress)
        info = log_forecast_model(_fit(cfg, data, levels, progress))
        run_id = run.info.run_id
        tags, description = version_record(cfg, scores, record, commit=commit, run_id=run_id)
        version = register_challenger(client_for(store.tracking_uri), name=store.model_name,
                                      model_uri=info.model_uri, run_id=run_id, tags=tags,
                                      description=description)
        mlflow.set_tag("registered_version", version.version)
    return TrainOutcome(run_id=run_id, scores=scores, version=version, levels=levels)


def version_record(cfg: TrainConfig, scores: BacktestScores, record: dict[str, str], *,
                   commit: str | None, run_id: str) -> tuple[dict[str, str], str]:
    """Tags and description of a new version: its score (the served model's, see
    `models.zoo.primary_model`), windows, data and recipe."""
    primary = primary_model(cfg.models)
    score = scores.score(primary)
    tags = {"backtest.wrmsse": repr(score), "backtest.cutoffs": ",".join(scores.cutoffs),
            "backtest.windows": str(cfg.windows), "backtest.horizon": str(cfg.horizon),
            "backtest.outside_span": cfg.outside_span, "data.sha256": record["data.sha256"],
            "train_config": cfg.to_json(), "primary_model": primary,
            "git.commit": commit or "unknown"}
    description = (f"Trained on {cfg.data} ({record['data.rows']} rows, "
                   f"{record['data.series']} series, {record['data.first_date']}.."
                   f"{record['data.last_date']}); models {', '.join(cfg.models)}; backtest "
                   f"WRMSSE of `{primary}` {score:.4f} over {cfg.windows} windows of "
                   f"{cfg.horizon} periods; run {run_id}.")
    return tags, description


def forecast_stage(*, store: StoreSettings, model_uri: str, out: Path, horizon: int = 0,
                   quantiles: tuple[float, ...] = DEFAULT_QUANTILES,
                   series: pd.DataFrame | None = None, level: str | None = None,
                   reconcile: str | None = None) -> pd.DataFrame:
    """Forecast `series` (default: every series the model knows; with `level`, every series
    of that level of the channel tree) with a registered model, write `out` (.csv or
    .parquet) and log it in a `forecast` run. `reconcile`: the method for level series
    (default the model's)."""
    with open_run(store, run_name="forecast"):
        model = mlflow.pyfunc.load_model(model_uri)
        forecaster = model.unwrap_python_model().forecaster
        if series is None and level:
            if forecaster.hierarchy is None:
                raise NoHierarchyError(f"{model_uri} was trained without levels; retrain it "
                                       "(channelcast train --levels true) to forecast "
                                       f"level {level!r}.")
            keys = forecaster.hierarchy.keys
            series = keys[keys[LEVEL] == level]
        if series is None:
            series = forecaster.keys[[NODE, ITEM]]
        params = {"quantiles": list(quantiles), **({"horizon": horizon} if horizon else {}),
                  **({"reconcile": reconcile} if reconcile else {})}
        cols = [c for c in (LEVEL, NODE, ITEM) if c in series]
        frame = model.predict(series[cols].astype(str), params=params)
        out.parent.mkdir(parents=True, exist_ok=True)
        if out.suffix == ".csv":
            frame.to_csv(out, index=False)
        else:
            frame.to_parquet(out, index=False)
        log_params({"model_uri": model_uri, "horizon": str(horizon or "trained"),
                    "quantiles": ",".join(map(str, quantiles)), "out": str(out),
                    "level": level or "", "reconcile": reconcile or ""})
        mlflow.log_metric("forecast_rows", len(frame))
        mlflow.log_artifact(str(out), artifact_path="forecast")
    return frame
