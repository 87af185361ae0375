"""Configuration and defaults of every stage: dataclasses and constants only.

The bottom configuration module: imports nothing of ours except features.schema and the
period arithmetic of features.periods, so every floor (features, models, training, serving,
channelcast) can read its defaults from here. Sections: forecasting, generator, features;
the training and allocation configurations follow.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from features.periods import MONTHLY, freq_base, season_length

__all__ = [
    "AllocationConfig",
    "DEFAULT_HORIZON",
    "DEFAULT_MODELS",
    "ENGINES",
    "FAST_LGBM",
    "DEFAULT_QUANTILES",
    "GENERATOR",
    "FeatureSpec",
    "BacktestConfig",
    "GeneratorConfig",
    "LGBMConfig",
    "TrainConfig",
]

# --- forecasting -------------------------------------------------------------------------

DEFAULT_QUANTILES: tuple[float, ...] = (0.1, 0.5, 0.9)
"""Quantiles forecast, backtested and served when a caller names none."""

DEFAULT_HORIZON = 8
"""Periods ahead forecast and backtested when a caller names none."""


# --- synthetic channel data --------------------------------------------------------------


@dataclass(frozen=True)
class GeneratorConfig:
    """Defaults of the synthetic channel data generator (CLI, MLproject, demo).

    Attributes:
        nodes: selling nodes (dealers, own stores, web shops).
        skus: items.
        periods: periods of history.
        freq: "W" (weekly, on the weekday of `start`) or "D" (daily).
        seed: seed of the random generator.
        start: ISO date of the first period (a Monday).
    """

    nodes: int = 24
    skus: int = 60
    periods: int = 156
    freq: str = "W"
    seed: int = 7
    start: str = "2023-01-02"


GENERATOR = GeneratorConfig()


# --- features ----------------------------------------------------------------------------


@dataclass(frozen=True)
class FeatureSpec:
    """Which features to build. Defaults depend on the frequency: see `for_freq`.

    Attributes:
        lags: lags of units at the origin (lag 1 = the origin period itself).
        windows: window lengths of rolling mean / std / zero share, all ending at lag 1.
        hierarchy_windows: window lengths of the parent, sku and node rolling means.
        price_window: periods of price history the target price is compared with.
        season: season length m, for `units_target_lag{m}`; None = from the frequency.
    """

    lags: tuple[int, ...] = (1, 2, 3, 4, 8, 13, 26, 52)
    windows: tuple[int, ...] = (4, 8, 13, 26, 52)
    hierarchy_windows: tuple[int, ...] = (4, 13)
    price_window: int = 13
    season: int | None = None

    @classmethod
    def for_freq(cls, freq: str) -> FeatureSpec:
        """Sensible lags and windows for weekly, daily or monthly data."""
        base = freq_base(freq)
        if base == "D":
            return cls(lags=(1, 2, 3, 4, 5, 6, 7, 14, 21, 28), windows=(7, 14, 28, 91),
                       hierarchy_windows=(7, 28), price_window=28, season=7)
        if base in MONTHLY:
            return cls(lags=(1, 2, 3, 6, 12), windows=(3, 6, 12), hierarchy_windows=(3, 12),
                       price_window=6, season=12)
        return cls(season=season_length(freq))

    def validate(self) -> None:
        """Raise ValueError naming the field if a lag, window or the price window is < 1."""
        for name in ("lags", "windows", "hierarchy_windows"):
            values = getattr(self, name)
            if not values or min(values) < 1:
                raise ValueError(f"`{name}` must be a non-empty tuple of integers >= 1; "
                                 f"got {values}.")
        if self.price_window < 1:
            raise ValueError(f"`price_window` must be >= 1; got {self.price_window}.")


# --- training ----------------------------------------------------------------------------

DEFAULT_MODELS: tuple[str, ...] = ("lgbm", "ets", "snaive", "croston", "tsb", "ma", "auto")
"""Models backtested, trained and served when a caller names none (in this order)."""

ENGINES: tuple[str, ...] = ("local", "dask")
"""Engines a stage runs on: this process (pandas and numpy), or a Dask cluster."""


@dataclass(frozen=True)
class LGBMConfig:
    """LightGBM knobs. Defaults were chosen on walmart_store_dept's earliest backtest windows.

    Attributes:
        objective: "tweedie" or "poisson" (count-like, non-negative targets).
        tweedie_variance_power: 1 = Poisson, 2 = Gamma.
        learning_rate, num_leaves, min_data_in_leaf, feature_fraction, lambda_l2: as LightGBM.
        max_rounds: upper bound on boosting rounds.
        early_stopping_rounds: patience on the validation periods.
        valid_periods: target periods held out for early stopping (None = the horizon).
        history_periods: only origins this many periods before the cutoff train (None = all).
        refit: refit on all rows with the best round count after early stopping.
        per_horizon: one booster per horizon step instead of one with the step as a feature.
        num_threads: LightGBM threads. 1 by default: on a 2-core machine shared with other
            work, 2 OpenMP threads measured up to 5x slower (spin-waiting), 1 never worse
            than 2x.
        seed: LightGBM seed (bagging, feature fraction).
    """

    objective: str = "tweedie"
    tweedie_variance_power: float = 1.2
    learning_rate: float = 0.15
    num_leaves: int = 63
    min_data_in_leaf: int = 100
    feature_fraction: float = 0.8
    lambda_l2: float = 1.0
    max_rounds: int = 300
    early_stopping_rounds: int = 40
    valid_periods: int | None = None
    history_periods: int | None = None
    refit: bool = False
    per_horizon: bool = False
    num_threads: int = 1
    seed: int = 0

    def params(self) -> dict[str, Any]:
        """LightGBM's parameter dict; raises ValueError naming a bad `objective`."""
        if self.objective not in ("tweedie", "poisson"):
            raise ValueError(f"`objective` must be 'tweedie' or 'poisson'; got {self.objective!r}.")
        out: dict[str, Any] = {
            "objective": self.objective, "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves, "min_data_in_leaf": self.min_data_in_leaf,
            "feature_fraction": self.feature_fraction, "lambda_l2": self.lambda_l2,
            "bagging_fraction": 0.8, "bagging_freq": 1, "num_threads": self.num_threads,
            "seed": self.seed, "verbosity": -1, "max_bin": 255,
        }
        if self.objective == "tweedie":
            out["tweedie_variance_power"] = self.tweedie_variance_power
        return out


