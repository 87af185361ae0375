"""`channelcast train` and `channelcast promote`, and the MLflow-tracked paths of `backtest
--track` and `forecast` with a registered model: the stages behind MLproject's entry points.

Settings (tracking URI, `mlflow run`'s run id) are read from the environment here and
nowhere else (`training.tracking.settings.store_settings`).
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from dataclasses import replace
from pathlib import Path

import pandas as pd
from mlflow.exceptions import MlflowException

from channelcast.args import add_train_arguments, config_from_args, flag
from features.config import TrainConfig
from features.contract.errors import DataContractError
from training.engine.forecast import UnknownSeriesError
from training.engine.loading import Loaded, load_data
from training.tracking.promotion import promote_stage
from training.tracking.registry import CHAMPION
from training.tracking.settings import git_commit, store_settings
from training.tracking.stages import TrainOutcome, backtest_stage, forecast_stage, train_stage

__all__ = ["add_parser", "forecast_registered", "preload", "track_backtest"]


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `train` and `promote`."""
    t = sub.add_parser("train", help="backtest, fit on all history, register a challenger",
                       description=train_stage.__doc__)
    add_train_arguments(t)
    t.set_defaults(handler=_run_train)
    p = sub.add_parser("promote", help="make the challenger champion if it is better",
                       description=_PROMOTE)
    p.add_argument("--version", default="", help="version to promote (default: the "
                   "`challenger` alias)")
    p.add_argument("--force", type=flag, nargs="?", const=True, default=False,
                   metavar="true|false",
                   help="promote even if not better (recorded on the version)")
    p.add_argument("--reason", default="", help="why (recorded; expected with --force)")
    p.add_argument("--strict", type=flag, nargs="?", const=True, default=False,
                   metavar="true|false", help="exit with code 3 when the challenger is refused")
    p.set_defaults(handler=_run_promote)


_PROMOTE = ("The challenger (or --version) becomes champion only if its backtest WRMSSE beats "
            "the champion's on the same windows, or with --force; the decision, who made it "
            "and why are written into the version's tags and description. Exit 0 whether "
            "promoted or refused, unless --strict (3 when refused); 2 on bad input.")


def preload(cfg: TrainConfig, *, rejects: Path | None = None) -> Loaded | None:
    """The data of a local-engine stage, loaded before the long work so that the line about
    refused rows (`--accept-partial`) is printed first; None on Dask."""
    if cfg.engine == "dask":
        return None
    data = load_data(replace(cfg, data=Path(cfg.data).resolve()), rejects=rejects)
    if data.note:
        print(data.note)
    return data


def _stage(name: str, args: argparse.Namespace) -> TrainOutcome | None:
    """Run the tracked `backtest` or `train` stage of `args` on its engine; None (after
    printing why on stderr) when its input or configuration is refused."""
    try:
        return _run_stage(name, args)
    except (DataContractError, FileNotFoundError, ValueError) as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        return None


def _run_stage(name: str, args: argparse.Namespace) -> TrainOutcome:
    cfg = replace(config_from_args(args), outside_span=getattr(args, "outside_span", "exclude"))
    store, commit, progress = store_settings(os.environ), git_commit(), not args.quiet
    if cfg.engine == "dask":
        from training.dask.stages import backtest_stage_dask, train_stage_dask

        run = backtest_stage_dask if name == "backtest" else train_stage_dask
        return run(cfg, store=store, commit=commit, progress=progress)
    stage = backtest_stage if name == "backtest" else train_stage
    return stage(cfg, store=store, commit=commit, data=preload(cfg, rejects=args.rejects),
                 progress=progress)


def track_backtest(args: argparse.Namespace) -> int:
    """`channelcast backtest --track`: a backtest logged as an MLflow run."""
    outcome = _stage("backtest", args)
    if outcome is None:
        return 2
    by_model = outcome.scores.by_model
    print(by_model[["model", "wape", "wrmsse", "mase", "scaled_pinball", "coverage", "bias"]]
          .to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    if outcome.levels is not None:
        print(outcome.levels.summary.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
        print(f"default --reconcile: {args.reconcile or outcome.levels.winner} (per-level "
              "backtest winner: " + str(outcome.levels.winner) + ")")
    print(f"run {outcome.run_id}")
    return 0


def _run_train(args: argparse.Namespace) -> int:
    outcome = _stage("train", args)
    if outcome is None:
        return 2
    store = store_settings(os.environ)
    version = outcome.version.version if outcome.version else "?"
    scores = outcome.scores.by_model[["model", "wape", "wrmsse", "scaled_pinball", "coverage"]]
    print(scores.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    if outcome.levels is not None:
        print(outcome.levels.summary.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
        print(f"aggregate series served reconciled with {args.reconcile or outcome.levels.winner}"
              " by default")
    print(f"run {outcome.run_id}: registered {store.model_name} v{version} as `challenger` "
          f"in {store.tracking_uri}; next: channelcast promote")
    return 0


def _run_promote(args: argparse.Namespace) -> int:
    try:
        decision = promote_stage(store=store_settings(os.environ), version=args.version or None,
                                 force=args.force, why=args.reason, by=getpass.getuser())
    except (LookupError, MlflowException, DataContractError, OSError, ValueError) as exc:
        print(f"promote: {exc}", file=sys.stderr)
        return 2
    verdict = "promoted to champion" if decision.promote else "NOT promoted"
    print(f"v{decision.challenger} {verdict}: {decision.reason}")
    return 3 if args.strict and not decision.promote else 0


def forecast_registered(args: argparse.Namespace, quantiles: tuple[float, ...]) -> int:
    """`channelcast forecast` without `--data`: forecast with a registered model (default
    the champion), logged as a `forecast` run."""
    store = store_settings(os.environ)
    uri = args.model_uri or f"models:/{store.model_name}@{CHAMPION}"
    dask = args.engine == "dask"
    try:
        series = pd.read_csv(args.series, dtype=str) if args.series else None
        if dask:
            from training.dask.stages import forecast_stage_dask

            forecast_stage_dask(store=store, model_uri=uri, out=args.out,
                                scheduler=args.scheduler, horizon=args.horizon or 0,
                                quantiles=quantiles, series=series)
        else:
            frame = forecast_stage(store=store, model_uri=uri, out=args.out,
                                   horizon=args.horizon or 0, quantiles=quantiles, series=series,
                                   level=getattr(args, "level", None),
                                   reconcile=getattr(args, "reconcile", "") or None)
    except (UnknownSeriesError, ValueError, LookupError, OSError, MlflowException) as exc:
        print(f"forecast: {exc}", file=sys.stderr)
        return 2
    if dask:
        print(f"forecasts from {uri} written by the cluster to {args.out}/part-*")
        return 0
    print(f"{len(frame):,} forecast rows from {uri} -> {args.out}")
    print(frame.head(8).to_string(index=False))
    return 0
