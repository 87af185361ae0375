"""Forecast combination: non-negative weights of several models' means, shrunk to equal weights.

The weights of a group of series (a demand class) minimise the weighted squared error of
the combined forecast on earlier backtest windows, with a ridge penalty pulling them towards
equal weights (Bates-Granger combination, non-negative as in stacked regression):

    min_b  sum_i r_i^2 (y_i - f_i . b)^2 + mu |b - 1/M|^2,   0 <= b <= MAX_WEIGHT,
    mu = shrink x trace(G) / M,

where G = sum_i r_i^2 f_i f_i^T. Rows are weighted by r_i = 1 / sqrt(scale) of their series
(between no weighting, where a few large series decide everything, and 1 / scale, where the
small series do). The bound keeps a class whose other models all forecast 0 (`zero`) from
multiplying the one that does not by 10. Everything the fit needs is the Gram matrix G and
the vector c = sum_i r_i^2 y_i f_i: sums over rows, so windows, releases and partitions are
simply added (`gram_stats`). Measured in BENCHMARKS.md, "Stronger peers (issue 19)".

A combination is named by its weights, e.g. "lgbm*0.52+ets*0.21+snaive*0.27": the name is
what a forecaster stores per series (`weights_of` reads it back).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt
from scipy.optimize import lsq_linear

__all__ = ["DEFAULT_SHRINK", "MAX_WEIGHT", "combination_name", "combine", "fit_weights",
           "gram_stats", "weights_of"]

FloatArray = npt.NDArray[np.float64]
DEFAULT_SHRINK = 0.3
MAX_WEIGHT = 2.0
LEGACY_NAMES: Mapping[str, Mapping[str, float]] = {"blend": {"lgbm": 0.5, "ets": 0.5}}


def gram_stats(forecasts: FloatArray, actual: FloatArray, scale: FloatArray) -> FloatArray:
    """Additive sufficient statistics of one block of rows: [G.ravel(), c, n].

    Args:
        forecasts: series x steps x models, the models' means.
        actual: series x steps, NaN where not known (such cells are left out).
        scale: per-series error scale (> 0); rows are weighted by 1 / sqrt(scale).
    """
    m = forecasts.shape[-1]
    ok = ~np.isnan(actual)
    if not ok.any():
        return np.zeros(m * m + m + 1)
    w = np.broadcast_to((1.0 / np.sqrt(scale))[:, None], actual.shape)[ok]
    x = np.nan_to_num(forecasts[ok]) * w[:, None]
    y = actual[ok] * w
    return np.concatenate([(x.T @ x).ravel(), x.T @ y, [float(ok.sum())]])


def fit_weights(stats: FloatArray, n_models: int, *, shrink: float = DEFAULT_SHRINK
                ) -> FloatArray:
    """Weights in [0, `MAX_WEIGHT`] from `gram_stats` sums, ridge-shrunk towards equal
    weights; equal weights when the statistics hold no information (no rows, or all
    forecasts 0)."""
    m = n_models
    equal = np.full(m, 1.0 / m)
    gram = stats[: m * m].reshape(m, m)
    cross = stats[m * m: m * m + m]
    trace = float(np.trace(gram))
    if not np.isfinite(trace) or trace <= 0:
        return equal
    mu = shrink * trace / m
    lhs = gram + (mu + 1e-9 * trace) * np.eye(m)
    rhs = cross + mu * equal
    # min |A b - d|^2 with A^T A = lhs and A^T d = rhs: A = L^T, d = L^-1 rhs
    chol = np.linalg.cholesky(lhs)
    fit = lsq_linear(chol.T, np.linalg.solve(chol, rhs), bounds=(0.0, MAX_WEIGHT),
                     method="bvls")
    return np.clip(np.asarray(fit.x, dtype=np.float64), 0.0, MAX_WEIGHT)


def combination_name(models: Sequence[str], weights: FloatArray) -> str:
    """The name of a combination: "lgbm*0.52+ets*0.21" (weights rounded to 4 decimals,
    models with weight 0 left out; a single model at weight 1 is just its name)."""
    parts = [(m, round(float(w), 4)) for m, w in zip(models, weights, strict=True)]
    kept = [(m, w) for m, w in parts if w > 0]
    if not kept:
        return f"{models[0]}*0"
    if len(kept) == 1 and kept[0][1] == 1.0:
        return kept[0][0]
    return "+".join(f"{m}*{w:g}" for m, w in kept)


def weights_of(name: str) -> dict[str, float]:
    """The models and weights a combination name stands for; a plain model name is that
    model at weight 1 (and "blend", an older forecaster's choice, lgbm and ets at 0.5 each).

    Raises:
        ValueError: a part of the name is not `model*weight` with a number as weight.
    """
    name = str(name)
    if name in LEGACY_NAMES:
        return dict(LEGACY_NAMES[name])
    if "*" not in name:
        return {name: 1.0}
    out: dict[str, float] = {}
    for part in name.split("+"):
        model, _, weight = part.partition("*")
        try:
            out[model] = float(weight)
        except ValueError:
            raise ValueError(f"combination {name!r}: part {part!r} is not `model*weight`; "
                             "names look like 'lgbm*0.5+ets*0.5'.") from None
    return out


def combine(name: str, arrays: Mapping[str, FloatArray]) -> FloatArray:
    """The combination `name` of `arrays` (model -> array, the same shape each)."""
    weights = weights_of(name)
    missing = [m for m in weights if m not in arrays]
    if missing:
        raise KeyError(f"combination {name!r} needs the forecasts of {missing}; the forecaster "
                       f"has {sorted(arrays)}.")
    items = list(weights.items())
    out = items[0][1] * arrays[items[0][0]]
    for model, weight in items[1:]:
        out = out + weight * arrays[model]
    return np.asarray(out, dtype=np.float64)
