"""The tracked stages behind `python -m training.<stage>` and MLproject: backtest, train,
promote, forecast.

Each stage takes a `TrainConfig` (or plain arguments) and the `StoreSettings` the entry point
read; it logs one MLflow run. `train` = backtest + fit on all history + a registered
`challenger` version; `promote` moves `champion` when the challenger is better on the same
backtest windows.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import mlflow
import pandas as pd
from mlflow.entities.model_registry import ModelVersion
from mlflow.pyfunc import PyFuncModel

from features.errors import DataContractError
from features.partitioned import is_store, open_store, store_fingerprint
from features.schema import ITEM, NODE
from features.validation import load_validated, refused_note
from training.backtest import BacktestResult, run_backtest
from training.cluster import EngineConfig
from training.config import (
    TrainConfig,
    add_engine_arguments,
    add_train_arguments,
    config_from_args,
    rejects_file,
)
from training.forecast import UnknownSeriesError, fit_forecaster
from training.progress import add_quiet_argument
from training.pyfunc import log_forecast_model
from training.registry import (
    CHALLENGER,
    CHAMPION,
    Decision,
    alias_version,
    client_for,
    decide,
    record_decision,
    register_challenger,
    same_windows,
)
from training.settings import StoreSettings, git_commit, store_settings
from training.tracking import (
    BacktestScores,
    data_fingerprint,
    log_backtest,
    log_params,
    open_run,
    score_backtest,
)

__all__ = ["Loaded", "TrainOutcome", "backtest_main", "backtest_stage", "forecast_main",
           "forecast_stage", "load_data", "preload", "promote_stage", "train_stage"]


@dataclass
class Loaded:
    """Validated history, nodes and the period grid of a data folder; with
    `accept_partial`, how many rows were refused and the line saying where they went."""

    history: pd.DataFrame
    nodes: pd.DataFrame
    freq: str
    refused: int = 0
    note: str | None = None


@dataclass
class TrainOutcome:
    """What a backtest or train stage produced."""

    run_id: str
    scores: BacktestScores
    version: ModelVersion | None = None


def load_data(cfg: TrainConfig, *, rejects: Path | None = None) -> Loaded:
    """Load and validate `cfg.data` (a data folder, or a partitioned store read whole);
    raises DataContractError or FileNotFoundError. With `cfg.accept_partial`, refused rows
    are left out and written to `rejects` (default `rejects_file(cfg.data)`)."""
    if is_store(cfg.data):
        store = open_store(cfg.data)
        nodes = store.nodes()
        return Loaded(store.load_history(),
                      nodes if nodes is not None else pd.DataFrame(columns=[NODE]), store.freq)
    path = rejects_file(cfg.data, rejects)
    report = load_validated(cfg.data, freq=cfg.freq, accept_partial=cfg.accept_partial,
                            rejects=path)
    return Loaded(report.tables["sell_through"], report.tables["nodes"], str(report.freq),
                  refused=report.n_refused, note=refused_note(report, path))


def _backtest(cfg: TrainConfig, data: Loaded, cutoffs: list[pd.Timestamp] | None = None,
              progress: bool = False) -> tuple[BacktestResult, BacktestScores]:
    result = run_backtest(data.history, freq=data.freq, config=cfg.backtest_config(),
                          nodes=data.nodes, cutoffs=cutoffs, progress=progress)
    return result, score_backtest(result, data.history, freq=data.freq,
                                  outside_span=cfg.outside_span)


def _fingerprint(cfg: TrainConfig, data: Loaded) -> dict[str, str]:
    """The data record of a run; a store's is the same whichever engine read it."""
    if is_store(cfg.data):
        return store_fingerprint(open_store(cfg.data))
    return data_fingerprint(data.history, freq=data.freq)


def _log_inputs(cfg: TrainConfig, data: Loaded, *, commit: str | None) -> dict[str, str]:
    fingerprint = _fingerprint(cfg, data)
    log_params({**cfg.params(data.freq), **fingerprint})
    mlflow.set_tags({"data.sha256": fingerprint["data.sha256"], "data.folder": str(cfg.data)})
    if data.refused:
        mlflow.set_tag("data.refused_rows", str(data.refused))
    if commit:
        mlflow.set_tag("mlflow.source.git.commit", commit)
    return fingerprint


