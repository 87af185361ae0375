"""Reconcile base forecasts of every series so that every level adds up.

Residuals are base-forecast errors `actual - forecast` of every series (rows as
`Hierarchy.keys`), one column per backtest window x horizon step (NaN = unknown). A
reconciled forecast is S @ G @ base; its error on a coherent actual is S @ G @ error, so
residuals alone give both the MinTrace covariance and the reconciled error distribution
behind the quantiles (intervals.py).

Methods: `none` (base as is, not coherent), `bottom_up`, MinTrace `ols`, `wls_struct`,
`wls_var`, `mint_shrink` (Schäfer-Strimmer shrinkage covariance, covariance.py) and
`mint_cv` (select.py: a blend of bottom-up and MinTrace variants chosen by ensemble
selection on held-out backtest windows, bottoms kept within 1% of unreconciled) and
`wls_mix` (the average of the wls_struct and wls_var reconciliations: coherent, as any
average of coherent forecasts; found on walmart's backtest, see BENCHMARKS.md) and
`wls_tuned` (tuned.py: a diagonal W = per-cell multiplier x struct^a x mean-square^b, and an
optional share of bottom-up or mint_shrink, picked on held-out backtest windows for the M5
average over level x sku-kind cells).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

import numpy as np
import numpy.typing as npt

from models.hierarchy.covariance import covariance_for
from models.hierarchy.intervals import ErrorQuantiles, fit_error_quantiles
from models.hierarchy.projection import BottomMap, fit_projection, reconciled_errors
from models.hierarchy.select import Blend, select_blend
from models.hierarchy.structure import LEVELS, Hierarchy
from models.hierarchy.tuned import fit_tuned

__all__ = ["COHERENT_METHODS", "METHODS", "Reconciler", "fit_reconciler"]

METHODS = ("none", "bottom_up", "ols", "wls_struct", "wls_var", "mint_shrink", "mint_cv",
           "wls_mix", "wls_tuned")
COHERENT_METHODS = METHODS[1:]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Reconciler:
    """A fitted reconciliation: coherent means and quantiles for every series.

    Attributes:
        hierarchy: the series and their summing matrix.
        method: the method asked for (one of METHODS).
        chosen: what serves: the method, or for `mint_cv` its blend
            (e.g. `0.62 wls_struct + 0.38 bottom_up`), for `wls_tuned` its point.
        projection: the factorised MinTrace step or blend (None for `none`, `bottom_up`).
        errors: the reconciled error distribution behind `quantiles`.
    """

    hierarchy: Hierarchy
    method: str
    chosen: str
    projection: BottomMap | None
    errors: ErrorQuantiles

    def bottom(self, base: FloatArray) -> FloatArray:
        """Reconciled bottom series (n_bottom x h) from base forecasts (n_all x h)."""
        base = _check_rows(base, self.hierarchy, "base")
        if self.projection is None:
            return np.asarray(base[: self.hierarchy.n_bottom])
        return self.projection.bottom(base)

    def means(self, base: FloatArray) -> FloatArray:
        """Reconciled means of every series (n_all x h): S @ bottom, except for `none`."""
        if self.method == "none":
            return _check_rows(base, self.hierarchy, "base").copy()
        return np.asarray(self.hierarchy.summing @ self.bottom(base))

    def quantiles(self, means_reconciled: FloatArray, levels: Sequence[float], *,
                  floor: float | None = 0.0) -> FloatArray:
        """(n_all, h, q) quantiles at `levels` around the reconciled means, from the
        reconciled error distribution; ordered in q; values below `floor` are cut."""
        means = _check_rows(means_reconciled, self.hierarchy, "means_reconciled")
        return self.errors.quantiles(means, levels, floor=floor)


def _check_rows(values: FloatArray, hierarchy: Hierarchy, name: str) -> FloatArray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[0] != hierarchy.n_all:
        raise ValueError(f"`{name}` must be (n_all={hierarchy.n_all}, h) rows as "
                         f"Hierarchy.keys; got shape {arr.shape}.")
    return arr


def _weights(weights: npt.ArrayLike | None, hierarchy: Hierarchy) -> FloatArray | None:
    if weights is None:
        return None
    arr = np.asarray(weights, dtype=np.float64)
    if arr.shape != (hierarchy.n_all,) or not np.isfinite(arr).all() or (arr < 0).any():
        raise ValueError(f"`weights` must give one finite weight >= 0 per series "
                         f"(n_all={hierarchy.n_all}, rows as Hierarchy.keys); got shape "
                         f"{arr.shape}.")
    return arr


def fit_reconciler(hierarchy: Hierarchy, residuals: FloatArray, method: str, *,
                   steps: npt.ArrayLike | None = None,
                   weights: npt.ArrayLike | None = None) -> Reconciler:
    """Fit `method` (one of METHODS) on residuals `actual - forecast` (n_all x m, NaN
    allowed); `steps`: the horizon step (1..h) of each column, for per-step quantiles and
    `wls_tuned`'s windows; `weights`: `wls_tuned`'s weight of each series' RMSE in its
    cell's score (tuned.py; None: 1 / the cell's summed base RMSE)."""
    if method not in METHODS:
        raise ValueError(f"`method` must be one of {METHODS}; got {method!r}.")
    res = _check_rows(residuals, hierarchy, "residuals")
    step_arr = None if steps is None else np.asarray(steps, dtype=np.int64)
    if step_arr is not None and (step_arr.shape != (res.shape[1],) or (step_arr < 1).any()):
        raise ValueError(f"`steps` must give a step >= 1 for each of the {res.shape[1]} "
                         f"residual columns; got {step_arr.size} values.")
    chosen, projection = method, cast("BottomMap | None", None)
    if method == "wls_tuned":
        projection, chosen = fit_tuned(hierarchy, res, steps=step_arr,
                                       weights=_weights(weights, hierarchy))
    elif method == "mint_cv":
        blend = select_blend(hierarchy, res)
        chosen, projection = blend.name, blend
    elif method == "wls_mix":
        parts = {m: fit_projection(hierarchy.summing, hierarchy.n_bottom,
                                   covariance_for(m, hierarchy, res))
                 for m in ("wls_struct", "wls_var")}
        projection = Blend(dict.fromkeys(parts, 0.5), dict(parts), hierarchy.n_bottom)
    elif method not in ("none", "bottom_up"):
        cov = covariance_for(method, hierarchy, res)
        projection = fit_projection(hierarchy.summing, hierarchy.n_bottom, cov)
    errors = res if method == "none" else reconciled_errors(hierarchy, projection, res)
    quantiles = fit_error_quantiles(errors, hierarchy.level_codes(), len(LEVELS), step_arr)
    return Reconciler(hierarchy=hierarchy, method=method, chosen=chosen,
                      projection=projection, errors=quantiles)
