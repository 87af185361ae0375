"""`channelcast backtest` and `channelcast forecast`: rolling-origin evaluation and forecasts.

Each has one parser and two paths: on a data folder, written to `--out` and printed
(`--engine dask`: `channelcast.cmd_dask`); or tracked in MLflow (`backtest --track`,
`forecast` without `--data` forecasts with a registered model: `channelcast.cmd_train`),
which is what MLproject's entry points run.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pandas as pd

from channelcast import cmd_dask, cmd_train
from channelcast.args import (
    add_engine_arguments,
    add_level_arguments,
    add_partial_arguments,
    add_train_arguments,
    config_from_args,
    flag,
)
from features.config import DEFAULT_HORIZON, DEFAULT_MODELS, DEFAULT_QUANTILES
from features.contract.errors import DataContractError
from features.contract.partitioned import is_store, open_store
from features.contract.validation import load_validated, refused_note
from features.schema import ITEM, NODE
from models.hierarchy import LEVELS
from models.zoo import MODEL_NAMES, check_models, primary_model
from training.dask.cluster import EngineConfig
from training.engine.backtest import MODEL, run_backtest
from training.engine.forecast import Forecaster, UnknownSeriesError, fit_forecaster
from training.engine.hierarchy import (
    METHOD,
    SKUS,
    LevelBacktest,
    backtest_levels,
    fit_levels,
    has_hierarchy,
    with_level_quantiles,
)
from training.engine.loading import rejects_file
from training.engine.metrics import evaluate, format_table

__all__ = ["add_parser"]

_QUANTILES = ",".join(map(str, DEFAULT_QUANTILES))


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `backtest` and `forecast`."""
    b = sub.add_parser("backtest", help="rolling-origin backtest of every model, with metrics")
    add_train_arguments(b)
    b.add_argument("--quantiles", default=_QUANTILES, help=f"default {_QUANTILES}")
    b.add_argument("--out", type=Path, default=None,
                   help="predictions file (.parquet/.csv); required without --track")
    b.add_argument("--by", default="", help="also break metrics down by: step, series_class")
    b.add_argument("--outside-span", choices=("exclude", "zero"), default="exclude",
                   help="score target periods outside a series' span as 0 units, or not at "
                        "all (default exclude)")
    b.add_argument("--track", type=flag, nargs="?", const=True, default=False,
                   metavar="true|false",
                   help="log the backtest as an MLflow run (metrics, tables, plots, "
                        "predictions) instead of writing --out; MLproject's `backtest`")
    b.set_defaults(handler=_run_backtest)
    f = sub.add_parser("forecast", help="forecast every series: fit on --data, or with a "
                       "registered model")
    f.add_argument("--data", type=Path, default=None,
                   help="validated data folder: fit on all its history and forecast; without "
                        "it, forecast with the registered model --model-uri (an MLflow run)")
    f.add_argument("--model-uri", default="", help="registered model to forecast with "
                   "(default models:/channelcast-demand@champion); only without --data")
    f.add_argument("--series", type=Path, default=None, help="CSV with node_id,sku to "
                   "forecast with a registered model (default: every series)")
    f.add_argument("--freq", default=None, help="W, D, M or W-MON... (default: inferred)")
    f.add_argument("--horizon", type=int, default=None,
                   help=f"periods ahead (default {DEFAULT_HORIZON}; a registered model's "
                        "trained horizon; 0 = that)")
    f.add_argument("--models", default=",".join(DEFAULT_MODELS),
                   help=f"comma-separated, from {','.join(MODEL_NAMES)}")
    f.add_argument("--quantiles", default=_QUANTILES, help=f"default {_QUANTILES}")
    f.add_argument("--out", type=Path, required=True, help="forecast file (.parquet/.csv)")
    f.add_argument("--calibration-windows", type=int, default=3, help="recent windows used "
                   "for quantiles and model choice (default 3)")
    f.add_argument("--level", choices=("", *LEVELS), default="",
                   help="forecast every series of this level of the channel tree (an "
                        "aggregate's id in node_id, its sku in sku or * for all skus), "
                        "reconciled with --reconcile")
    add_level_arguments(f)
    add_engine_arguments(f)
    add_partial_arguments(f)
    f.set_defaults(handler=_run_forecast)


