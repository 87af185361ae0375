"""Reconcile base forecasts of every series so that every level adds up.

Residuals are base-forecast errors `actual - forecast` of every series (rows as
`Hierarchy.keys`), one column per backtest window x horizon step (NaN = unknown). A
reconciled forecast is S @ G @ base; its error on a coherent actual is S @ G @ error, so
residuals alone give both the MinTrace covariance and the reconciled error distribution
behind the quantiles (intervals.py).

Methods: `none` (base as is, not coherent), `bottom_up`, MinTrace `ols`, `wls_struct`,
`wls_var`, `mint_shrink` (Schäfer-Strimmer shrinkage covariance, covariance.py) and
`mint_cv` (select.py: the covariance, among MinTrace variants and bottom-up, whose
reconciled errors on held-out backtest windows are smallest, averaged over levels).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from models.hierarchy.covariance import covariance_for
from models.hierarchy.intervals import ErrorQuantiles, fit_error_quantiles
from models.hierarchy.projection import Projection, fit_projection, reconciled_errors
from models.hierarchy.select import select_covariance
from models.hierarchy.structure import LEVELS, Hierarchy

__all__ = ["COHERENT_METHODS", "METHODS", "Reconciler", "fit_reconciler"]

METHODS = ("none", "bottom_up", "ols", "wls_struct", "wls_var", "mint_shrink", "mint_cv")
COHERENT_METHODS = METHODS[1:]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Reconciler:
    """A fitted reconciliation: coherent means and quantiles for every series.

    Attributes:
        hierarchy: the series and their summing matrix.
        method: the method asked for (one of METHODS).
        chosen: what serves: the method, or for `mint_cv` the candidate it selected.
        projection: the factorised MinTrace step (None for `none` and `bottom_up`).
        errors: the reconciled error distribution behind `quantiles`.
    """

    hierarchy: Hierarchy
    method: str
    chosen: str
    projection: Projection | None
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


def fit_reconciler(hierarchy: Hierarchy, residuals: FloatArray, method: str, *,
                   steps: npt.ArrayLike | None = None) -> Reconciler:
    """Fit `method` (one of METHODS) on residuals `actual - forecast` (n_all x m, NaN
    allowed); `steps`: the horizon step (1..h) of each column, for per-step quantiles."""
    if method not in METHODS:
        raise ValueError(f"`method` must be one of {METHODS}; got {method!r}.")
    res = _check_rows(residuals, hierarchy, "residuals")
    step_arr = None if steps is None else np.asarray(steps, dtype=np.int64)
    if step_arr is not None and (step_arr.shape != (res.shape[1],) or (step_arr < 1).any()):
        raise ValueError(f"`steps` must give a step >= 1 for each of the {res.shape[1]} "
                         f"residual columns; got {step_arr.size} values.")
    chosen = method
    if method == "mint_cv":
        chosen, cov = select_covariance(hierarchy, res)
    elif method in ("none", "bottom_up"):
        cov = None
    else:
        cov = covariance_for(method, hierarchy, res)
    projection = None if cov is None else fit_projection(hierarchy.summing, hierarchy.n_bottom,
                                                         cov)
    errors = res if method == "none" else reconciled_errors(hierarchy, projection, res)
    quantiles = fit_error_quantiles(errors, hierarchy.level_codes(), len(LEVELS), step_arr)
    return Reconciler(hierarchy=hierarchy, method=method, chosen=chosen,
                      projection=projection, errors=quantiles)
