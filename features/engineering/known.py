"""Values of a training-set row's target periods that are known at its origin.

Calendar, planned price and promo, and last season's units: stored per series and period,
looked up per horizon step on demand.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["KnownValues"]


@dataclass(frozen=True)
class KnownValues:
    """Values of each row's target periods that are known at its origin.

    Stored per series and period and looked up per horizon step on demand: materialising
    rows x horizon arrays for every name would cost more memory than all origin features.

    Attributes:
        rows: (series, period) index of each training-set row's origin.
        per_series: name -> (array series x periods, offset, future_ok); the value for step k
            is array[s, t + k + offset]. With future_ok False (sales), steps whose period
            lies after the origin are NaN: only planned values (price, promo) may look ahead.
        per_period: name -> array over periods (calendar), value at t + k.
        price_ref: each row's mean price over the window ending at the origin.
    """

    rows: tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]
    per_series: dict[str, tuple[npt.NDArray[np.float32], int, bool]]
    per_period: dict[str, npt.NDArray[np.float32]]
    price_ref: npt.NDArray[np.float32]

    @property
    def names(self) -> list[str]:
        return [*self.per_period, *self.per_series, "price_ratio"]

    def at(self, k: int) -> dict[str, npt.NDArray[np.float32]]:
        """Every known value for horizon step `k` (1-based), one per row."""
        s, t = self.rows
        out: dict[str, npt.NDArray[np.float32]] = {}
        for name, by_period in self.per_period.items():
            out[name] = by_period[t + k]
        for name, (values, offset, future_ok) in self.per_series.items():
            idx = t + k + offset
            ok = (idx >= 0) & (idx < values.shape[1])
            if not future_ok and k + offset > 0:
                ok[:] = False
            out[name] = np.where(ok, values[s, np.clip(idx, 0, values.shape[1] - 1)], np.nan
                                 ).astype(np.float32)
        with np.errstate(invalid="ignore", divide="ignore"):
            out["price_ratio"] = out["price"] / self.price_ref
        return out

    def matrix(self, name: str, horizon: int) -> npt.NDArray[np.float32]:
        """One known value for every row and step 1..horizon (rows x horizon)."""
        return np.stack([self.at(k)[name] for k in range(1, horizon + 1)], axis=1)