def _load(args: argparse.Namespace
          ) -> tuple[pd.DataFrame, pd.DataFrame, str, pd.DataFrame | None] | None:
    if is_store(args.data):  # a partitioned store, read whole by the local engine
        store = open_store(args.data)
        return store.load_history(), store.nodes(), store.freq, None
    rejects = rejects_file(args.data, args.rejects)
    try:
        report = load_validated(args.data, freq=args.freq, accept_partial=args.accept_partial,
                                rejects=rejects)
    except (DataContractError, OSError) as exc:  # OSError: e.g. the rejects file unwritable
        print(f"cannot use {args.data}: {exc}")
        return None
    note = refused_note(report, rejects)
    if note:
        print(note)
    return (report.tables["sell_through"], report.tables["nodes"], str(report.freq),
            report.tables.get("items"))


def _parse(args: argparse.Namespace) -> tuple[tuple[str, ...], tuple[float, ...]]:
    models = check_models(args.models.split(","))
    try:
        quantiles = tuple(sorted({float(q) for q in args.quantiles.split(",") if q.strip()}))
    except ValueError as exc:
        raise ValueError(f"`--quantiles` must be numbers in (0, 1), e.g. {_QUANTILES}; "
                         f"got {args.quantiles!r}.") from exc
    if not quantiles or not all(0 < q < 1 for q in quantiles):
        raise ValueError(f"`--quantiles` must be numbers in (0, 1); got {args.quantiles!r}.")
    return models, tuple(sorted({*quantiles, *DEFAULT_QUANTILES}))


