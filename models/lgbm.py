"""One global LightGBM model over every series, direct multi-horizon with the step as a feature.

Rows are series x origin x horizon step from `features.TrainingSet.stack`. A row may train a
model fitted at `cutoff` only if its target period is <= cutoff: features only look back from
the origin (tested in features), so this one rule keeps every fit leak-free, and one training
set built on the whole history serves every backtest cutoff.

Stock-out targets (censored) are dropped from the loss: their units are a floor on demand,
not demand. Early stopping watches the last `valid_periods` target periods before the cutoff;
the model is then refitted on every row with the number of rounds found.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Self

import lightgbm as lgb
import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from features.config import LGBMConfig
from features.engineering.training_set import ORIGIN, TrainingSet
from features.periods import period_offset

__all__ = ["LGBMConfig", "LGBMForecaster", "StackedRows", "stacked_features", "step_features"]

FloatArray32 = npt.NDArray[np.float32]


@dataclass
class StackedRows:
    """Every observed, uncensored target row of a training set, stacked over horizon steps.

    Built once; each fit takes the rows whose target period is <= its cutoff.
    """

    X: pd.DataFrame
    y: npt.NDArray[np.float32]
    origin: npt.NDArray[np.datetime64]
    date: npt.NDArray[np.datetime64]
    feature_names: list[str] = field(default_factory=list)

    @classmethod
    def from_training_set(cls, ts: TrainingSet, *, step_share: float = 1.0,
                          seed: int = 0) -> StackedRows:
        """Stack `ts`; keep each (origin, step) row with probability `step_share`.

        Neighbouring origins repeat almost the same features, so a share of the steps per
        origin loses little signal and cuts training time in proportion (BENCHMARKS.md).
        The rows and their order are those of `ts.stack()` filtered, but only the kept rows
        are ever built, straight into one float32 block (not every step's full frame).
        """
        if not 0.0 < step_share <= 1.0:
            raise ValueError(f"`step_share` must be in (0, 1]; got {step_share}.")
        rng = np.random.default_rng(seed)
        picks = []
        for k in range(1, ts.horizon + 1):  # the same draws, in the same order, as one call
            observed = np.flatnonzero(~np.isnan(ts.targets[:, k - 1]))
            keep = ~ts.censored[observed, k - 1]
            if step_share < 1.0:
                keep &= rng.random(len(observed)) < step_share
            picks.append(observed[keep])
        origin = ts.keys[ORIGIN]
        step = period_offset(ts.freq)
        dates = [(origin.iloc[rows] + k * step).to_numpy() for k, rows in enumerate(picks, 1)]
        X = stacked_features(ts, picks)
        return cls(X=X, y=np.concatenate([ts.targets[r, k] for k, r in enumerate(picks)]),
                   origin=np.concatenate([origin.to_numpy()[r] for r in picks]),
                   date=np.concatenate(dates), feature_names=list(X.columns))


def step_features(ts: TrainingSet, k: int, rows: npt.NDArray[np.intp]) -> dict[str, FloatArray32]:
    """Known-in-advance feature columns (`<name>_target`, `horizon`) of step `k` for `rows`."""
    s, t = ts.known.rows
    known = replace(ts.known, rows=(s[rows], t[rows]), price_ref=ts.known.price_ref[rows])
    out = {f"{name}_target": values for name, values in known.at(k).items()}
    out["horizon"] = np.full(len(rows), k, dtype=np.float32)
    return out


def stacked_features(ts: TrainingSet, picks: Sequence[npt.NDArray[np.intp]]) -> pd.DataFrame:
    """Features of the rows `picks[k - 1]` at step k, steps stacked in order, columns in
    `ts.feature_names` order: numbers in one float32 block, categoricals as categoricals."""
    names = ts.feature_names
    cats = [c for c in ts.features.columns
            if isinstance(ts.features[c].dtype, pd.CategoricalDtype)]
    dense = [c for c in names if c not in cats]
    where = {c: j for j, c in enumerate(dense)}
    block = np.empty((sum(len(r) for r in picks), len(dense)), dtype=np.float32, order="F")
    start = 0
    for k, rows in enumerate(picks, 1):
        stop = start + len(rows)
        for c in ts.features.columns:
            if c not in cats:
                block[start:stop, where[c]] = ts.features[c].to_numpy()[rows]
        for c, values in step_features(ts, k, rows).items():
            block[start:stop, where[c]] = values
        start = stop
    frame = pd.DataFrame(block, columns=dense, copy=False)
    for c in cats:
        codes = np.concatenate([ts.features[c].cat.codes.to_numpy()[r] for r in picks])
        frame.insert(names.index(c), c,
                     pd.Categorical.from_codes(codes, dtype=ts.features[c].dtype))
    return frame


class LGBMForecaster(BaseEstimator):  # type: ignore[misc]  # scikit-learn has no type hints
    """Global LightGBM over all series; `fit` on a cutoff, `predict` the origin at that cutoff.

    Fitted attributes: `booster_`, `best_rounds_`, `cutoff_`, `feature_names_`.
    """

    def __init__(self, *, config: LGBMConfig | None = None) -> None:
        self.config = config

    def fit(self, rows: StackedRows, *, cutoff: pd.Timestamp, horizon: int,
            period: pd.DateOffset) -> Self:
        """Train on rows whose target period is <= `cutoff`."""
        cfg = self.config or LGBMConfig()
        cut = np.datetime64(pd.Timestamp(cutoff))
        usable = rows.date <= cut
        if cfg.history_periods is not None:
            first = pd.Timestamp(cutoff) - cfg.history_periods * period
            usable &= rows.origin > np.datetime64(first)
        if not usable.any():
            raise ValueError(f"no observed target on or before cutoff {cutoff:%Y-%m-%d}: "
                             "the history is too short to train LightGBM.")
        valid_from = pd.Timestamp(cutoff) - (cfg.valid_periods or horizon) * period
        is_valid = usable & (rows.date > np.datetime64(valid_from))
        if cfg.per_horizon:
            step = rows.X["horizon"].to_numpy()
            fits = {k: _train(cfg, rows, usable & (step == k), is_valid)
                    for k in range(1, horizon + 1) if (usable & (step == k)).any()}
            self.boosters_ = {k: b for k, (b, _) in fits.items()}
            booster, rounds = fits[max(fits)][0], int(np.mean([r for _, r in fits.values()]))
        else:
            booster, rounds = _train(cfg, rows, usable, is_valid)
        self.booster_ = booster
        self.best_rounds_ = rounds
        self.cutoff_ = pd.Timestamp(cutoff)
        self.feature_names_ = rows.feature_names
        return self

    def _booster(self, k: int) -> lgb.Booster:
        boosters: dict[int, lgb.Booster] | None = getattr(self, "boosters_", None)
        if boosters:
            return boosters.get(k, boosters[max(boosters)])
        return self.booster_

    def predict(self, ts: TrainingSet, *, rows: npt.NDArray[np.intp]) -> npt.NDArray[np.float64]:
        """Mean forecast (len(rows) x horizon) for the training-set rows `rows` (origins)."""
        check_is_fitted(self, "booster_",
                        msg="This LGBMForecaster is not fitted yet; call `fit` first.")
        out = np.empty((len(rows), ts.horizon))
        base = ts.features.iloc[rows].reset_index(drop=True)
        for k in range(1, ts.horizon + 1):
            X = base.copy()
            for name, values in step_features(ts, k, rows).items():
                X[name] = values
            out[:, k - 1] = self._booster(k).predict(
                X[self.feature_names_], num_threads=(self.config or LGBMConfig()).num_threads)
        return np.clip(out, 0.0, None)

    def feature_importance(self) -> pd.Series:
        """Total gain per feature, largest first."""
        gain = self.booster_.feature_importance(importance_type="gain")
        return pd.Series(gain, index=self.booster_.feature_name()).sort_values(ascending=False)


def _train(cfg: LGBMConfig, rows: StackedRows, usable: npt.NDArray[np.bool_],
           is_valid: npt.NDArray[np.bool_]) -> tuple[lgb.Booster, int]:
    """Early-stop on the `is_valid` rows, then (optionally) refit on every usable row."""
    is_valid = usable & is_valid
    is_train = usable & ~is_valid
    params = cfg.params()
    rounds, booster = cfg.max_rounds, None
    if is_train.sum() > 1000 and is_valid.sum() > 100:
        train = _dataset(rows, is_train)
        valid = lgb.Dataset(_matrix(rows.X, is_valid), rows.y[is_valid], reference=train)
        stop = lgb.early_stopping(cfg.early_stopping_rounds, verbose=False)
        booster = lgb.train(params, train, num_boost_round=cfg.max_rounds,
                            valid_sets=[valid], callbacks=[stop])
        rounds = max(int(booster.best_iteration or cfg.max_rounds), 10)
    if cfg.refit or booster is None:
        booster = lgb.train(params, _dataset(rows, usable), num_boost_round=rounds)
    return booster, rounds


def _dataset(rows: StackedRows, mask: npt.NDArray[np.bool_]) -> lgb.Dataset:
    """A LightGBM dataset of the rows `mask`, built from one matrix (`_matrix`) instead of a
    frame copy that LightGBM would copy again; it trains the same trees as the frame and
    keeps the frame's categories, so predicting from a frame maps categories the same way."""
    cats = [c for c in rows.X.columns if isinstance(rows.X[c].dtype, pd.CategoricalDtype)]
    data = lgb.Dataset(_matrix(rows.X, mask), rows.y[mask], feature_name=list(rows.X.columns),
                       categorical_feature=cats, free_raw_data=True)
    data.pandas_categorical = [list(rows.X[c].cat.categories) for c in cats]
    return data


def _matrix(X: pd.DataFrame, mask: npt.NDArray[np.bool_]) -> npt.NDArray[np.floating]:
    """Rows `mask` of `X` as LightGBM reads a frame: categoricals as codes (-1, a missing
    category, as NaN), numbers as they are, in one float32 matrix (float64 if a column
    needs it; a float32 value read as float64 is the same number)."""
    idx = np.flatnonzero(mask)
    dense = [X[c].dtype for c in X.columns if not isinstance(X[c].dtype, pd.CategoricalDtype)]
    out = np.empty((len(idx), X.shape[1]), dtype=np.result_type(*dense, np.float32), order="F")
    for j, c in enumerate(X.columns):
        if isinstance(X[c].dtype, pd.CategoricalDtype):
            codes = X[c].cat.codes.to_numpy()[idx]
            out[:, j] = np.where(codes < 0, np.nan, codes)
        else:
            out[:, j] = X[c].to_numpy()[idx]
    return out
