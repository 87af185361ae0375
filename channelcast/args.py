"""Arguments shared by the sub-commands, and their translation into configurations.

Every parser of the project lives in `channelcast` (MLproject entry points call
`python -m channelcast <stage>`); library code receives configurations, never arguments.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import pandas as pd

from channelcast.quiet import add_quiet_argument
from features.config import ENGINES, FAST_LGBM, LGBMConfig, TrainConfig
from features.contract.report import ValidationReport
from features.contract.validation import load_validated, refused_note
from models.hierarchy import METHODS
from models.zoo import MODEL_NAMES, check_models
from training.dask.cluster import EngineConfig
from training.engine.loading import rejects_file

__all__ = ["add_engine_arguments", "add_level_arguments", "add_partial_arguments",
           "add_quiet_argument", "add_train_arguments", "config_from_args", "flag",
           "load_folder", "write_table"]


def flag(value: str) -> bool:
    """An argument that is `true` or `false` (MLproject passes booleans as text)."""
    text = value.strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no", ""):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false; got {value!r}")


def add_train_arguments(p: argparse.ArgumentParser, *, data_required: bool = True) -> None:
    """The typed arguments of `backtest` and `train` (MLproject passes them as flags)."""
    d = TrainConfig(data=Path("."))
    p.add_argument("--data", type=Path, required=data_required, help="validated data folder")
    p.add_argument("--freq", default=None, help="W, D, MS or W-MON... (default: inferred)")
    p.add_argument("--horizon", type=int, default=d.horizon,
                   help=f"periods ahead (default {d.horizon})")
    p.add_argument("--windows", type=int, default=d.windows,
                   help=f"scored backtest cutoffs (default {d.windows})")
    p.add_argument("--step", type=int, default=0, help="periods between cutoffs (0 = horizon)")
    p.add_argument("--warmup", type=int, default=d.warmup,
                   help=f"unscored windows that calibrate quantiles and `auto` "
                        f"(default {d.warmup})")
    p.add_argument("--models", default=",".join(d.models),
                   help=f"comma-separated, from {','.join(MODEL_NAMES)}; the first (or "
                        "`auto` when listed) is the one scored for promotion and served")
    p.add_argument("--lgbm-rounds", type=int, default=d.lgbm.max_rounds,
                   help="LightGBM maximum boosting rounds")
    p.add_argument("--lgbm-leaves", type=int, default=d.lgbm.num_leaves, help="LightGBM leaves")
    p.add_argument("--lgbm-threads", type=int, default=d.lgbm.num_threads,
                   help="LightGBM threads (1 is fastest on a busy machine)")
    p.add_argument("--lgbm-preset", choices=("default", "fast"), default="default",
                   help="`fast`: small LightGBM for demos and tests (overrides --lgbm-*)")
    add_engine_arguments(p)
    add_partial_arguments(p)
    add_level_arguments(p)
    p.add_argument("--levels", type=flag, nargs="?", const=True, default=True,
                   metavar="true|false",
                   help="also forecast and score every aggregate series of the channel tree "
                        "(parents, channels, total x skus, items.csv groups, all skus); "
                        "default true")


def add_level_arguments(p: argparse.ArgumentParser) -> None:
    """`--reconcile METHOD`: how aggregate series are reconciled ("" = the backtest winner)."""
    p.add_argument("--reconcile", choices=("", *METHODS), default="",
                   help="reconciliation of the levels: " + "|".join(METHODS) + " (default: "
                        "the coherent method that wins the per-level backtest)")


def add_engine_arguments(p: argparse.ArgumentParser) -> None:
    """`--engine local|dask` and `--scheduler ADDRESS|local-cluster:N`."""
    p.add_argument("--engine", choices=ENGINES, default="local",
                   help="local (default) or dask; dask reads --data as a partitioned store "
                        "(channelcast ingest DIR --parquet-dir STORE)")
    p.add_argument("--scheduler", default="",
                   help="Dask scheduler address (tcp://host:8786) or local-cluster:N")


def add_partial_arguments(p: argparse.ArgumentParser) -> None:
    """`--accept-partial` and `--rejects FILE`, as `channelcast ingest` has them."""
    p.add_argument("--accept-partial", type=flag, nargs="?", const=True, default=False,
                   metavar="true|false",
                   help="run on the accepted rows when some rows of --data are refused; the "
                        "refused rows are counted and written to --rejects")
    p.add_argument("--rejects", type=Path, default=None, metavar="FILE",
                   help="where --accept-partial writes the refused rows, each with its reasons "
                        "(default: rejects.csv in the data folder)")


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """Build the config from parsed arguments; raises ValueError naming a bad flag."""
    models = check_models(args.models.split(","))
    for name in ("horizon", "windows", "warmup"):
        if getattr(args, name) < 1:
            raise ValueError(f"`--{name}` must be >= 1; got {getattr(args, name)}.")
    lgbm = FAST_LGBM if args.lgbm_preset == "fast" else replace(
        LGBMConfig(), max_rounds=args.lgbm_rounds, num_leaves=args.lgbm_leaves,
        num_threads=args.lgbm_threads)
    engine = EngineConfig(args.engine, args.scheduler or "").validate()
    return TrainConfig(data=args.data, freq=args.freq or None, horizon=args.horizon,
                       windows=args.windows, step=args.step or None, warmup=args.warmup,
                       models=models, lgbm=lgbm, engine=engine.engine,
                       scheduler=engine.scheduler,
                       accept_partial=bool(getattr(args, "accept_partial", False)),
                       levels=bool(getattr(args, "levels", True)),
                       reconcile=getattr(args, "reconcile", "") or "")


def load_folder(path: Path, args: argparse.Namespace, *, freq: str | None = None
                ) -> ValidationReport:
    """`path` validated with `--accept-partial`/`--rejects` (`add_partial_arguments`); prints
    how many rows were left out and where they went."""
    rejects = rejects_file(path, args.rejects)
    report = load_validated(path, freq=freq, accept_partial=args.accept_partial,
                            rejects=rejects)
    note = refused_note(report, rejects)
    if note:
        print(note)
    return report


def write_table(table: pd.DataFrame, out: Path | None) -> None:
    """Write a command's full table to `out` as CSV (nothing when None) and say where."""
    if out is None:
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(out, index=False)
    print(f"full table ({len(table)} rows, {table.shape[1]} columns) written to {out}")
