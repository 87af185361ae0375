"""The tracked `backtest`, `train` and `forecast` stages on the Dask engine.

Same runs as `training.tracking.stages` (params, metrics per model, step and class, tables, plots,
predictions, the pyfunc model and its registration), with the work done on a cluster:
the history is the partitioned store `cfg.data`, predictions are written by the workers
next to it (`STORE/_runs/<run id>/`, one Parquet file per partition, logged as artifact
folders), and the run records the engine and the cluster's size (`engine.*` params).
With `cfg.levels` and a node table in the store, the per-level backtest is logged as locally
and the model forecasts every level (`training.dask.hierarchy`).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd

from features.config import DEFAULT_QUANTILES, BacktestConfig, TrainConfig
from features.contract.partitioned import Store, open_store, part_fingerprint, store_fingerprint
from models.zoo import primary_model
from training.dask.backtest import DaskBacktest, run_backtest_dask
from training.dask.cluster import cluster_size, connect
from training.dask.forecast import fit_forecaster_dask, predict_dask
from training.dask.hierarchy import backtest_levels_dask, fit_levels_dask
from training.engine.forecast import Forecaster
from training.engine.hierarchy import LevelBacktest, with_level_quantiles
from training.engine.hierarchy_model import check_method
from training.tracking.levels import log_levels
from training.tracking.pyfunc import log_forecast_model
from training.tracking.registry import client_for, register_challenger
from training.tracking.runs import (
    BacktestScores,
    log_params,
    log_plots,
    log_scores,
    open_run,
    run_params,
)
from training.tracking.settings import StoreSettings
from training.tracking.stages import TrainOutcome, version_record

__all__ = ["backtest_dask", "backtest_stage_dask", "forecast_stage_dask", "forecast_with_dask",
           "level_backtest_dask", "train_stage_dask"]

SCORE_BY = (("model",), ("model", "step"), ("model", "series_class"))


def backtest_dask(cfg: TrainConfig, store: Store, client: Any, *, folder: Path,
                  cutoffs: list[pd.Timestamp] | None = None, progress: bool = False
                  ) -> tuple[DaskBacktest, BacktestScores]:
    """Backtest `cfg` on the cluster; predictions in `folder`, scores like `score_backtest`
    (with `levels`: the level quantiles too, and the pieces `backtest_levels_dask` reads)."""
    result = run_backtest_dask(client, store, config=_config(cfg, store), cutoffs=cutoffs,
                               out=folder / "predictions.parquet",
                               all_models=folder / "predictions_all_models.parquet",
                               score_by=SCORE_BY, outside_span=cfg.outside_span,
                               tail_periods=1 if _levels(cfg, store) else None,
                               progress=progress)
    scores = BacktestScores(by_model=result.scores[SCORE_BY[0]],
                            by_step=result.scores[SCORE_BY[1]],
                            by_class=result.scores[SCORE_BY[2]],
                            cutoffs=[f"{c:%Y-%m-%d}" for c in result.cutoffs])
    return result, scores


def _levels(cfg: TrainConfig, store: Store) -> bool:
    """Whether the run forecasts every level: `cfg.levels` and a node table in the store."""
    return cfg.levels and (store.path / "nodes.parquet").is_file()


def _config(cfg: TrainConfig, store: Store) -> BacktestConfig:
    config = cfg.backtest_config()
    if not _levels(cfg, store):
        return config
    return with_level_quantiles(config)


def level_backtest_dask(cfg: TrainConfig, store: Store, result: DaskBacktest, *,
                        progress: bool = False) -> LevelBacktest | None:
    """The per-level backtest of `result` (None without levels), logged into the active run
    with the default method it gives (`cfg.reconcile`, else the winner)."""
    if not _levels(cfg, store):
        return None
    if cfg.reconcile:
        check_method(cfg.reconcile)
    levels = backtest_levels_dask(result, store, config=_config(cfg, store),
                                  outside_span=cfg.outside_span,  # type: ignore[arg-type]
                                  progress=progress)
    log_levels(levels, default=cfg.reconcile or str(levels.winner))
    return levels


def _log_inputs(cfg: TrainConfig, store: Store, client: Any, *, commit: str | None
                ) -> dict[str, str]:
    parts = client.gather(client.map(part_fingerprint, [str(f) for f in store.files], pure=False))
    fingerprint = store_fingerprint(store, parts)
    log_params({**run_params(cfg, store.freq), **fingerprint, **cluster_size(client)})
    mlflow.set_tags({"data.sha256": fingerprint["data.sha256"], "data.folder": str(cfg.data),
                     "engine": cfg.engine})
    if commit:
        mlflow.set_tag("mlflow.source.git.commit", commit)
    return fingerprint


def _log_backtest(result: DaskBacktest, scores: BacktestScores, store: Store, *,
                  primary: str) -> None:
    """`tracking.log_backtest` for predictions that stay in part files."""
    log_scores(scores, result.seconds, primary=primary)
    for path in (result.out, result.all_models):
        if path is not None:
            mlflow.log_artifacts(str(path), artifact_path=f"predictions/{path.name}")
    preds = history = None
    if result.all_models is not None and store.files:
        # the series of one partition (whole series): where the local plot picks its sample
        preds = pd.read_parquet(sorted(result.all_models.glob("part-*.parquet"))[0])
        preds = preds[preds["model"] == primary]
        history = pd.read_parquet(store.files[0])
    log_plots(scores, preds=preds, history=history, lgbm=result.lgbm)


def backtest_stage_dask(cfg: TrainConfig, *, store: StoreSettings, commit: str | None = None,
                        progress: bool = False) -> TrainOutcome:
    """`stages.backtest_stage` on the Dask engine."""
    cfg = replace(cfg, data=Path(cfg.data).resolve())
    data = open_store(cfg.data)
    with connect(cfg.scheduler) as client, open_run(store, run_name="backtest") as run:
        _log_inputs(cfg, data, client, commit=commit)
        folder = data.path / "_runs" / run.info.run_id
        result, scores = backtest_dask(cfg, data, client, folder=folder, progress=progress)
        _log_backtest(result, scores, data, primary=primary_model(cfg.models))
        levels = level_backtest_dask(cfg, data, result, progress=progress)
    return TrainOutcome(run_id=run.info.run_id, scores=scores, levels=levels)


def train_stage_dask(cfg: TrainConfig, *, store: StoreSettings, commit: str | None = None,
                     progress: bool = False) -> TrainOutcome:
    """`stages.train_stage` on the Dask engine: the model logged is the same pyfunc."""
    cfg = replace(cfg, data=Path(cfg.data).resolve())
    data = open_store(cfg.data)
    with connect(cfg.scheduler) as client, open_run(store, run_name="train") as run:
        fingerprint = _log_inputs(cfg, data, client, commit=commit)
        folder = data.path / "_runs" / run.info.run_id
        result, scores = backtest_dask(cfg, data, client, folder=folder, progress=progress)
        _log_backtest(result, scores, data, primary=primary_model(cfg.models))
        levels = level_backtest_dask(cfg, data, result, progress=progress)
        info = log_forecast_model(_fit(cfg, data, client, levels, progress))
        run_id = run.info.run_id
        tags, description = version_record(cfg, scores, fingerprint, commit=commit,
                                            run_id=run_id)
        version = register_challenger(client_for(store.tracking_uri), name=store.model_name,
                                      model_uri=info.model_uri, run_id=run_id,
                                      tags={**tags, "engine": cfg.engine},
                                      description=description)
        mlflow.set_tag("registered_version", version.version)
    return TrainOutcome(run_id=run_id, scores=scores, version=version, levels=levels)


def _fit(cfg: TrainConfig, store: Store, client: Any, levels: LevelBacktest | None,
         progress: bool) -> Forecaster:
    """The served forecaster, as `training.tracking.stages` fits it: with `levels`, every
    aggregate series too (default method: `cfg.reconcile`, else the per-level winner)."""
    if levels is None:
        forecaster, _ = fit_forecaster_dask(client, store, horizon=cfg.horizon,
                                            models=cfg.models, calibration_windows=cfg.warmup,
                                            lgbm=cfg.lgbm, progress=progress)
        assert forecaster is not None  # assembled
        return forecaster
    return fit_levels_dask(client, store, horizon=cfg.horizon, models=cfg.models,
                           calibration_windows=cfg.warmup, lgbm=cfg.lgbm,
                           method=cfg.reconcile or levels.winner, progress=progress)


def forecast_with_dask(forecaster: Forecaster, out: Path, *, scheduler: str,
                       series: pd.DataFrame | None, horizon: int | None,
                       quantiles: tuple[float, ...]) -> int:
    """A registered model's forecasts written by the cluster's workers, one Parquet file
    per chunk of series in the folder `out`; returns the rows written."""
    with connect(scheduler) as client:
        size = cluster_size(client)
        rows = predict_dask(client, forecaster, out, series=series, horizon=horizon,
                            quantiles=quantiles)
    log_params({"engine": "dask", "scheduler": scheduler, **size})
    return rows


def forecast_stage_dask(*, store: StoreSettings, model_uri: str, out: Path, scheduler: str,
                        horizon: int = 0, quantiles: tuple[float, ...] = DEFAULT_QUANTILES,
                        series: pd.DataFrame | None = None) -> int:
    """`stages.forecast_stage` on the Dask engine: the workers write `out` as a folder of
    Parquet files; returns the rows written."""
    with open_run(store, run_name="forecast"):
        model = mlflow.pyfunc.load_model(model_uri)
        forecaster = model.unwrap_python_model().forecaster
        rows = forecast_with_dask(forecaster, out, scheduler=scheduler, series=series,
                                  horizon=horizon or None, quantiles=quantiles)
        log_params({"model_uri": model_uri, "horizon": str(horizon or "trained"),
                    "quantiles": ",".join(map(str, quantiles)), "out": str(out)})
        mlflow.log_metric("forecast_rows", rows)
    return rows
