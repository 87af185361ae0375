"""`mint_cv`: a blend of reconciliations chosen on held-out backtest windows.

A reconciled forecast's error on coherent actuals is S G e for base error e, so candidates
can be scored on residuals alone, and a weighted average of coherent forecasts is coherent.
The residual columns are split into two halves; each candidate's covariance is estimated
on one half and its reconciled errors taken on the other (and the other way round). Then
ensemble selection (Caruana et al. 2004) adds, `ROUNDS` times and with replacement, the
candidate whose addition makes the blend's held-out score smallest. Score: per level, the
sum over its series of reconciled RMSE over the sum of base RMSE (a weighted-RMSSE proxy:
big series weigh more), averaged over levels as M5 averages WRMSSE. A blend whose bottom
series get more than `BOTTOM_TOLERANCE` worse than unreconciled is not allowed; bottom-up
(ratio 1 at the bottom) always is, so the blend can keep bottoms near their base values
while the aggregates move.

Candidates: bottom-up, MinTrace ols, wls_struct, wls_var and mint_shrink: at most 6
factorisations for the held-out scores and 2 refits. A candidate name ending in
`_anchored` (e.g. `mint_shrink_anchored`: bottom variances scaled by `ANCHOR`, so bottoms
move less) is understood too; it was left out of CANDIDATES to stay within 60 s at 30,000
bottom series.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from models.hierarchy.covariance import LowRankCov, covariance_for
from models.hierarchy.projection import BottomMap, fit_projection, reconciled_errors
from models.hierarchy.structure import Hierarchy

__all__ = ["ANCHOR", "BOTTOM_TOLERANCE", "CANDIDATES", "Blend", "row_rms", "select_blend"]

FloatArray = npt.NDArray[np.float64]
BOTTOM_TOLERANCE = 1.01
ANCHOR = 0.5
ROUNDS = 8
#: Candidates whose covariance does not depend on the residuals (one factorisation).
FIXED = ("ols", "wls_struct")
CANDIDATES = ("bottom_up", "ols", "wls_struct", "wls_var", "mint_shrink")


@dataclass(frozen=True)
class Blend:
    """A weighted average of reconciliations (None = bottom-up), itself coherent.

    Attributes:
        weights: candidate name -> weight (sums to 1).
        parts: candidate name -> its projection (None for bottom-up).
        n_bottom: number of bottom series.
    """

    weights: dict[str, float]
    parts: Mapping[str, BottomMap | None]
    n_bottom: int

    def bottom(self, base: FloatArray) -> FloatArray:
        """Blended reconciled bottom series (n_bottom x h) from base forecasts (n_all x h)."""
        out = np.zeros((self.n_bottom, base.shape[1]))
        for name, w in self.weights.items():
            part = self.parts[name]
            out += w * (base[: self.n_bottom] if part is None else part.bottom(base))
        return out

    @property
    def name(self) -> str:
        """E.g. `0.50 wls_struct + 0.25 mint_shrink + 0.25 bottom_up`."""
        return " + ".join(f"{w:.2f} {n}" for n, w in sorted(self.weights.items(),
                                                             key=lambda kv: -kv[1]))


def candidate_cov(name: str, hierarchy: Hierarchy, residuals: FloatArray) -> LowRankCov | None:
    """The covariance of candidate `name` (None = bottom-up) estimated on `residuals`."""
    if name == "bottom_up":
        return None
    cov = covariance_for(name.removesuffix("_anchored"), hierarchy, residuals)
    if name.endswith("_anchored"):
        cov = cov.scaled(np.arange(hierarchy.n_bottom), ANCHOR)
    return cov


def _projection(name: str, hierarchy: Hierarchy, residuals: FloatArray) -> BottomMap | None:
    cov = candidate_cov(name, hierarchy, residuals)
    return None if cov is None else fit_projection(hierarchy.summing, hierarchy.n_bottom, cov)


def _held_out(hierarchy: Hierarchy, residuals: FloatArray
              ) -> tuple[dict[str, FloatArray], dict[str, BottomMap | None]]:
    """Each candidate's reconciled errors on held-out halves (columns as `residuals`), and
    the projections of the fixed candidates (valid for any residuals)."""
    m = residuals.shape[1]
    halves = [np.arange(m // 2), np.arange(m // 2, m)]
    errors: dict[str, FloatArray] = {}
    fixed: dict[str, BottomMap | None] = {}
    for name in CANDIDATES:
        parts = []
        for fit_cols, test_cols in (halves, halves[::-1]):
            if name in FIXED:
                if name not in fixed:
                    fixed[name] = _projection(name, hierarchy, residuals)
                proj = fixed[name]
            else:
                proj = _projection(name, hierarchy, residuals[:, fit_cols])
            parts.append((test_cols, reconciled_errors(hierarchy, proj,
                                                       residuals[:, test_cols])))
        errors[name] = np.empty_like(residuals)
        for cols, err in parts:
            errors[name][:, cols] = err
    return errors, fixed


def row_rms(values: FloatArray) -> FloatArray:
    """Root mean square of each row over its finite entries (NaN for a row without any)."""
    known = np.isfinite(values)
    count = known.sum(axis=1)
    total = np.where(known, values, 0.0) ** 2
    mean_square = np.divide(total.sum(axis=1), count, out=np.full(len(values), np.nan),
                            where=count > 0)
    return np.asarray(np.sqrt(mean_square), dtype=np.float64)


def _scores(codes: npt.NDArray[np.int64], n_bottom: int, base_rms: FloatArray,
            err: FloatArray) -> tuple[float, float]:
    """(mean over levels of sum RMSE / sum base RMSE, the same ratio over the bottoms)."""
    rms = row_rms(err)
    ok = np.isfinite(rms) & np.isfinite(base_rms)
    ratios = [rms[ok & (codes == lv)].sum() / base_rms[ok & (codes == lv)].sum()
              for lv in np.unique(codes) if base_rms[ok & (codes == lv)].sum() > 0]
    bottom = ok[:n_bottom]
    denom = base_rms[:n_bottom][bottom].sum()
    return float(np.mean(ratios)), float(rms[:n_bottom][bottom].sum() / denom) if denom else 1.0


def select_blend(hierarchy: Hierarchy, residuals: FloatArray) -> Blend:
    """Ensemble selection over CANDIDATES on held-out residuals; each chosen candidate is
    then refitted on all residuals."""
    if residuals.shape[1] < 4:
        return Blend({"mint_shrink": 1.0},
                     {"mint_shrink": _projection("mint_shrink", hierarchy, residuals)},
                     hierarchy.n_bottom)
    errors, fixed = _held_out(hierarchy, residuals)
    codes = hierarchy.level_codes()
    base_rms = row_rms(residuals)
    counts: dict[str, int] = {}
    total = np.zeros_like(residuals)
    for r in range(1, ROUNDS + 1):
        best, best_score = "bottom_up", np.inf
        for name, err in errors.items():
            score, bottom = _scores(codes, hierarchy.n_bottom, base_rms, (total + err) / r)
            if (bottom <= BOTTOM_TOLERANCE or name == "bottom_up") and score < best_score:
                best, best_score = name, score
        counts[best] = counts.get(best, 0) + 1
        total += errors[best]
    parts = {name: fixed[name] if name in fixed else _projection(name, hierarchy, residuals)
             for name in counts}
    return Blend({n: c / ROUNDS for n, c in counts.items()}, parts, hierarchy.n_bottom)
