"""`channelcast demo`: the main job end to end on generated data, with a readable summary.

Today: generate -> validate -> build the training set. Later stages (train, forecast,
allocate, serve) are added here as they land.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from channelcast.cmd_features import summarise_training_set
from features.synthetic import generate_channel_data, write_channel_data
from features.training_set import build_training_set
from features.validation import validate_folder

__all__ = ["add_parser"]


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("demo", help="run the whole job on generated data and summarise it")
    p.add_argument("--out", type=Path, default=Path("demo_data"), help="folder for the data")
    p.add_argument("--nodes", type=int, default=24, help="selling nodes (default 24)")
    p.add_argument("--skus", type=int, default=60, help="items (default 60)")
    p.add_argument("--periods", type=int, default=156, help="weeks of history (default 156)")
    p.add_argument("--horizon", type=int, default=8, help="weeks ahead (default 8)")
    p.add_argument("--seed", type=int, default=7)
    p.set_defaults(handler=_run)


def _step(n: int, title: str) -> None:
    print(f"\n[{n}] {title}\n" + "-" * (len(title) + 4))


def _run(args: argparse.Namespace) -> int:
    _step(1, "generate channel data")
    start = time.perf_counter()
    data = generate_channel_data(nodes=args.nodes, skus=args.skus, periods=args.periods,
                                 freq="W", seed=args.seed)
    paths = write_channel_data(data, args.out, fmt="csv")
    sell = data.sell_through
    print(f"{len(sell):,} rows, {sell.groupby(['node_id', 'sku']).ngroups:,} series, "
          f"{len(data.nodes)} nodes, written to {args.out} in {time.perf_counter() - start:.1f} s:")
    for path in paths:
        print(f"  {path}")

    _step(2, "validate the data contract")
    report = validate_folder(args.out)
    print(report.format(max_print=20))
    if not report.ok:
        print("the generated data did not validate: this is a bug, please report it")
        return 1

    _step(3, "build the training set")
    start = time.perf_counter()
    ts = build_training_set(report.tables["sell_through"], horizon=args.horizon,
                            freq=report.freq, nodes=report.tables["nodes"])
    print(summarise_training_set(ts, time.perf_counter() - start))
    print("\nnext: `channelcast features --data "
          f"{args.out} --out train.parquet` writes the long training set.")
    return 0
