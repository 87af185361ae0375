"""`channelcast backtest|forecast --engine dask`: the same commands on a Dask cluster.

`--data` is a partitioned store (`channelcast ingest DIR --parquet-dir STORE`); the
workers read it and write the predictions as folders of Parquet files (one per partition):
`--out preds.parquet` becomes the folder `preds.parquet/`, every model's rows go to
`preds.all_models.parquet/`. Metrics are summed per partition and printed as locally.
Levels of the channel tree (issue 23; a store with a node table): `backtest --levels`
(default) also scores every level (`training.dask.hierarchy.backtest_levels_dask`, written
to `<out>.levels.csv`); `forecast --level L` / `--reconcile M` fits every level
(`fit_levels_dask`) and the client writes the reconciled rows to the file `--out`.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from features.config import BacktestConfig
from features.contract.partitioned import Store, open_store
from models.zoo import primary_model
from training.dask.backtest import run_backtest_dask
from training.dask.cluster import EngineConfig, cluster_size, connect
from training.dask.forecast import fit_forecaster_dask
from training.dask.hierarchy import backtest_levels_dask, fit_levels_dask
from training.engine.backtest import MODEL
from training.engine.hierarchy import LevelBacktest, with_level_quantiles
from training.engine.metrics import format_table

__all__ = ["run_backtest", "run_forecast"]


def _open(args: argparse.Namespace) -> tuple[Store, EngineConfig] | None:
    try:
        engine = EngineConfig(args.engine, args.scheduler or "").validate()
        return open_store(args.data), engine
    except (FileNotFoundError, ValueError) as exc:
        print(f"cannot use {args.data} on Dask: {exc}")
        return None


def run_backtest(args: argparse.Namespace, models: tuple[str, ...],
                 quantiles: tuple[float, ...]) -> int:
    """The backtest of `channelcast backtest` on the cluster; 0 ok, 2 bad input."""
    opened = _open(args)
    if opened is None:
        return 2
    store, engine = opened
    config = BacktestConfig(horizon=args.horizon, windows=args.windows,
                            step=args.step or args.horizon, models=models,
                            quantiles=quantiles, warmup=args.warmup)
    levels = bool(getattr(args, "levels", False)) and store.nodes() is not None
    if levels:
        config = with_level_quantiles(config)
    by = (MODEL, *[b.strip() for b in args.by.split(",") if b.strip()])
    out = Path(args.out)
    every = out.with_name(out.stem + ".all_models" + out.suffix)
    start = time.perf_counter()
    with connect(engine.scheduler) as client:
        size = cluster_size(client)
        try:
            result = run_backtest_dask(client, store, config=config, out=out,
                                       all_models=every, score_by=(by,),
                                       outside_span=args.outside_span,
                                       tail_periods=1 if levels else None,
                                       progress=not args.quiet)
            per_level = (backtest_levels_dask(result, store, config=config,
                                              outside_span=args.outside_span,
                                              progress=not args.quiet) if levels else None)
        except ValueError as exc:
            print(f"cannot backtest {args.data}: {exc}")
            return 2
    table = result.scores[by]
    table["seconds"] = table[MODEL].map(result.seconds).round(1)
    print(format_table(table))
    primary = primary_model(models)
    print(f"\n{result.n_rows:,} prediction rows in {time.perf_counter() - start:.1f} s on "
          f"{size['engine.workers']} Dask workers; `{primary}` written to {out}/, every "
          f"model to {every}/")
    if per_level is not None:
        _print_levels(per_level, out)
    return 0


def _print_levels(levels: LevelBacktest, out: Path) -> None:
    """The per-level summary and default method; every score to `<out>.levels.csv`."""
    print(f"\nper level (every method):\n{format_table(levels.summary)}")
    print(f"default --reconcile: {levels.winner}")
    scores = out.with_name(out.stem + ".levels.csv")
    levels.scores.to_csv(scores, index=False)
    print(f"per-level scores written to {scores}")


def run_forecast(args: argparse.Namespace, models: tuple[str, ...],
                 quantiles: tuple[float, ...]) -> int:
    """`channelcast forecast` on the cluster: forecasts written by the workers."""
    opened = _open(args)
    if opened is None:
        return 2
    store, engine = opened
    if getattr(args, "level", "") or getattr(args, "reconcile", ""):
        return _forecast_levels(args, store, engine, models, quantiles)
    start = time.perf_counter()
    with connect(engine.scheduler) as client:
        try:
            _, result = fit_forecaster_dask(
                client, store, horizon=args.horizon, models=models,
                calibration_windows=args.calibration_windows, assemble=False,
                forecast_out=Path(args.out), quantiles=quantiles, progress=not args.quiet)
        except ValueError as exc:
            print(f"cannot forecast {args.data}: {exc}")
            return 2
    print(f"forecasts of {result.summary.n_series:,} series x {args.horizon} periods from "
          f"{result.cutoffs[-1]:%Y-%m-%d} in {time.perf_counter() - start:.1f} s -> "
          f"{args.out}/part-*.parquet")
    return 0


def _forecast_levels(args: argparse.Namespace, store: Store, engine: EngineConfig,
                     models: tuple[str, ...], quantiles: tuple[float, ...]) -> int:
    """`forecast --level/--reconcile` on the cluster: every level fitted (`fit_levels_dask`),
    the series of `--level` (every series without it) written by the client to `--out`."""
    start = time.perf_counter()
    with connect(engine.scheduler) as client:
        try:
            forecaster = fit_levels_dask(client, store, horizon=args.horizon, models=models,
                                         calibration_windows=args.calibration_windows,
                                         method=args.reconcile or None,
                                         progress=not args.quiet)
        except ValueError as exc:
            print(f"cannot forecast {args.data}: {exc}")
            return 2
    hierarchy = forecaster.hierarchy
    assert hierarchy is not None
    series = hierarchy.keys.iloc[hierarchy.level_rows(args.level)] if args.level else None
    frame = forecaster.predict_levels(series, quantiles=quantiles,
                                      reconcile=args.reconcile or None)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".csv":
        frame.to_csv(out, index=False)
    else:
        frame.to_parquet(out, index=False)
    print(f"reconcile: {args.reconcile or forecaster.reconcile}; {len(frame):,} forecast rows "
          f"({len(frame) // args.horizon:,} series x {args.horizon} periods from "
          f"{forecaster.origin:%Y-%m-%d}) in {time.perf_counter() - start:.1f} s -> {out}")
    return 0