def backtest_stage(cfg: TrainConfig, *, store: StoreSettings, commit: str | None = None,
                   data: Loaded | None = None, progress: bool = False) -> TrainOutcome:
    """Backtest every model of `cfg` and log metrics, tables, plots and predictions
    (`progress`: each fit or Dask phase on stderr)."""
    if cfg.engine == "dask":
        from training.dask_stages import backtest_stage_dask

        return backtest_stage_dask(  # type: ignore[no-any-return]
            cfg, store=store, commit=commit, progress=progress)
    cfg = replace(cfg, data=Path(cfg.data).resolve())
    data = data or load_data(cfg)
    with open_run(store, run_name="backtest") as run:
        _log_inputs(cfg, data, commit=commit)
        result, scores = _backtest(cfg, data, progress=progress)
        log_backtest(result, scores, data.history, primary=cfg.primary)
    return TrainOutcome(run_id=run.info.run_id, scores=scores)


def train_stage(cfg: TrainConfig, *, store: StoreSettings, commit: str | None = None,
                data: Loaded | None = None, progress: bool = False) -> TrainOutcome:
    """Backtest, fit on all history, log the pyfunc model, register it as `challenger`
    (`progress`: each fit or Dask phase on stderr)."""
    if cfg.engine == "dask":
        from training.dask_stages import train_stage_dask

        return train_stage_dask(  # type: ignore[no-any-return]
            cfg, store=store, commit=commit, progress=progress)
    cfg = replace(cfg, data=Path(cfg.data).resolve())
    data = data or load_data(cfg)
    with open_run(store, run_name="train") as run:
        fingerprint = _log_inputs(cfg, data, commit=commit)
        result, scores = _backtest(cfg, data, progress=progress)
        log_backtest(result, scores, data.history, primary=cfg.primary)
        forecaster = fit_forecaster(data.history, freq=data.freq, horizon=cfg.horizon,
                                    nodes=data.nodes, models=cfg.models,
                                    calibration_windows=cfg.warmup, lgbm=cfg.lgbm,
                                    progress=progress)
        info = log_forecast_model(forecaster)
        run_id = run.info.run_id
        tags, description = _version_record(cfg, scores, fingerprint, commit=commit,
                                            run_id=run_id)
        version = register_challenger(client_for(store.tracking_uri), name=store.model_name,
                                      model_uri=info.model_uri, run_id=run_id, tags=tags,
                                      description=description)
        mlflow.set_tag("registered_version", version.version)
    return TrainOutcome(run_id=run_id, scores=scores, version=version)


def _version_record(cfg: TrainConfig, scores: BacktestScores, fingerprint: dict[str, str], *,
                    commit: str | None, run_id: str) -> tuple[dict[str, str], str]:
    """Tags and description of a new version: its score, windows, data and recipe."""
    score = scores.score(cfg.primary)
    tags = {"backtest.wrmsse": repr(score), "backtest.cutoffs": ",".join(scores.cutoffs),
            "backtest.windows": str(cfg.windows), "backtest.horizon": str(cfg.horizon),
            "backtest.outside_span": cfg.outside_span, "data.sha256": fingerprint["data.sha256"],
            "train_config": cfg.to_json(), "primary_model": cfg.primary,
            "git.commit": commit or "unknown"}
    description = (f"Trained on {cfg.data} ({fingerprint['data.rows']} rows, "
                   f"{fingerprint['data.series']} series, {fingerprint['data.first_date']}.."
                   f"{fingerprint['data.last_date']}); models {', '.join(cfg.models)}; backtest "
                   f"WRMSSE of `{cfg.primary}` {score:.4f} over {cfg.windows} windows of "
                   f"{cfg.horizon} periods; run {run_id}.")
    return tags, description


