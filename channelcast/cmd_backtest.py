"""`channelcast backtest` and `channelcast forecast`: rolling-origin evaluation and forecasts."""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from channelcast import cmd_dask
from features.errors import DataContractError
from features.partitioned import is_store, open_store
from features.validation import load_validated, refused_note
from models.zoo import MODEL_NAMES, check_models
from training.backtest import MODEL, BacktestConfig, run_backtest
from training.config import add_engine_arguments, add_partial_arguments, rejects_file
from training.forecast import DEFAULT_MODELS, UnknownSeriesError, fit_forecaster
from training.metrics import evaluate, format_table

__all__ = ["add_parser"]


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register `backtest` and `forecast`."""
    b = sub.add_parser("backtest", help="rolling-origin backtest of every model, with metrics")
    _common(b)
    b.add_argument("--windows", type=int, default=4, help="scored cutoffs (default 4)")
    b.add_argument("--step", type=int, default=None, help="periods between cutoffs "
                   "(default: the horizon)")
    b.add_argument("--warmup", type=int, default=3, help="earlier unscored windows that "
                   "calibrate quantiles and the choice of `auto` (default 3)")
    b.add_argument("--by", default="", help="also break metrics down by: step, series_class")
    b.add_argument("--outside-span", choices=("exclude", "zero"), default="exclude",
                   help="score target periods outside a series' span as 0 units, or not at "
                        "all (default exclude)")
    b.set_defaults(handler=_run_backtest)
    f = sub.add_parser("forecast", help="fit on all history and forecast every series")
    _common(f)
    f.add_argument("--calibration-windows", type=int, default=3, help="recent windows used "
                   "for quantiles and model choice (default 3)")
    f.set_defaults(handler=_run_forecast)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", type=Path, required=True, help="validated data folder")
    p.add_argument("--freq", default=None, help="W, D, M or W-MON... (default: inferred)")
    p.add_argument("--horizon", type=int, default=8, help="periods ahead (default 8)")
    p.add_argument("--models", default=",".join(DEFAULT_MODELS),
                   help=f"comma-separated, from {','.join(MODEL_NAMES)}")
    p.add_argument("--quantiles", default="0.1,0.5,0.9", help="default 0.1,0.5,0.9")
    p.add_argument("--out", type=Path, required=True, help="predictions file (.parquet/.csv)")
    add_engine_arguments(p)
    add_partial_arguments(p)


def _load(args: argparse.Namespace) -> tuple[pd.DataFrame, pd.DataFrame, str] | None:
    if is_store(args.data):  # a partitioned store, read whole by the local engine
        store = open_store(args.data)
        return store.load_history(), store.nodes(), store.freq
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
    return report.tables["sell_through"], report.tables["nodes"], str(report.freq)


def _parse(args: argparse.Namespace) -> tuple[tuple[str, ...], tuple[float, ...]]:
    models = check_models(args.models.split(","))
    try:
        quantiles = tuple(sorted({float(q) for q in args.quantiles.split(",") if q.strip()}))
    except ValueError as exc:
        raise ValueError(f"`--quantiles` must be numbers in (0, 1), e.g. 0.1,0.5,0.9; "
                         f"got {args.quantiles!r}.") from exc
    if not quantiles or not all(0 < q < 1 for q in quantiles):
        raise ValueError(f"`--quantiles` must be numbers in (0, 1); got {args.quantiles!r}.")
    return models, tuple(sorted({*quantiles, 0.1, 0.5, 0.9}))


def _write(frame: pd.DataFrame, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".csv":
        frame.to_csv(out, index=False)
    else:
        frame.to_parquet(out, index=False)


def _primary(models: tuple[str, ...]) -> str:
    return "auto" if "auto" in models else models[0]


def _inputs(args: argparse.Namespace
            ) -> tuple[tuple[str, ...], tuple[float, ...], pd.DataFrame, pd.DataFrame, str] | None:
    """Models, quantiles and the validated data of `args`; None (message printed) if bad."""
    try:
        models, quantiles = _parse(args)
    except ValueError as exc:
        print(exc)
        return None
    loaded = _load(args)
    return None if loaded is None else (models, quantiles, *loaded)


def _run_backtest(args: argparse.Namespace) -> int:
    if args.engine == "dask":
        return _on_dask(args, cmd_dask.run_backtest)
    inputs = _inputs(args)
    if inputs is None:
        return 2
    models, quantiles, history, nodes, freq = inputs
    config = BacktestConfig(horizon=args.horizon, windows=args.windows,
                            step=args.step or args.horizon, models=models,
                            quantiles=quantiles, warmup=args.warmup)
    start = time.perf_counter()
    try:
        result = run_backtest(history, freq=freq, config=config, nodes=nodes,
                              progress=not args.quiet)
    except ValueError as exc:
        print(f"cannot backtest {args.data}: {exc}")
        return 2
    wall = time.perf_counter() - start
    primary = _primary(models)
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
    return 0


def _on_dask(args: argparse.Namespace, run: Callable[..., int]) -> int:
    try:
        models, quantiles = _parse(args)
    except ValueError as exc:
        print(exc)
        return 2
    return run(args, models, quantiles)


def _run_forecast(args: argparse.Namespace) -> int:
    if args.engine == "dask":
        return _on_dask(args, cmd_dask.run_forecast)
    inputs = _inputs(args)
    if inputs is None:
        return 2
    models, quantiles, history, nodes, freq = inputs
    start = time.perf_counter()
    try:
        forecaster = fit_forecaster(history, freq=freq, horizon=args.horizon, nodes=nodes,
                                    models=models,
                                    calibration_windows=args.calibration_windows,
                                    progress=not args.quiet)
        frame = forecaster.predict(quantiles=quantiles, model=_primary(models))
    except (ValueError, UnknownSeriesError) as exc:
        print(f"cannot forecast {args.data}: {exc}")
        return 2
    _write(frame, args.out)
    n_series = len(forecaster.keys)
    print(f"{len(frame):,} forecast rows ({n_series:,} series x {args.horizon} periods from "
          f"{forecaster.origin:%Y-%m-%d}) in {time.perf_counter() - start:.1f} s -> {args.out}")
    print(frame.head(args.horizon).to_string(index=False))
    return 0
