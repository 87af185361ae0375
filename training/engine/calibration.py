"""The served model's per-period forecasts on its calibration windows, kept compactly.

`fit_forecaster` scores the served model on `calibration_windows` rolling windows of
`horizon` periods just before its origin (for its quantiles, `auto`'s choice and
`Forecaster.errors`). `CalibrationForecasts` keeps what the model forecast there, per series,
window and step, as float32 (30,000 series x 3 windows x 8 steps is 2.9 MB), with each
window's cutoff: any aggregate of them (interval sums for the pooled gate,
`training.policy.served`) can then be scored against the recorded sales. A forecaster
pickled before they were kept reads `EMPTY_CALIBRATION` (no windows).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from training.engine.windows import WindowForecasts

__all__ = ["EMPTY_CALIBRATION", "CalibrationForecasts", "calibration_forecasts"]


@dataclass(frozen=True, eq=False)
class CalibrationForecasts:
    """The served model's mean forecasts on its calibration windows.

    Attributes:
        cutoffs: the last period each window's model saw, oldest first.
        means: series x window x step mean forecasts (float32; rows follow `Forecaster.keys`).
    """

    cutoffs: pd.DatetimeIndex
    means: npt.NDArray[np.float32]

    @property
    def windows(self) -> int:
        """Calibration windows kept (0: none, e.g. a forecaster pickled before they were)."""
        return len(self.cutoffs)


EMPTY_CALIBRATION = CalibrationForecasts(cutoffs=pd.DatetimeIndex([]),
                                         means=np.zeros((0, 0, 0), np.float32))
"""No calibration windows on record."""


def calibration_forecasts(windows: Sequence[WindowForecasts], model: str
                          ) -> CalibrationForecasts:
    """`model`'s mean forecasts on the backtest `windows` (series x window x step, float32)."""
    if not windows:
        return EMPTY_CALIBRATION
    means = np.stack([w.means[model] for w in windows], axis=1).astype(np.float32)
    return CalibrationForecasts(cutoffs=pd.DatetimeIndex([w.cutoff for w in windows]),
                                means=means)
