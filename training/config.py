"""`TrainConfig`: what a backtest or a training run does, the one home of its defaults.

Entry points (`python -m training.<stage>`, MLproject, `channelcast train`) turn their
arguments into a `TrainConfig`; library code receives it and never reads arguments itself.
The config round-trips through JSON so that a registered model version can say exactly how
it was trained, and `promote` can backtest the champion's recipe on the challenger's windows.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from features.training_set import FeatureSpec
from models.lgbm import LGBMConfig
from models.zoo import MODEL_NAMES, check_models, primary_model
from training.backtest import BacktestConfig
from training.cluster import ENGINES, EngineConfig
from training.forecast import DEFAULT_MODELS

__all__ = ["FAST_LGBM", "TrainConfig", "add_engine_arguments", "add_partial_arguments",
           "add_train_arguments", "config_from_args", "rejects_file"]

#: LightGBM settings for demos and tests: small trees, few rounds, one thread (two threads
#: on a busy 2-core machine are many times slower than one).
FAST_LGBM = LGBMConfig(learning_rate=0.2, num_leaves=31, max_rounds=60,
                       early_stopping_rounds=10, history_periods=52, num_threads=1)


@dataclass(frozen=True)
class TrainConfig:
    """A backtest plus a final fit on all history.

    Attributes:
        data: validated data folder.
        freq: period grid (`W`, `W-MON`, `D`, `MS`...); None = inferred from the data.
        horizon: periods ahead.
        windows: scored backtest cutoffs.
        step: periods between cutoffs (None = the horizon).
        warmup: unscored windows before the scored ones; the final fit uses as many
            calibration windows for quantiles and the per-series choice of `auto`.
        models: models to backtest and fit; `auto` picks one per series.
        quantiles: quantiles scored in the backtest.
        lgbm: LightGBM settings.
        outside_span: how target periods outside a series' span are scored.
        engine: "local" or "dask" (`training.cluster`); scheduler: the Dask scheduler
            address or `local-cluster:N` (with "dask", `data` is a partitioned store).
        accept_partial: train on the accepted rows when validation refuses some rows of
            `data` (they are written to `rejects_file(data)`); False = refuse the folder.
    """

    data: Path
    freq: str | None = None
    horizon: int = 8
    windows: int = 4
    step: int | None = None
    warmup: int = 3
    models: tuple[str, ...] = DEFAULT_MODELS
    quantiles: tuple[float, ...] = (0.1, 0.5, 0.9)
    lgbm: LGBMConfig = field(default_factory=LGBMConfig)
    outside_span: str = "exclude"
    engine: str = "local"
    scheduler: str = ""
    accept_partial: bool = False

    @property
    def primary(self) -> str:
        """The model that is scored for promotion and served: `auto` when present."""
        return primary_model(self.models)

    def backtest_config(self) -> BacktestConfig:
        return BacktestConfig(horizon=self.horizon, windows=self.windows,
                              step=self.step or self.horizon, models=self.models,
                              quantiles=self.quantiles, warmup=self.warmup, lgbm=self.lgbm)

    def params(self, freq: str) -> dict[str, str]:
        """Flat parameters for MLflow: the config, the LightGBM knobs and the feature spec."""
        out = {k: _text(v) for k, v in asdict(self).items() if k != "lgbm"}
        out["freq"] = freq
        out["step"] = str(self.step or self.horizon)
        out["primary_model"] = self.primary
        out.update({f"lgbm.{k}": _text(v) for k, v in asdict(self.lgbm).items()})
        spec = FeatureSpec.for_freq(freq)
        out.update({f"features.{k}": _text(v) for k, v in asdict(spec).items()})
        return out

    def to_json(self) -> str:
        return json.dumps({**asdict(self), "data": str(self.data)}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> TrainConfig:
        raw: dict[str, Any] = json.loads(text)
        known = {f.name for f in fields(cls)}
        raw = {k: v for k, v in raw.items() if k in known}
        lgbm_known = {f.name for f in fields(LGBMConfig)}
        lgbm = LGBMConfig(**{k: v for k, v in raw.pop("lgbm", {}).items() if k in lgbm_known})
        return cls(**{**raw, "data": Path(raw["data"]), "models": tuple(raw["models"]),
                      "quantiles": tuple(raw["quantiles"]), "lgbm": lgbm})


def _text(value: object) -> str:
    if isinstance(value, tuple | list):
        return ",".join(str(v) for v in value)
    return str(value)


def add_train_arguments(p: argparse.ArgumentParser) -> None:
    """The typed arguments of `backtest` and `train` (MLproject passes them as flags)."""
    d = TrainConfig(data=Path("."))
    p.add_argument("--data", type=Path, required=True, help="validated data folder")
    p.add_argument("--freq", default=None, help="W, D, MS or W-MON... (default: inferred)")
    p.add_argument("--horizon", type=int, default=d.horizon, help="periods ahead")
    p.add_argument("--windows", type=int, default=d.windows, help="scored backtest cutoffs")
    p.add_argument("--step", type=int, default=0, help="periods between cutoffs (0 = horizon)")
    p.add_argument("--warmup", type=int, default=d.warmup,
                   help="unscored windows that calibrate quantiles and `auto`")
    p.add_argument("--models", default=",".join(d.models),
                   help=f"comma-separated, from {','.join(MODEL_NAMES)}")
    p.add_argument("--lgbm-rounds", type=int, default=d.lgbm.max_rounds,
                   help="LightGBM maximum boosting rounds")
    p.add_argument("--lgbm-leaves", type=int, default=d.lgbm.num_leaves, help="LightGBM leaves")
    p.add_argument("--lgbm-threads", type=int, default=d.lgbm.num_threads,
                   help="LightGBM threads (1 is fastest on a busy machine)")
    p.add_argument("--lgbm-preset", choices=("default", "fast"), default="default",
                   help="`fast`: small LightGBM for demos and tests (overrides --lgbm-*)")
    add_engine_arguments(p)
    add_partial_arguments(p)


def add_engine_arguments(p: argparse.ArgumentParser) -> None:
    """`--engine local|dask` and `--scheduler ADDRESS|local-cluster:N`."""
    p.add_argument("--engine", choices=ENGINES, default="local",
                   help="local (default) or dask; dask reads --data as a partitioned store "
                        "(channelcast ingest DIR --parquet-dir STORE)")
    p.add_argument("--scheduler", default="",
                   help="Dask scheduler address (tcp://host:8786) or local-cluster:N")


def add_partial_arguments(p: argparse.ArgumentParser) -> None:
    """`--accept-partial` and `--rejects FILE`, as `channelcast ingest` has them."""
    p.add_argument("--accept-partial", type=_flag, nargs="?", const=True, default=False,
                   metavar="true|false",
                   help="run on the accepted rows when some rows of --data are refused; the "
                        "refused rows are counted and written to --rejects")
    p.add_argument("--rejects", type=Path, default=None, metavar="FILE",
                   help="where --accept-partial writes the refused rows, each with its reasons "
                        "(default: rejects.csv in the data folder)")


def rejects_file(data: Path | str, rejects: Path | str | None = None) -> Path:
    """Where refused rows of the data folder `data` are written: `rejects`, else
    `data/rejects.csv`."""
    return Path(rejects) if rejects is not None else Path(data) / "rejects.csv"


def _flag(value: str) -> bool:
    text = value.strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no", ""):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false; got {value!r}")


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
                       accept_partial=bool(getattr(args, "accept_partial", False)))