def promote_stage(*, store: StoreSettings, version: str | None = None, force: bool = False,
                  why: str = "", by: str = "unknown") -> Decision:
    """Make `version` (default: the `challenger`) the champion if it is better on the same
    backtest windows (or `force`); record the decision on the version.

    Raises:
        LookupError: no such version, or no challenger.
    """
    client = client_for(store.tracking_uri)
    name = store.model_name
    challenger = (client.get_model_version(name, version) if version
                  else alias_version(client, name, CHALLENGER))
    if challenger is None:
        raise LookupError(f"model {name!r} has no `{CHALLENGER}` alias: run `train` first, or "
                          "pass `--version`.")
    champion = alias_version(client, name, CHAMPION)
    score = float(challenger.tags["backtest.wrmsse"])
    ours, theirs = str(challenger.version), None if champion is None else str(champion.version)
    if ours == theirs:
        return Decision(promote=False, reason=f"v{ours} is already the champion",
                        challenger=ours, champion=theirs, challenger_score=score,
                        champion_score=score)
    champion_score, rescored = (None, False) if champion is None else _champion_score(
        challenger, champion, rescore=not force)
    decision = decide(ours, score, champion=theirs, champion_score=champion_score,
                      force=force, why=why)
    if rescored:
        decision = replace(decision, reason=f"{decision.reason} (champion backtested again "
                                            "on the challenger's windows)")
    record_decision(client, name=name, decision=decision, by=by)
    with open_run(store, run_name="promote"):
        mlflow.set_tags({**decision.tags(), "promotion.by": by,
                         "promotion.version": decision.challenger})
    return decision


def _champion_score(challenger: ModelVersion, champion: ModelVersion, *, rescore: bool
                    ) -> tuple[float | None, bool]:
    """The champion's WRMSSE on the challenger's windows, and whether it was computed now:
    its recorded score when both were backtested on the same data and cutoffs, else its
    recipe backtested again on them (or None when `rescore` is off)."""
    if same_windows(challenger, champion):
        return float(champion.tags["backtest.wrmsse"]), False
    if not rescore:
        return None, False
    chal_cfg = TrainConfig.from_json(challenger.tags["train_config"])
    recipe = replace(TrainConfig.from_json(champion.tags["train_config"]),
                     data=chal_cfg.data, freq=chal_cfg.freq, horizon=chal_cfg.horizon,
                     windows=chal_cfg.windows, step=chal_cfg.step, warmup=chal_cfg.warmup,
                     outside_span=chal_cfg.outside_span, engine="local")
    data = load_data(recipe)
    sha = _fingerprint(recipe, data)["data.sha256"]
    if sha != challenger.tags.get("data.sha256"):
        raise LookupError(f"{recipe.data} changed since v{challenger.version} was trained "
                          f"(data.sha256 {sha} != {challenger.tags.get('data.sha256')}); "
                          "retrain the challenger or use `--force`.")
    cutoffs = [pd.Timestamp(c) for c in challenger.tags["backtest.cutoffs"].split(",")]
    _, scores = _backtest(recipe, data, cutoffs=cutoffs)
    return scores.score(recipe.primary), True


def forecast_stage(*, store: StoreSettings, model_uri: str, out: Path, horizon: int = 0,
                   quantiles: tuple[float, ...] = (0.1, 0.5, 0.9),
                   series: pd.DataFrame | None = None, scheduler: str = "") -> pd.DataFrame:
    """Forecast `series` (default: every series the model knows) with a registered model,
    write `out` (.csv or .parquet) and log it in a `forecast` run. With a Dask `scheduler`
    the workers write `out` as a folder of Parquet files (the frame returned is empty)."""
    with open_run(store, run_name="forecast"):
        model = mlflow.pyfunc.load_model(model_uri)
        if scheduler:
            return _forecast_dask(model, out, scheduler=scheduler, series=series,
                                  horizon=horizon, quantiles=quantiles, model_uri=model_uri)
        if series is None:
            series = model.unwrap_python_model().forecaster.keys[[NODE, ITEM]]
        params = {"quantiles": list(quantiles), **({"horizon": horizon} if horizon else {})}
        frame = model.predict(series[[NODE, ITEM]].astype(str), params=params)
        out.parent.mkdir(parents=True, exist_ok=True)
        if out.suffix == ".csv":
            frame.to_csv(out, index=False)
        else:
            frame.to_parquet(out, index=False)
        log_params({"model_uri": model_uri, "horizon": str(horizon or "trained"),
                    "quantiles": ",".join(map(str, quantiles)), "out": str(out)})
        mlflow.log_metric("forecast_rows", len(frame))
        mlflow.log_artifact(str(out), artifact_path="forecast")
    return frame


