"""The models a backtest or a forecast can run, by name, behind one calling convention.

Local models map a demand panel `y` (series x periods, NaN = not observed) to a mean
forecast (series x horizon). The global LightGBM model needs the whole training set, so it
lives in `GlobalModel`, an estimator whose `fit` builds the set once and whose
`forecast` fits one booster per cutoff.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Self

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from features.config import FeatureSpec
from features.engineering.training_set import ORIGIN, build_training_set
from features.periods import period_offset
from features.schema import ITEM, NODE
from models.baselines import moving_average, naive, seasonal_naive
from models.intermittent import croston_sba, tsb
from models.lgbm import LGBMConfig, LGBMForecaster, StackedRows

__all__ = ["LOCAL_MODELS", "MODEL_NAMES", "GlobalModel", "check_models", "primary_model"]

log = logging.getLogger(__name__)
FloatArray = npt.NDArray[np.float64]
LocalModel = Callable[..., FloatArray]


def _ets(y: FloatArray, *, horizon: int, season: int) -> FloatArray:
    from models.ets import forecast_ets

    return np.clip(forecast_ets(y, horizon=horizon, season=season), 0.0, None)


LOCAL_MODELS: dict[str, LocalModel] = {
    "ets": _ets,
    "snaive": lambda y, *, horizon, season: seasonal_naive(y, horizon=horizon, season=season),
    "naive": lambda y, *, horizon, season: naive(y, horizon=horizon),  # noqa: ARG005
    "ma": lambda y, *, horizon, season: moving_average(y, horizon=horizon,  # noqa: ARG005
                                                      window=4),
    "croston": lambda y, *, horizon, season: croston_sba(y, horizon=horizon),  # noqa: ARG005
    "tsb": lambda y, *, horizon, season: tsb(y, horizon=horizon),  # noqa: ARG005
}
MODEL_NAMES = ("lgbm", *LOCAL_MODELS, "auto")


def check_models(models: Sequence[str]) -> tuple[str, ...]:
    """Validate model names; `auto` needs at least one other model."""
    names = tuple(dict.fromkeys(m.strip() for m in models if m.strip()))
    unknown = [m for m in names if m not in MODEL_NAMES]
    if unknown:
        raise ValueError(f"unknown model(s) {unknown} in `models`; choose from "
                         f"{', '.join(MODEL_NAMES)}.")
    if not names or names == ("auto",):
        raise ValueError("`models` must name at least one model besides `auto`.")
    return names


def primary_model(models: Sequence[str]) -> str:
    """The model whose forecasts are scored and used when none is named: `auto` when present,
    else the first of `models`."""
    return "auto" if "auto" in models else models[0]


class GlobalModel(BaseEstimator):  # type: ignore[misc]  # scikit-learn has no type hints
    """LightGBM over all series: `fit` builds the training set once, `forecast` fits a booster
    per cutoff (or every `refit_every` periods, the cutoffs in between forecasting with the
    last one from their own features: a model retrained quarterly and run weekly).

    The constructor only stores the hyper-parameters (scikit-learn's estimator contract:
    `get_params`, `set_params` and `clone` work). Rows of the forecast follow `fit`'s
    `panel_keys` (the backtest's series order); series without an origin row at the cutoff
    (not launched yet, or ended) take the `fallback` forecast.

    Fitted attributes: `training_set_`, `rows_` (the stacked training rows), `series_of_row_`
    (panel row of each training-set row, -1 if none), `origins_`, `n_series_` and
    `last_model_` (the booster of the latest `forecast`, None before it).

    Example:
        >>> model = GlobalModel(freq="W-MON", horizon=4, refit_every=4)
        >>> sorted(model.get_params())[:3]
        ['config', 'freq', 'horizon']
    """

    def __init__(self, *, freq: str, horizon: int, spec: FeatureSpec | None = None,
                 config: LGBMConfig | None = None, step_share: float = 0.125,
                 refit_every: int = 1) -> None:
        self.freq = freq
        self.horizon = horizon
        self.spec = spec
        self.config = config
        self.step_share = step_share
        self.refit_every = refit_every

    def fit(self, history: pd.DataFrame, *, panel_keys: pd.DataFrame,
            nodes: pd.DataFrame | None = None) -> Self:
        """Build the training set of `history` (and `nodes`' hierarchy) once; forecasts
        will have one row per row of `panel_keys` (node_id, sku)."""
        self.training_set_ = build_training_set(history, horizon=self.horizon, freq=self.freq,
                                                spec=self.spec, nodes=nodes)
        self.rows_ = StackedRows.from_training_set(self.training_set_,
                                                   step_share=self.step_share,
                                                   seed=self._config().seed)
        key_index = pd.MultiIndex.from_frame(panel_keys[[NODE, ITEM]].astype(str))
        ts_keys = pd.MultiIndex.from_frame(self.training_set_.keys[[NODE, ITEM]].astype(str))
        self.series_of_row_ = key_index.get_indexer(ts_keys)
        self.origins_ = self.training_set_.keys[ORIGIN].to_numpy()
        self.n_series_ = len(panel_keys)
        self.last_model_: LGBMForecaster | None = None
        return self

    def _config(self) -> LGBMConfig:
        return self.config or LGBMConfig()

    def forecast(self, cutoff: pd.Timestamp, *, fallback: FloatArray) -> FloatArray:
        """Forecast from origin `cutoff` (series x horizon) with a booster fitted on targets
        <= `cutoff`: a new one unless the last was fitted fewer than `refit_every` periods
        before `cutoff` (never one fitted after it: it would have seen the future)."""
        check_is_fitted(self, "training_set_")
        cut = pd.Timestamp(cutoff)
        model = self.last_model_
        period = period_offset(self.freq)
        if (model is None or model.cutoff_ > cut
                or cut >= model.cutoff_ + self.refit_every * period):
            start = time.perf_counter()
            model = LGBMForecaster(config=self._config()).fit(
                self.rows_, cutoff=cutoff, horizon=self.horizon, period=period)
            log.info("lgbm at cutoff %s: %d rounds in %.1f s",
                     f"{pd.Timestamp(cutoff):%Y-%m-%d}", model.best_rounds_,
                     time.perf_counter() - start)
        self.last_model_ = model
        rows = np.flatnonzero(self.origins_ == np.datetime64(pd.Timestamp(cutoff)))
        out = fallback.copy()
        series = self.series_of_row_[rows]
        known = series >= 0
        out[series[known]] = model.predict(self.training_set_, rows=rows[known])
        return out
