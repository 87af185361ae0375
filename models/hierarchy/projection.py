"""MinTrace as a projection solved in the space of the aggregates.

With C = [-S_agg, I] the constraints (every aggregate = the sum of its bottoms), MinTrace's
reconciled forecast is y~ = y^ - W C' (C W C')^-1 C y^ (Wickramasuriya et al. 2019, eq. 9).
C W C' is n_agg x n_agg; with W diagonal + rank r (covariance.LowRankCov) it is built from
sparse products and one (n_agg x r) product, and factorised once by Cholesky. No n_all x
n_all or n_bottom x n_bottom matrix is formed: memory O(n_agg^2 + n_all r), time
O(n_agg^3 / 3). The bottom rows of y~ are kept and summed up by S, so the result adds up
exactly. For a diagonal W, C W C' is sparse (an aggregate meets only the aggregates that
share bottom series): it is factorised as a sparse LU (SuperLU, minimum degree ordering),
0.2 s instead of ~5 s dense at 30,000 bottom series and 4,528 aggregates.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt
from scipy import linalg, sparse
from scipy.sparse import linalg as sparse_linalg

from models.hierarchy.covariance import LowRankCov
from models.hierarchy.structure import Hierarchy

__all__ = ["BottomMap", "DiagonalProjection", "Projection", "fit_diagonal", "fit_projection",
           "reconciled_errors"]

FloatArray = npt.NDArray[np.float64]


class BottomMap(Protocol):
    """Anything that maps base forecasts of every series to reconciled bottom series."""

    def bottom(self, base: FloatArray) -> FloatArray:
        """Reconciled bottom series (n_bottom x h) from base forecasts (n_all x h)."""
        ...


@dataclass(frozen=True)
class Projection:
    """The factorised MinTrace step for one covariance.

    Attributes:
        agg_summing: S_agg, (n_agg, n_bottom) sparse rows of S for the aggregates.
        cov: the error covariance W of every series (bottoms first).
        factor: Cholesky factor of C W C' (scipy.linalg.cho_factor output).
    """

    agg_summing: sparse.csr_matrix
    cov: LowRankCov
    factor: tuple[FloatArray, bool]

    def bottom(self, base: FloatArray) -> FloatArray:
        """Reconciled bottom series (n_bottom x h) from base forecasts of all (n_all x h)."""
        n_b = self.agg_summing.shape[1]
        yb, ya = base[:n_b], base[n_b:]
        z = linalg.cho_solve(self.factor, ya - self.agg_summing @ yb, check_finite=False)
        ct_z_b = -(self.agg_summing.T @ z)  # bottom rows of C' z; aggregate rows are z
        d, u = self.cov.diag, self.cov.factor
        low = u[:n_b].T @ ct_z_b + u[n_b:].T @ z if u.shape[1] else None
        out = yb - d[:n_b, None] * ct_z_b
        if low is not None:
            out -= u[:n_b] @ low
        return np.asarray(out)


@dataclass(frozen=True)
class DiagonalProjection:
    """MinTrace for a diagonal W, C W C' factorised as a sparse LU.

    Attributes:
        agg_summing: S_agg, (n_agg, n_bottom) rows of S for the aggregates.
        diag: (n_all,) W's diagonal, bottoms first.
        lu: SuperLU factors of C W C' = S_agg diag(W_b) S_agg' + diag(W_a).
    """

    agg_summing: sparse.csr_matrix
    diag: FloatArray
    lu: sparse_linalg.SuperLU

    def bottom(self, base: FloatArray) -> FloatArray:
        """Reconciled bottom series (n_bottom x h) from base forecasts of all (n_all x h)."""
        n_b = self.agg_summing.shape[1]
        yb, ya = base[:n_b], base[n_b:]
        gap = np.asarray(ya - self.agg_summing @ yb, dtype=np.float64)
        z = self.lu.solve(np.ascontiguousarray(gap))
        return np.asarray(yb + self.diag[:n_b, None] * (self.agg_summing.T @ z))

    def __reduce__(self) -> tuple[object, tuple[sparse.csr_matrix, FloatArray]]:
        """Pickle S_agg and W only (SuperLU does not pickle); refactorised when loaded."""
        return _factorise, (self.agg_summing, self.diag)


def _factorise(s_agg: sparse.csr_matrix, diag: FloatArray) -> DiagonalProjection:
    n_bottom = s_agg.shape[1]
    cwc = s_agg @ sparse.diags(diag[:n_bottom]) @ s_agg.T + sparse.diags(diag[n_bottom:])
    lu = sparse_linalg.splu(sparse.csc_matrix(cwc), permc_spec="MMD_AT_PLUS_A",
                            diag_pivot_thresh=0.0, options={"SymmetricMode": True})
    return DiagonalProjection(agg_summing=s_agg, diag=diag, lu=lu)


def fit_diagonal(summing: sparse.csr_matrix, n_bottom: int, diag: FloatArray
                 ) -> DiagonalProjection:
    """Factorise C W C' for W = diag(`diag`) (bottoms first, every entry > 0)."""
    return _factorise(sparse.csr_matrix(summing[n_bottom:]), np.asarray(diag, np.float64))


def fit_projection(summing: sparse.csr_matrix, n_bottom: int, cov: LowRankCov) -> BottomMap:
    """Factorise C W C' for the hierarchy with summing matrix `summing` (bottoms first); a
    diagonal W (no low-rank part) by sparse LU (`fit_diagonal`)."""
    if cov.factor.shape[1] == 0:
        return fit_diagonal(summing, n_bottom, cov.diag)
    s_agg = sparse.csr_matrix(summing[n_bottom:])
    d_b, d_a = cov.diag[:n_bottom], cov.diag[n_bottom:]
    cdc = (s_agg @ sparse.diags(d_b) @ s_agg.T).toarray()
    cdc[np.diag_indices_from(cdc)] += d_a
    if cov.factor.shape[1]:
        cu = cov.factor[n_bottom:] - s_agg @ cov.factor[:n_bottom]
        cdc += cu @ cu.T
    factor = linalg.cho_factor(cdc, lower=True, overwrite_a=True, check_finite=False)
    return Projection(agg_summing=s_agg, cov=cov, factor=factor)


def reconciled_errors(hierarchy: Hierarchy, projection: BottomMap | None,
                      residuals: FloatArray) -> FloatArray:
    """S @ G @ residuals: the errors the reconciled forecasts would have made (bottom-up
    when `projection` is None; NaN where the series' own residual is unknown)."""
    filled = np.nan_to_num(residuals, nan=0.0)
    bottom = filled[: hierarchy.n_bottom] if projection is None else projection.bottom(filled)
    out = np.asarray(hierarchy.summing @ bottom)
    out[np.isnan(residuals)] = np.nan
    return out
