"""`mint_cv`: the reconciliation whose errors on held-out backtest windows are smallest.

A reconciled forecast's error on coherent actuals is S G e for base error e, so candidates
can be scored on residuals alone. The residual columns are split into two halves; each
candidate's covariance is estimated on one half and its reconciled errors measured on the
other (and the other way round). Per series the ratio of reconciled to base RMSE is taken,
averaged over the series of a level, then over levels (as M5 averages WRMSSE over levels).
Candidates whose bottom series get more than `BOTTOM_TOLERANCE` worse than unreconciled
are left out; bottom-up (ratio 1 at the bottom) is always eligible.

Candidates: bottom-up; MinTrace wls_struct, wls_var and mint_shrink; and two level-aware
variants that keep the bottom forecasts nearer their base values (bottom variances scaled
by `ANCHOR`), since aggregates gain most from reconciliation and bottoms least.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from models.hierarchy.covariance import LowRankCov, covariance_for
from models.hierarchy.projection import fit_projection, reconciled_errors
from models.hierarchy.structure import Hierarchy

__all__ = ["ANCHOR", "BOTTOM_TOLERANCE", "CANDIDATES", "score_candidates",
           "select_covariance"]

FloatArray = npt.NDArray[np.float64]
BOTTOM_TOLERANCE = 1.01
ANCHOR = 0.5
CANDIDATES = ("bottom_up", "wls_struct", "wls_var", "mint_shrink", "wls_var_anchored",
              "mint_shrink_anchored")


def candidate_cov(name: str, hierarchy: Hierarchy, residuals: FloatArray) -> LowRankCov | None:
    """The covariance of candidate `name` (None = bottom-up) estimated on `residuals`."""
    if name == "bottom_up":
        return None
    base = name.removesuffix("_anchored")
    cov = covariance_for(base, hierarchy, residuals)
    if name.endswith("_anchored"):
        cov = cov.scaled(np.arange(hierarchy.n_bottom), ANCHOR)
    return cov


def _ratios(hierarchy: Hierarchy, rec: FloatArray, base: FloatArray) -> FloatArray:
    """Mean over each level's series of reconciled / base RMSE (NaN for an empty level)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        rec_rms = np.sqrt(np.nanmean(rec**2, axis=1))
        base_rms = np.sqrt(np.nanmean(base**2, axis=1))
        ratio = rec_rms / base_rms
    ok = np.isfinite(ratio) & (base_rms > 0)
    codes = hierarchy.level_codes()
    out = [np.mean(ratio[ok & (codes == lv)]) if (ok & (codes == lv)).any() else np.nan
           for lv in range(int(codes.max()) + 1)]
    bottom = ratio[: hierarchy.n_bottom][ok[: hierarchy.n_bottom]]
    return np.array([*out, bottom.mean() if bottom.size else np.nan])


def score_candidates(hierarchy: Hierarchy, residuals: FloatArray) -> dict[str, FloatArray]:
    """Per candidate: the held-out RMSE ratio per level (LEVELS order) and, last, over the
    bottom series alone; two-fold over the residual columns."""
    m = residuals.shape[1]
    halves = [np.arange(m // 2), np.arange(m // 2, m)]
    out: dict[str, FloatArray] = {}
    for name in CANDIDATES:
        recs, bases = [], []
        for fit_cols, test_cols in (halves, halves[::-1]):
            cov = candidate_cov(name, hierarchy, residuals[:, fit_cols])
            proj = None if cov is None else fit_projection(hierarchy.summing,
                                                           hierarchy.n_bottom, cov)
            recs.append(reconciled_errors(hierarchy, proj, residuals[:, test_cols]))
            bases.append(residuals[:, test_cols])
        out[name] = _ratios(hierarchy, np.hstack(recs), np.hstack(bases))
    return out


def select_covariance(hierarchy: Hierarchy, residuals: FloatArray
                      ) -> tuple[str, LowRankCov | None]:
    """The best candidate's name and its covariance on all residuals (None = bottom-up)."""
    if residuals.shape[1] < 4:
        return "mint_shrink", candidate_cov("mint_shrink", hierarchy, residuals)
    scores = score_candidates(hierarchy, residuals)
    eligible = {name: float(np.nanmean(s[:-1])) for name, s in scores.items()
                if name == "bottom_up" or s[-1] <= BOTTOM_TOLERANCE}
    best = min(eligible, key=eligible.__getitem__)
    return best, candidate_cov(best, hierarchy, residuals)