def _write(frame: pd.DataFrame, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".csv":
        frame.to_csv(out, index=False)
    else:
        frame.to_parquet(out, index=False)


def _inputs(args: argparse.Namespace) -> tuple[
        tuple[str, ...], tuple[float, ...], pd.DataFrame, pd.DataFrame, str,
        pd.DataFrame | None] | None:
    """Models, quantiles and the validated data of `args`; None (message printed) if bad."""
    try:
        models, quantiles = _parse(args)
    except ValueError as exc:
        print(exc)
        return None
    loaded = _load(args)
    return None if loaded is None else (models, quantiles, *loaded)


def _run_backtest(args: argparse.Namespace) -> int:
    if args.track:
        return cmd_train.track_backtest(args)
    if args.out is None:
        print("backtest: give `--out FILE` for the predictions, or `--track` to log an "
              "MLflow run")
        return 2
    if args.engine == "dask":
        return _on_dask(args, cmd_dask.run_backtest)
    inputs = _inputs(args)
    if inputs is None:
        return 2
    models, quantiles, history, nodes, freq, items = inputs
    start = time.perf_counter()
    try:
        config = replace(config_from_args(args).backtest_config(), quantiles=quantiles)
        if args.levels:
            config = with_level_quantiles(config)
        result = run_backtest(history, freq=freq, config=config, nodes=nodes,
                              progress=not args.quiet)
        levels = (backtest_levels(result, history, nodes=nodes, items=items, config=config,
                                  outside_span=args.outside_span, progress=not args.quiet)
                  if args.levels and has_hierarchy(nodes) else None)
    except ValueError as exc:
        print(f"cannot backtest {args.data}: {exc}")
        return 2
    wall = time.perf_counter() - start
    primary = primary_model(models)
    _write(result.for_model(primary), args.out)
    every = args.out.with_name(args.out.stem + ".all_models" + args.out.suffix)
    _write(result.predictions, every)
    by = [MODEL, *[b.strip() for b in args.by.split(",") if b.strip()]]
    table = evaluate(result.predictions, history, freq=freq, by=by,
                     outside_span=args.outside_span)
    table["seconds"] = table[MODEL].map(result.seconds).round(1)
    print(format_table(table))
    print(f"\n{len(result.predictions):,} prediction rows in {wall:.1f} s; `{primary}` written "
          f"to {args.out}, every model to {every}")
    if levels is not None:
        print()
        _print_levels(args, levels)
    return 0


def _print_levels(args: argparse.Namespace, levels: LevelBacktest) -> None:
    """Print and write (`<out>.levels.csv`, `<out>.levels.parquet`) the per-level scores."""
    wide = levels.scores.pivot_table(index=["level", SKUS], columns=METHOD, values="wrmsse")
    print("WRMSSE per level (x sku kind) and reconciliation method:")
    print(wide.to_string(float_format=lambda v: f"{v:.3f}"))
    print(format_table(levels.summary))
    print(f"default --reconcile: {levels.winner} (the coherent method with the lowest mean "
          "ratio to `none` per window over levels x sku kinds, of those within 1% of `none` "
          "on the bottom series)")
    scores = args.out.with_name(args.out.stem + ".levels.csv")
    levels.scores.to_csv(scores, index=False)
    every = args.out.with_name(args.out.stem + ".levels.parquet")
    levels.predictions.to_parquet(every, index=False)
    print(f"per-level scores written to {scores}, every level's predictions to {every}")


def _on_dask(args: argparse.Namespace, run: Callable[..., int]) -> int:
    try:
        models, quantiles = _parse(args)
    except ValueError as exc:
        print(exc)
        return 2
    return run(args, models, quantiles)


def _run_forecast(args: argparse.Namespace) -> int:
    try:
        EngineConfig(args.engine, args.scheduler or "").validate()
        quantiles = _parse(args)[1] if args.data is not None else tuple(
            float(q) for q in args.quantiles.split(",") if q.strip())
    except ValueError as exc:
        print(f"forecast: {exc}")
        return 2
    if args.data is None:
        return cmd_train.forecast_registered(args, quantiles)
    if args.model_uri or args.series is not None:
        print("forecast: `--model-uri` and `--series` forecast with a registered model; "
              "drop `--data` (which fits a new one) or them")
        return 2
    args.horizon = args.horizon or DEFAULT_HORIZON
    if args.engine == "dask":
        return _on_dask(args, cmd_dask.run_forecast)
    return _fit_and_forecast(args)


def _fit_and_forecast(args: argparse.Namespace) -> int:
    inputs = _inputs(args)
    if inputs is None:
        return 2
    models, quantiles, history, nodes, freq, items = inputs
    start = time.perf_counter()
    try:
        if args.level or args.reconcile:
            forecaster = fit_levels(history, nodes=nodes, items=items, freq=freq,
                                    horizon=args.horizon, models=models,
                                    calibration_windows=args.calibration_windows,
                                    method=args.reconcile or None, progress=not args.quiet)
            frame = _level_frame(forecaster, args, quantiles)
        else:
            forecaster = fit_forecaster(history, freq=freq, horizon=args.horizon, nodes=nodes,
                                        models=models,
                                        calibration_windows=args.calibration_windows,
                                        progress=not args.quiet)
            frame = forecaster.predict(quantiles=quantiles, model=primary_model(models))
    except (ValueError, UnknownSeriesError) as exc:
        print(f"cannot forecast {args.data}: {exc}")
        return 2
    _write(frame, args.out)
    n_series = frame.groupby([c for c in ("level", NODE, ITEM) if c in frame]).ngroups
    print(f"{len(frame):,} forecast rows ({n_series:,} series x {args.horizon} periods from "
          f"{forecaster.origin:%Y-%m-%d}) in {time.perf_counter() - start:.1f} s -> {args.out}")
    print(frame.head(args.horizon).to_string(index=False))
    return 0


def _level_frame(forecaster: Forecaster, args: argparse.Namespace,
                 quantiles: tuple[float, ...]) -> pd.DataFrame:
    """Every series of `--level` (all levels without it), reconciled with `--reconcile`."""
    hierarchy = forecaster.hierarchy
    assert hierarchy is not None
    series = hierarchy.keys.iloc[hierarchy.level_rows(args.level)] if args.level else None
    print(f"reconcile: {args.reconcile or forecaster.reconcile}"
          f"{'' if args.reconcile else ' (the winner on the calibration windows)'}")
    return forecaster.predict_levels(series, quantiles=quantiles,
                                     reconcile=args.reconcile or None)
