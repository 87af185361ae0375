"""A detector's output: a causal score per entity and period, calibrated into severities.

A detector turns the panel into a `Signal`: for every series (or node) and period t a score
computed from periods <= t only. Thresholds are the (1 - rate) quantiles of the score on the
pooled history before t (one rate per severity, `MonitorConfig.rates`), never below the
detector's floors, so the false-alarm rate is measured on the data, not assumed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from models.monitor.config import MonitorConfig
from models.monitor.vocabulary import SEVERITIES

__all__ = ["Signal", "severity_at", "thresholds_at"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
MIN_EXCEEDANCES = 5


@dataclass(frozen=True)
class Signal:
    """One detector's scores over the panel.

    Attributes:
        kind: the alert kind (vocabulary.KINDS).
        node_level: True when rows are nodes (Panel.node_ids), else series (Panel.keys).
        score: (entities x periods) score, larger is worse; NaN where not checked.
        start: (entities x periods) first period of the evidence ending at t.
        expected: (entities x periods) what was expected (units, weeks of cover, ...).
        observed: (entities x periods) what was seen, in the same unit.
        floors: smallest threshold of low, medium, high and critical.
        extra: more (entities x periods) arrays the messages quote.
        calibrated: False when the floors alone are the thresholds (counts, not noise).
        calibrate_from: first period whose scores calibrate (the model's regime before it,
            e.g. no season known yet, would misstate the false-alarm rate).
    """

    kind: str
    node_level: bool
    score: FloatArray
    start: IntArray
    expected: FloatArray
    observed: FloatArray
    floors: tuple[float, float, float, float]
    extra: dict[str, FloatArray] = field(default_factory=dict)
    calibrated: bool = True
    calibrate_from: int = 0


def thresholds_at(signal: Signal, t: int, config: MonitorConfig) -> FloatArray:
    """Thresholds (low, medium, high, critical) for period t from scores of periods before t."""
    lo = max(signal.calibrate_from, t - config.calibration_window)
    past = signal.score[:, lo:t]
    past = past[~np.isnan(past)]
    floors = np.asarray(signal.floors, dtype=float)
    if past.size == 0 or not signal.calibrated:
        return floors
    rates = np.asarray(config.rates)
    q = np.quantile(past, 1 - rates, method="higher")
    # a quantile counts only where history holds >= MIN_EXCEEDANCES scores beyond it
    q = np.where(past.size * rates >= MIN_EXCEEDANCES, q, -np.inf)
    return np.maximum.accumulate(np.maximum(q, floors)).astype(np.float64)


def severity_at(scores: FloatArray, thresholds: FloatArray) -> npt.NDArray[np.object_]:
    """Severity of each score ("" below the low threshold) given ascending thresholds."""
    level = np.searchsorted(thresholds, np.nan_to_num(scores, nan=-np.inf), side="right")
    names = np.array(["", *SEVERITIES[::-1]], dtype=object)  # "", low, medium, high, critical
    return names[level]
