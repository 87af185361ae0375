"""The monitor's knobs: windows, false-alarm rates per severity, persistence and tolerances."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["MonitorConfig"]


@dataclass(frozen=True)
class MonitorConfig:
    """Settings of the detectors (defaults measured on walmart_store_dept, BENCHMARKS.md).

    Attributes:
        level_window: clean periods averaged (in log units) for a series' demand level.
        level_lag: periods between the newest one averaged and the period checked (>= 1), so
            a shift does not leak into its own baseline at once.
        season_weight: share of last year's deviation from its level carried into this
            year's expectation (0 = no season).
        scale_window: periods of past one-step errors behind a series' error scale.
        min_history: clean past errors a series needs before it is checked.
        calibration_window: periods of pooled history whose scores set the thresholds.
        rates: false-alarm rates of the severities low, medium, high and critical, in alerts
            started per entity-period: each threshold is the smallest score that would have
            started at most that many on history (`signal.thresholds_at`).
        drop_slack: how far below expectation (in error scales) a period must be to count
            towards a drop.
        min_run: clean periods below expectation a drop needs (a lasting shift, not one week).
        drop_window: the most recent periods of a drop's run that make its score.
        stuffing_window: periods over which sell-in must exceed sell-through.
        cover_window: periods of sell-through behind a node's cover.
        band_window: periods of a node's own past cover that make its normal band.
        min_cover_rise: smallest cover / normal cover that can be stuffing.
        min_sell_in_ratio: smallest sell-in / sell-through over `stuffing_window`.
        mismatch_units: stock-balance tolerance in units.
        mismatch_share: stock-balance tolerance as a share of the stock flow.
        gap_lookback: periods before a silence over which the node must have reported.
        gap_regularity: share of those periods it must have reported in.
    """

    level_window: int = 12
    level_lag: int = 1
    season_weight: float = 0.5
    scale_window: int = 52
    min_history: int = 8
    calibration_window: int = 104
    rates: tuple[float, float, float, float] = (2e-3, 4.5e-4, 9e-5, 1.8e-5)
    drop_slack: float = 0.75
    min_run: int = 2
    drop_window: int = 4
    stuffing_window: int = 4
    cover_window: int = 8
    band_window: int = 52
    min_cover_rise: float = 1.25
    min_sell_in_ratio: float = 1.2
    mismatch_units: float = 0.5
    mismatch_share: float = 0.01
    gap_lookback: int = 12
    gap_regularity: float = 0.9

    def __post_init__(self) -> None:
        """Refuse settings that cannot work, naming the field."""
        for name in ("level_window", "level_lag", "scale_window", "min_history",
                     "calibration_window", "min_run", "drop_window", "stuffing_window",
                     "cover_window", "band_window", "gap_lookback"):
            if getattr(self, name) < 1:
                raise ValueError(f"MonitorConfig.{name} must be >= 1; got "
                                 f"{getattr(self, name)}.")
        if not all(0 < r < 1 for r in self.rates) or list(self.rates) != sorted(
                self.rates, reverse=True):
            raise ValueError("MonitorConfig.rates must be decreasing rates in (0, 1) for "
                             f"low, medium, high, critical; got {self.rates}.")
