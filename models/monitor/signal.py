"""A detector's output: a causal score per entity and period, calibrated into severities.

A detector turns the panel into a `Signal`: for every series (or node) and period t a score
computed from periods <= t only. Thresholds are the smallest scores that would have started
alerts in at most a given rate of the pooled entity-periods before t (one rate per
severity, `MonitorConfig.rates`), never below the detector's floors, so the false-alarm
rate (alerts per entity-period) is measured on the data, not assumed.
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
        start: (entities x periods) first period of the evidence ending at t (for drops and
            stuffing its most likely change point, `changepoint.shift_start`).
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
    """Thresholds (low, medium, high, critical) for period t from scores of periods before t.

    Each is the smallest score that would have started alerts (an entity crossing it from
    below) in at most its rate of the pooled past entity-periods: the rate is one of alerts,
    not of flagged periods, so a lasting drop counts once, as it does for the planner.
    """
    lo = max(signal.calibrate_from, t - config.calibration_window)
    floors = np.asarray(signal.floors, dtype=float)
    if t <= lo or not signal.calibrated:
        return floors
    now = signal.score[:, lo:t]
    n = int((~np.isnan(now)).sum())
    if n == 0:
        return floors
    # below the lowest floor no threshold can fall, so only scores above it are candidates
    rows, cols = np.nonzero(np.nan_to_num(now, nan=-np.inf) >= floors[0])
    before = np.where(cols > 0, now[rows, np.maximum(cols - 1, 0)],
                      signal.score[rows, lo - 1] if lo else -np.inf)
    high = now[rows, cols]
    started = _alerts_started(high, np.fmin(high, np.nan_to_num(before, nan=-np.inf)),
                              floors)
    cuts = np.full(floors.size, -np.inf)
    for i, rate in enumerate(config.rates):
        if n * rate >= MIN_EXCEEDANCES:  # a rate counts only with enough alerts behind it
            cuts[i] = started[0][np.flatnonzero(started[1] <= rate * n)[0]]
    return np.maximum.accumulate(np.maximum(cuts, floors)).astype(np.float64)


def _alerts_started(scores: FloatArray, low_of_two: FloatArray, floors: FloatArray
                    ) -> tuple[FloatArray, IntArray]:
    """Candidate thresholds (ascending) and how many alerts each would have started."""
    # an alert starts at h where score >= h and the period before did not: for each h,
    # #(score >= h) - #(min(score, score before) >= h)
    candidates = np.unique(np.concatenate([scores, floors, [np.inf]]))
    scores, lows = np.sort(scores), np.sort(low_of_two)
    started = (scores.size - np.searchsorted(scores, candidates, side="left")) - (
        lows.size - np.searchsorted(lows, candidates, side="left"))
    return candidates, started.astype(np.int64)


def severity_at(scores: FloatArray, thresholds: FloatArray) -> npt.NDArray[np.object_]:
    """Severity of each score ("" below the low threshold) given ascending thresholds."""
    level = np.searchsorted(thresholds, np.nan_to_num(scores, nan=-np.inf), side="right")
    names = np.array(["", *SEVERITIES[::-1]], dtype=object)  # "", low, medium, high, critical
    return names[level]