#: LightGBM settings for demos and tests: small trees, few rounds, one thread (two threads
#: on a busy 2-core machine are many times slower than one).
FAST_LGBM = LGBMConfig(learning_rate=0.2, num_leaves=31, max_rounds=60,
                       early_stopping_rounds=10, history_periods=52, num_threads=1)


@dataclass(frozen=True)
class BacktestConfig:
    """What to backtest. `models` may hold lgbm, ets, snaive, naive, ma, croston, tsb, auto.

    `lgbm_refit_every`: LightGBM is refitted at a cutoff when at least this many periods
    have passed since its last fit; the cutoffs in between forecast with the last booster
    from their own, up-to-date features (a model retrained every quarter and run every
    week). 1 = a fit at every cutoff.
    """

    horizon: int = DEFAULT_HORIZON
    windows: int = 4
    step: int = DEFAULT_HORIZON
    models: tuple[str, ...] = DEFAULT_MODELS
    quantiles: tuple[float, ...] = DEFAULT_QUANTILES
    warmup: int = 3
    season: int | None = None
    spec: FeatureSpec | None = None
    lgbm: LGBMConfig | None = None
    lgbm_refit_every: int = 1


@dataclass(frozen=True)
class TrainConfig:
    """A backtest plus a final fit on all history: what a backtest or training run does.

    Entry points (the `channelcast` CLI, MLproject) turn their arguments into a
    `TrainConfig`; library code receives it and never reads arguments itself. The config
    round-trips through JSON so that a registered model version can say exactly how it was
    trained, and `promote` can backtest the champion's recipe on the challenger's windows.

    Attributes:
        data: validated data folder.
        freq: period grid (`W`, `W-MON`, `D`, `MS`...); None = inferred from the data.
        horizon: periods ahead.
        windows: scored backtest cutoffs.
        step: periods between cutoffs (None = the horizon).
        warmup: unscored windows before the scored ones; the final fit uses as many
            calibration windows for quantiles and the combination weights of `auto`.
        models: models to backtest and fit, in the caller's order; `auto` combines them
            (weights per demand class); the served and scored one is
            `models.zoo.primary_model(models)`.
        quantiles: quantiles scored in the backtest.
        lgbm: LightGBM settings.
        outside_span: how target periods outside a series' span are scored.
        engine: "local" or "dask" (`ENGINES`); scheduler: the Dask scheduler address or
            `local-cluster:N` (with "dask", `data` is a partitioned store).
        accept_partial: train on the accepted rows when validation refuses some rows of
            `data` (they are written to a rejects file); False = refuse the folder.
        levels: also forecast, score and serve every aggregate series of the channel tree
            (parents, channels, total x skus, groups, all skus; issue 23).
        reconcile: the served model's default reconciliation method for them; "" = the
            coherent method that wins the per-level backtest.
    """

    data: Path
    freq: str | None = None
    horizon: int = DEFAULT_HORIZON
    windows: int = 4
    step: int | None = None
    warmup: int = 3
    models: tuple[str, ...] = DEFAULT_MODELS
    quantiles: tuple[float, ...] = DEFAULT_QUANTILES
    lgbm: LGBMConfig = field(default_factory=LGBMConfig)
    outside_span: str = "exclude"
    engine: str = "local"
    scheduler: str = ""
    accept_partial: bool = False
    levels: bool = True
    reconcile: str = ""

    def backtest_config(self) -> BacktestConfig:
        """The backtest this run does."""
        return BacktestConfig(horizon=self.horizon, windows=self.windows,
                              step=self.step or self.horizon, models=self.models,
                              quantiles=self.quantiles, warmup=self.warmup, lgbm=self.lgbm)

    def to_json(self) -> str:
        """The config as JSON (a registered version's `train_config` tag)."""
        return json.dumps({**asdict(self), "data": str(self.data)}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> TrainConfig:
        """The config of `to_json`; unknown keys (from other versions) are ignored."""
        raw: dict[str, Any] = json.loads(text)
        known = {f.name for f in fields(cls)}
        raw = {k: v for k, v in raw.items() if k in known}
        lgbm_known = {f.name for f in fields(LGBMConfig)}
        lgbm = LGBMConfig(**{k: v for k, v in raw.pop("lgbm", {}).items() if k in lgbm_known})
        return cls(**{**raw, "data": Path(raw["data"]), "models": tuple(raw["models"]),
                      "quantiles": tuple(raw["quantiles"]), "lgbm": lgbm})


# --- allocation --------------------------------------------------------------------------


@dataclass(frozen=True)
class AllocationConfig:
    """How channelcast values stock.

    Attributes:
        target_service: P(no stock-out over the protection interval) a tier is brought to
            before the next tier gets anything; one value or one per priority.
        min_sell_through: a pack is shipped only if it is expected to sell at least this
            share of its units over the interval (0 ships every pack that can sell at all;
            higher keeps stock central, where it can still go anywhere next review).
        priority_weights: value of an expected unit sold per priority (default 1 / priority).
    """

    target_service: float | Mapping[int, float] = 0.9
    min_sell_through: float = 0.0
    priority_weights: Mapping[int, float] | None = None

    def check(self) -> None:
        """Raise ValueError naming the field that is out of range."""
        levels = (self.target_service.values() if isinstance(self.target_service, Mapping)
                  else [self.target_service])
        if not all(0.0 < float(a) < 1.0 for a in levels):
            raise ValueError(f"`target_service` must be in (0, 1); got {self.target_service}.")
        if not 0.0 <= self.min_sell_through < 1.0:
            raise ValueError("`min_sell_through` must be in [0, 1); got "
                             f"{self.min_sell_through}.")
        if self.priority_weights and min(self.priority_weights.values()) <= 0:
            raise ValueError("`priority_weights` must all be > 0; got "
                             f"{dict(self.priority_weights)}.")
