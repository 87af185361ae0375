"""Error covariances of every series as diagonal + low rank, never as an n x n matrix.

The Schäfer-Strimmer shrinkage estimate (as hierarchicalforecast's `mint_shrink`) is
W = lambda * diag(s2) + (1 - lambda) * R R' / (m - 1) for centred residuals R (n x m): a
diagonal plus a rank-m term. Its intensity lambda needs sums over all n^2 pairs of
correlations, which reduce to m x m Gram matrices: O(n m^2) time and O(n m) memory.
Missing residuals (NaN) count as 0 after centring, each row rescaled to its own variance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from models.hierarchy.structure import Hierarchy

__all__ = ["LowRankCov", "covariance_for", "shrink_intensity", "shrunk_covariance", "variances"]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class LowRankCov:
    """W = diag(diag) + factor @ factor.T.

    Attributes:
        diag: (n,) positive diagonal part.
        factor: (n, r) low-rank part (r may be 0).
    """

    diag: FloatArray
    factor: FloatArray

    def scaled(self, rows: npt.NDArray[np.int64], by: float) -> LowRankCov:
        """The covariance of the series with `rows` multiplied by `by` (variance scale)."""
        diag, factor = self.diag.copy(), self.factor.copy()
        diag[rows] *= by
        factor[rows] *= np.sqrt(by)
        return LowRankCov(diag, factor)


def variances(residuals: FloatArray) -> FloatArray:
    """Variance of each row of `residuals` over its non-missing values, floored above 0."""
    res = np.asarray(residuals, dtype=np.float64)
    n = np.sum(~np.isnan(res), axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        centred = res - _row_means(res)[:, None]
        s2 = np.nansum(centred**2, axis=1) / np.maximum(n - 1, 1)
    return _floor(np.where(n > 1, s2, np.nan))


def _floor(s2: FloatArray) -> FloatArray:
    """Replace missing or zero variances: a series without errors gets a tiny one."""
    known = s2[np.isfinite(s2) & (s2 > 0)]
    tiny = 1e-8 * float(known.mean()) if known.size else 1e-8
    return np.where(np.isfinite(s2) & (s2 > tiny), s2, tiny)


def _row_means(res: FloatArray) -> FloatArray:
    n = np.sum(~np.isnan(res), axis=1)
    return np.where(n > 0, np.nansum(res, axis=1) / np.maximum(n, 1), 0.0)


def _standardised(residuals: FloatArray, s2: FloatArray) -> FloatArray:
    """Centred residuals / sd, NaN -> 0, each row rescaled so that its mean square over
    m - 1 is exactly 1 (its correlation with itself)."""
    res = np.asarray(residuals, dtype=np.float64)
    z = np.nan_to_num(res - _row_means(res)[:, None], nan=0.0) / np.sqrt(s2)[:, None]
    m = res.shape[1]
    norm = np.sqrt(np.sum(z**2, axis=1) / max(m - 1, 1))
    return np.asarray(np.divide(z, norm[:, None], out=np.zeros_like(z),
                                where=norm[:, None] > 0))


def shrink_intensity(residuals: FloatArray, s2: FloatArray | None = None) -> float:
    """Schäfer-Strimmer lambda in [0, 1]: estimated variance of the off-diagonal sample
    correlations over their sum of squares (1 = keep only the variances)."""
    res = np.asarray(residuals, dtype=np.float64)
    m = res.shape[1]
    if m < 3:
        return 1.0
    s2 = variances(res) if s2 is None else s2
    z = _standardised(res, s2)  # n x m, centred, unit variance
    sq = z**2
    # Var(r_ij) = m / (m-1)^3 sum_k (w_ijk - mean_k w_ij)^2 with w_ijk = z_ik z_jk, summed
    # over i != j through per-sample sums and the m x m Gram matrix
    sum_sq = float(np.sum(sq.sum(axis=0) ** 2) - np.sum(sq**2))
    sum_cross = float(np.sum((z.T @ z) ** 2) - np.sum(sq.sum(axis=1) ** 2))
    v = (sum_sq - sum_cross / m) * m / (m - 1) ** 3
    gram_z = z.T @ z / (m - 1)
    self_corr = np.sum(z**2, axis=1) / (m - 1)
    d = float(np.sum(gram_z**2) - np.sum(self_corr**2))
    if d <= 0:
        return 1.0
    return float(min(max(v / d, 0.0), 1.0))


def shrunk_covariance(residuals: FloatArray, intensity: float | None = None) -> LowRankCov:
    """Schäfer-Strimmer shrinkage covariance of the rows of `residuals` (n x m), with the
    estimated intensity unless `intensity` is given."""
    res = np.asarray(residuals, dtype=np.float64)
    s2 = variances(res)
    lam = shrink_intensity(res, s2) if intensity is None else float(intensity)
    m = res.shape[1]
    z = _standardised(res, s2)
    factor = z * np.sqrt(s2)[:, None] * np.sqrt((1.0 - lam) / max(m - 1, 1))
    ridge = 2e-8 + 1e-9 * s2
    return LowRankCov(diag=lam * s2 + ridge, factor=factor)


def covariance_for(method: str, hierarchy: Hierarchy, residuals: FloatArray) -> LowRankCov:
    """The error covariance W that MinTrace `method` uses (ols, wls_struct, wls_var,
    mint_shrink)."""
    n = hierarchy.n_all
    if method == "ols":
        return LowRankCov(np.ones(n), np.zeros((n, 0)))
    if method == "wls_struct":
        counts = np.asarray(hierarchy.summing.sum(axis=1)).ravel()
        return LowRankCov(counts.astype(np.float64), np.zeros((n, 0)))
    if method == "wls_var":
        return LowRankCov(variances(residuals), np.zeros((n, 0)))
    if method == "mint_shrink":
        return shrunk_covariance(residuals)
    raise ValueError(f"no covariance for method {method!r}; MinTrace methods are "
                     "ols, wls_struct, wls_var, mint_shrink.")
