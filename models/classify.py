"""Demand-pattern classification of series (Syntetos-Boylan-Croston) and a default model route.

Same input convention as `models.panel`: `y` is (S, T) with NaN for unobserved periods.
Only observed cells up to the origin (the last column) are used.

Classes, in order of precedence:

- `new`: fewer than `min_obs` observed periods in the whole history (too short to profile).
- `zero`: no positive sales in the profiled periods.
- otherwise the SBC quadrant of ADI (average inter-demand interval) and CV^2 (squared
  coefficient of variation of the non-zero sizes), with cut-offs 1.32 and 0.49:
  `smooth` (ADI < 1.32, CV^2 < 0.49), `erratic` (ADI < 1.32, CV^2 >= 0.49),
  `intermittent` (ADI >= 1.32, CV^2 < 0.49), `lumpy` (ADI >= 1.32, CV^2 >= 0.49).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from models.checks import positive_int
from models.panel import FloatArray, as_panel, recent_mask

__all__ = [
    "ADI_CUTOFF",
    "CLASSES",
    "CV2_CUTOFF",
    "DEFAULT_ROUTES",
    "MIN_OBS",
    "SeriesProfile",
    "profile_series",
    "route",
]

ADI_CUTOFF = 1.32
CV2_CUTOFF = 0.49
MIN_OBS = 8
"""Observed periods below which a series is `new` (two months of weekly history)."""

CLASSES: tuple[str, ...] = ("smooth", "erratic", "intermittent", "lumpy", "zero", "new")

DEFAULT_ROUTES: Mapping[str, str] = {
    "smooth": "ets",
    "erratic": "ets",
    "intermittent": "croston_sba",
    "lumpy": "tsb",
    "zero": "zero",
    "new": "moving_average",
}
"""Prior model per class; the backtest overrides it. `new` gets a short moving average
because a few points cannot fit a model, and `zero` forecasts 0."""


@dataclass(frozen=True)
class SeriesProfile:
    """Per-series demand profile, every field of shape (S,).

    Attributes:
        cls: class name (one of `CLASSES`).
        adi: observed periods / periods with demand in the profiled window (NaN if no demand).
        cv2: squared coefficient of variation (population variance) of the non-zero sizes
            (NaN if no demand, 0 with a single demand).
        n_obs: observed (non-NaN) periods in the whole history.
        nonzero_share: share of profiled observed periods with demand (NaN if none observed).
    """

    cls: npt.NDArray[np.str_]
    adi: FloatArray
    cv2: FloatArray
    n_obs: npt.NDArray[np.int64]
    nonzero_share: FloatArray

    def to_frame(self, index: pd.Index | None = None) -> pd.DataFrame:
        """The profile as a DataFrame with one row per series and a categorical `cls`."""
        return pd.DataFrame(
            {
                "cls": pd.Categorical(self.cls, categories=list(CLASSES)),
                "adi": self.adi,
                "cv2": self.cv2,
                "n_obs": self.n_obs,
                "nonzero_share": self.nonzero_share,
            },
            index=index,
        )


def _size_moments(panel: FloatArray, keep: npt.NDArray[np.bool_]) -> tuple[FloatArray, ...]:
    """Observed count, demand count and CV^2 of the positive values inside `keep`."""
    demand = keep & (panel > 0)
    n_kept = keep.sum(axis=1).astype(np.float64)
    n_demand = demand.sum(axis=1).astype(np.float64)
    sizes = np.where(demand, panel, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = sizes.sum(axis=1) / n_demand
        var = np.where(demand, (panel - mean[:, None]) ** 2, 0.0).sum(axis=1) / n_demand
        cv2 = var / mean**2
    return n_kept, n_demand, cv2


def profile_series(
    y: npt.ArrayLike,
    *,
    window: int | None = None,
    min_obs: int = MIN_OBS,
    adi_cutoff: float = ADI_CUTOFF,
    cv2_cutoff: float = CV2_CUTOFF,
) -> SeriesProfile:
    """Classify each series as smooth / erratic / intermittent / lumpy / zero / new.

    Args:
        y: (S, T) panel, NaN = not observed.
        window: profile only the last `window` observed periods of each series (default: all).
            `new` always looks at the whole history.
        min_obs: series with fewer observed periods are `new`.
        adi_cutoff: ADI at or above which demand counts as intermittent.
        cv2_cutoff: CV^2 at or above which sizes count as variable.
    """
    panel = as_panel(y)
    if window is not None:
        window = positive_int("window", window)
    min_obs = positive_int("min_obs", min_obs)
    obs = ~np.isnan(panel)
    n_kept, n_demand, cv2 = _size_moments(panel, recent_mask(obs, window))
    with np.errstate(invalid="ignore", divide="ignore"):
        adi = np.where(n_demand > 0, n_kept / n_demand, np.nan)
        share = np.where(n_kept > 0, n_demand / n_kept, np.nan)
    quadrant = (adi >= adi_cutoff).astype(int) * 2 + (cv2 >= cv2_cutoff).astype(int)
    n_obs = obs.sum(axis=1).astype(np.int64)
    code = np.where(n_obs < min_obs, 5, np.where(n_demand == 0, 4, quadrant))
    return SeriesProfile(
        cls=np.asarray(CLASSES)[code], adi=adi, cv2=cv2, n_obs=n_obs, nonzero_share=share
    )


def route(profile: SeriesProfile, routes: Mapping[str, str] | None = None) -> npt.NDArray[np.str_]:
    """Default model name per series from its class.

    Args:
        profile: output of `profile_series`.
        routes: overrides merged over `DEFAULT_ROUTES`, e.g. `{"lumpy": "croston_sba"}`.

    Returns:
        (S,) array of model names.
    """
    table = {**DEFAULT_ROUTES, **(routes or {})}
    unknown = sorted(set(table) - set(CLASSES))
    if unknown:
        raise ValueError(f"`routes` has unknown classes {unknown}; expected some of {CLASSES}.")
    labels, inverse = np.unique(profile.cls, return_inverse=True)
    return np.asarray([table[str(c)] for c in labels], dtype=str)[inverse.reshape(-1)]
