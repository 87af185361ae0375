"""What a tracked run records: data fingerprint, backtest metrics, tables, plots, predictions.

The functions log into the active MLflow run; which store that is was decided by the entry
point (`training.tracking.settings`). `score_backtest` is pure and also serves the notebooks.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd

from features.config import FeatureSpec, TrainConfig
from features.schema import DATE, ITEM, NODE, UNITS
from models.lgbm import LGBMForecaster
from models.zoo import primary_model
from training.engine.backtest import BacktestResult
from training.engine.metrics import METRICS, evaluate, format_table
from training.tracking import plots
from training.tracking.settings import StoreSettings

__all__ = ["BacktestScores", "data_fingerprint", "log_backtest", "log_params", "log_plots",
           "log_scores", "open_run", "run_params", "score_backtest"]


def data_fingerprint(history: pd.DataFrame, *, freq: str) -> dict[str, str]:
    """Rows, series, date range and a content hash of the sell-through the run used."""
    cols = [c for c in (DATE, NODE, ITEM, UNITS, "price", "promo", "on_hand") if c in history]
    frame = history[cols].sort_values([NODE, ITEM, DATE], kind="stable")
    digest = hashlib.sha256(pd.util.hash_pandas_object(frame, index=False).to_numpy())
    return {
        "data.rows": str(len(history)),
        "data.series": str(history.groupby([NODE, ITEM], observed=True).ngroups),
        "data.first_date": f"{history[DATE].min():%Y-%m-%d}",
        "data.last_date": f"{history[DATE].max():%Y-%m-%d}",
        "data.freq": freq,
        "data.units": f"{history[UNITS].sum():.0f}",
        "data.sha256": digest.hexdigest()[:16],
    }


def run_params(cfg: TrainConfig, freq: str) -> dict[str, str]:
    """Flat parameters of a run: the config, the LightGBM knobs and the feature spec."""
    out = {k: _text(v) for k, v in asdict(cfg).items() if k != "lgbm"}
    out["freq"] = freq
    out["step"] = str(cfg.step or cfg.horizon)
    out["primary_model"] = primary_model(cfg.models)
    out.update({f"lgbm.{k}": _text(v) for k, v in asdict(cfg.lgbm).items()})
    spec = FeatureSpec.for_freq(freq)
    out.update({f"features.{k}": _text(v) for k, v in asdict(spec).items()})
    return out


def _text(value: object) -> str:
    if isinstance(value, tuple | list):
        return ",".join(str(v) for v in value)
    return str(value)


@dataclass
class BacktestScores:
    """Metric tables of one backtest: per model, per model x step, per model x class."""

    by_model: pd.DataFrame
    by_step: pd.DataFrame
    by_class: pd.DataFrame
    cutoffs: list[str]

    def score(self, model: str, metric: str = "wrmsse") -> float:
        rows = self.by_model[self.by_model["model"] == model]
        if rows.empty:
            raise KeyError(f"model {model!r} was not backtested; `model` must be one of "
                           f"{sorted(self.by_model['model'])}.")
        return float(rows[metric].iloc[0])


def score_backtest(result: BacktestResult, history: pd.DataFrame, *, freq: str,
                   outside_span: str = "exclude") -> BacktestScores:
    """Score a backtest as `metrics.evaluate` does, overall, by horizon step and by series class."""
    def table(by: list[str]) -> pd.DataFrame:
        return evaluate(result.predictions, history, freq=freq, by=by,
                        outside_span=outside_span)  # type: ignore[arg-type]

    cutoffs = [f"{w.cutoff:%Y-%m-%d}" for w in result.windows]
    return BacktestScores(by_model=table(["model"]), by_step=table(["model", "step"]),
                          by_class=table(["model", "series_class"]), cutoffs=cutoffs)


@contextmanager
def open_run(store: StoreSettings, *, run_name: str) -> Iterator[mlflow.ActiveRun]:
    """Start (or, under `mlflow run`, resume) the run everything is logged into."""
    mlflow.set_tracking_uri(store.tracking_uri)
    if store.run_id:
        with mlflow.start_run(run_id=store.run_id) as run:
            yield run
        return
    experiment = mlflow.get_experiment_by_name(store.experiment)
    location = f"{store.artifact_root}/{store.experiment}" if store.artifact_root else None
    experiment_id = (experiment.experiment_id if experiment is not None else
                     mlflow.create_experiment(store.experiment, artifact_location=location))
    with mlflow.start_run(experiment_id=experiment_id, run_name=run_name) as run:
        yield run


def log_params(params: dict[str, str]) -> None:
    """Log params into the active run. A key that `mlflow run` already logged with another
    value (`freq` "" before it was inferred, `step` 0 = the horizon) goes in as
    `resolved.<key>`, because MLflow refuses to change a logged param."""
    run = mlflow.active_run()
    existing = mlflow.get_run(run.info.run_id).data.params if run is not None else {}
    mlflow.log_params({(k if existing.get(k, v) == v else f"resolved.{k}"): v
                       for k, v in params.items()})


def log_scores(scores: BacktestScores, seconds: Mapping[str, float], *, primary: str) -> None:
    """The backtest's metrics per model, horizon step and series class, its seconds per
    model, cutoffs, and the metric tables as artifacts (`metrics/`)."""
    mlflow.log_metric("wrmsse", scores.score(primary))
    mlflow.log_metrics(_metrics(scores.by_model, ["model"]))
    mlflow.log_metrics(_metrics(scores.by_class, ["model", "series_class"]))
    for step, rows in scores.by_step.groupby("step"):
        mlflow.log_metrics(_metrics(rows, ["model"], suffix="by_step"), step=int(step))
    mlflow.log_metrics({f"seconds/{k}": float(v) for k, v in seconds.items()})
    mlflow.set_tag("backtest.cutoffs", ",".join(scores.cutoffs))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for name in ("by_model", "by_step", "by_class"):
            getattr(scores, name).to_csv(folder / f"metrics_{name}.csv", index=False)
        (folder / "metrics.txt").write_text(format_table(scores.by_model) + "\n")
        mlflow.log_artifacts(str(folder), artifact_path="metrics")


def log_backtest(result: BacktestResult, scores: BacktestScores, history: pd.DataFrame, *,
                 primary: str) -> None:
    """Metrics per model, horizon step and series class; tables, plots and predictions."""
    log_scores(scores, result.seconds, primary=primary)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        result.for_model(primary).to_parquet(folder / "predictions.parquet", index=False)
        result.predictions.to_parquet(folder / "predictions_all_models.parquet", index=False)
        mlflow.log_artifacts(str(folder), artifact_path="predictions")
    _log_plots(result, scores, history, primary=primary)


def _metrics(table: pd.DataFrame, keys: list[str], suffix: str = "") -> dict[str, float]:
    out: dict[str, float] = {}
    for row in table.itertuples(index=False):
        label = "/".join(str(getattr(row, k)) for k in keys)
        for metric in METRICS:
            value = float(getattr(row, metric))
            if np.isfinite(value):
                out[f"{metric}{'_' + suffix if suffix else ''}/{label}"] = value
    return out


def _log_plots(result: BacktestResult, scores: BacktestScores, history: pd.DataFrame, *,
               primary: str) -> None:
    preds = result.predictions[result.predictions["model"] == primary]
    log_plots(scores, preds=preds, history=history, lgbm=result.lgbm)


def log_plots(scores: BacktestScores, *, preds: pd.DataFrame | None,
              history: pd.DataFrame | None, lgbm: LGBMForecaster | None) -> None:
    """Forecast vs actual for sample series of `preds` (when given), error by horizon step,
    and LightGBM's feature importance (when trained)."""
    if preds is not None and history is not None:
        fig = plots.forecast_vs_actual(preds, history, series=plots.sample_series(preds))
        mlflow.log_figure(fig, "plots/forecast_vs_actual.png")
    mlflow.log_figure(plots.error_by_horizon(scores.by_step), "plots/error_by_horizon.png")
    if lgbm is not None:
        gain = lgbm.feature_importance()
        mlflow.log_figure(plots.feature_importance(gain), "plots/feature_importance.png")
        mlflow.log_text(gain.to_csv(header=["gain"]), "metrics/feature_importance.csv")
