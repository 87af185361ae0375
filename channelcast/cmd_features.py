"""`channelcast features`: build the training set from a data folder; `convert`: map a public
dataset to the contract."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

from features.config import DEFAULT_HORIZON
from features.contract.datasets import DATASETS
from features.contract.validation import load_validated
from features.engineering.training_set import TrainingSet, build_training_set

__all__ = ["add_parser", "summarise_training_set"]


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("features", help="build the direct multi-horizon training set")
    p.add_argument("--data", type=Path, required=True, help="contract data folder")
    p.add_argument("--horizon", type=int, default=DEFAULT_HORIZON,
                   help=f"periods ahead (default {DEFAULT_HORIZON})")
    p.add_argument("--freq", default=None, help="W, D or M (default: inferred)")
    p.add_argument("--cutoff", default=None, help="last date the features may see")
    p.add_argument("--out", type=Path, default=None,
                   help="write the long training set (one row per target) to this parquet file")
    p.set_defaults(handler=_run_features)

    c = sub.add_parser("convert", help="map a public dataset (walmart, carparts) to the contract")
    c.add_argument("dataset", choices=sorted(DATASETS))
    c.add_argument("--src", type=Path, required=True, help="the dataset's folder")
    c.add_argument("--out", type=Path, required=True, help="contract folder to write")
    c.set_defaults(handler=_run_convert)


def summarise_training_set(ts: TrainingSet, seconds: float) -> str:
    """A readable summary: shape, coverage, censoring and a sample of feature rows."""
    observed = np.isfinite(ts.targets)
    lines = [
        f"training set: {len(ts):,} series x origin rows, {ts.features.shape[1]} origin features"
        f" + {len(ts.known.names)} target-dated features x {ts.horizon} horizon steps "
        f"({seconds:.1f} s)",
        f"  series {ts.keys[['node_id', 'sku']].drop_duplicates().shape[0]:,}, origins "
        f"{ts.keys['origin'].min().date()} .. {ts.keys['origin'].max().date()} ({ts.freq})",
        f"  targets observed {observed.sum():,} of {observed.size:,}; censored (stock-out) "
        f"targets {int(ts.censored.sum()):,} ({ts.censored.sum() / max(observed.sum(), 1):.1%})"
        " are kept out of the loss",
    ]
    sample_cols = ["node_id", "sku", "units_lag1", "units_rollmean_lag1_w4",
                   "units_zeroshare_lag1_w13", "periods_since_sale_lag1",
                   "sku_units_rollmean_lag1_w4", "censored_lag1"]
    cols = [c for c in sample_cols if c in ts.features]
    sample = pd.concat([ts.keys[["origin"]], ts.features[cols]], axis=1)
    sample["target_h1"] = ts.targets[:, 0]
    rows = sample.sample(n=min(5, len(sample)), random_state=0).sort_index()
    with pd.option_context("display.width", 160, "display.max_columns", 20):
        lines.append(rows.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    return "\n".join(lines)


def _run_features(args: argparse.Namespace) -> int:
    try:
        report = load_validated(args.data, freq=args.freq)
    except (ValueError, FileNotFoundError) as exc:
        print(exc)
        return 2
    if report.freq is None:  # no date read: load_validated refuses such a folder already
        print(f"{args.data}: no date in sell_through could be read, so its frequency is "
              "unknown; run `channelcast validate` on it")
        return 2
    start = time.perf_counter()
    try:
        ts = build_training_set(report.tables["sell_through"], horizon=args.horizon,
                                freq=report.freq, nodes=report.tables["nodes"],
                                cutoff=args.cutoff)
    except ValueError as exc:
        print(f"cannot build the training set: {exc}")
        return 2
    print(summarise_training_set(ts, time.perf_counter() - start))
    if args.out is not None:
        X, y, censored, keys = ts.stack()
        frame = pd.concat([keys.reset_index(drop=True), X.reset_index(drop=True)], axis=1)
        frame = frame.loc[:, ~frame.columns.duplicated()]
        frame["target"] = y
        frame["censored_target"] = censored
        args.out.parent.mkdir(parents=True, exist_ok=True)
        frame.to_parquet(args.out, index=False)
        print(f"wrote {len(frame):,} rows to {args.out}")
    return 0


def _run_convert(args: argparse.Namespace) -> int:
    try:
        data = DATASETS[args.dataset](args.src)
    except FileNotFoundError as exc:
        print(exc)
        return 2
    paths = data.write(args.out)
    changes = ", ".join(f"{k} {v:,}" for k, v in data.changes.items())
    print(f"{args.dataset}: wrote {', '.join(str(p) for p in paths)} (freq {data.freq}; {changes})")
    return 0