def _forecast_dask(model: PyFuncModel, out: Path, *, scheduler: str,
                   series: pd.DataFrame | None, horizon: int, quantiles: tuple[float, ...],
                   model_uri: str) -> pd.DataFrame:
    from training.dask_stages import forecast_with_dask

    forecaster = model.unwrap_python_model().forecaster
    rows = forecast_with_dask(forecaster, out, scheduler=scheduler, series=series,
                              horizon=horizon or None, quantiles=quantiles)
    log_params({"model_uri": model_uri, "horizon": str(horizon or "trained"),
                "quantiles": ",".join(map(str, quantiles)), "out": str(out)})
    mlflow.log_metric("forecast_rows", rows)
    return pd.DataFrame()


def preload(cfg: TrainConfig, *, rejects: Path | None = None) -> Loaded | None:
    """The data of a local-engine stage, loaded by its entry point so that the line about
    refused rows (`--accept-partial`) is printed before the long work; None on Dask."""
    if cfg.engine == "dask":
        return None
    data = load_data(replace(cfg, data=Path(cfg.data).resolve()), rejects=rejects)
    if data.note:
        print(data.note)
    return data


def backtest_main(argv: list[str] | None = None) -> None:
    """`python -m training.backtest --data DIR ...`: a tracked backtest run."""
    parser = argparse.ArgumentParser(prog="python -m training.backtest",
                                     description=backtest_stage.__doc__)
    add_train_arguments(parser)
    add_quiet_argument(parser)
    args = parser.parse_args(argv)
    try:
        cfg = config_from_args(args)
        outcome = backtest_stage(cfg, store=store_settings(os.environ), commit=git_commit(),
                                 data=preload(cfg, rejects=args.rejects),
                                 progress=not args.quiet)
    except (DataContractError, FileNotFoundError, ValueError) as exc:
        sys.exit(f"backtest: {exc}")
    by_model = outcome.scores.by_model
    print(by_model[["model", "wape", "wrmsse", "mase", "scaled_pinball", "coverage", "bias"]]
          .to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"run {outcome.run_id}")


def forecast_main(argv: list[str] | None = None) -> None:
    """`python -m training.forecast --out FILE [--model-uri URI]`: forecast with the champion."""
    store = store_settings(os.environ)
    parser = argparse.ArgumentParser(prog="python -m training.forecast",
                                     description=forecast_stage.__doc__)
    parser.add_argument("--model-uri", default=f"models:/{store.model_name}@{CHAMPION}")
    parser.add_argument("--out", type=Path, required=True, help="forecast file .csv/.parquet")
    parser.add_argument("--horizon", type=int, default=0, help="periods (0 = as trained)")
    parser.add_argument("--quantiles", default="0.1,0.5,0.9", help="comma-separated levels")
    parser.add_argument("--series", type=Path, default=None,
                        help="CSV with node_id,sku to forecast (default: every series)")
    add_engine_arguments(parser)
    args = parser.parse_args(argv)
    try:
        engine = EngineConfig(args.engine, args.scheduler or "").validate()
        quantiles = tuple(float(q) for q in args.quantiles.split(",") if q.strip())
        series = pd.read_csv(args.series, dtype=str) if args.series else None
        frame = forecast_stage(store=store, model_uri=args.model_uri, out=args.out,
                               horizon=args.horizon, quantiles=quantiles, series=series,
                               scheduler=engine.scheduler if engine.is_dask else "")
    except (UnknownSeriesError, ValueError, LookupError, OSError) as exc:
        sys.exit(f"forecast: {exc}")
    if engine.is_dask:
        print(f"forecasts from {args.model_uri} written by the cluster to {args.out}/part-*")
        return
    print(f"{len(frame):,} forecast rows from {args.model_uri} -> {args.out}")
    print(frame.head(8).to_string(index=False))
