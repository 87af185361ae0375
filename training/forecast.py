"""Forecast every series from all history, with the backtest's model choice and quantiles.

The same machinery as the backtest: `calibration_windows` rolling windows just before the
end give each model's out-of-sample errors (for its quantiles) and each series' model choice
(`auto`); then every model is fitted on all history and forecasts from the last period.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from features.history import build_panel
from features.training_set import FeatureSpec
from training.backtest import MODEL, BacktestConfig, BacktestResult, run_backtest
from training.windows import cutoffs as rolling_cutoffs

__all__ = ["forecast_all"]

DEFAULT_MODELS = ("lgbm", "ets", "snaive", "croston", "tsb", "ma", "auto")


def forecast_all(history: pd.DataFrame, *, freq: str, horizon: int,
                 nodes: pd.DataFrame | None = None, models: Sequence[str] = DEFAULT_MODELS,
                 quantiles: Sequence[float] = (0.1, 0.5, 0.9), calibration_windows: int = 3,
                 spec: FeatureSpec | None = None) -> BacktestResult:
    """Forecasts of every model (column `model`) for every series, from the last period.

    Raises:
        ValueError: when the history is too short for `calibration_windows` windows of
            `horizon` periods before its end (lower either).
    """
    panel_dates = build_panel(history[["date", "node_id", "sku", "units"]], freq=freq).dates
    calib = rolling_cutoffs(panel_dates, horizon=horizon, windows=calibration_windows,
                            step=horizon)
    config = BacktestConfig(horizon=horizon, windows=1, step=horizon, models=tuple(models),
                            quantiles=tuple(quantiles), warmup=calibration_windows, spec=spec)
    result = run_backtest(history, freq=freq, config=config, nodes=nodes,
                          cutoffs=[*calib, panel_dates[-1]])
    result.predictions = result.predictions.drop(columns=[]).sort_values(
        [MODEL, "node_id", "sku", "date"], kind="stable").reset_index(drop=True)
    return result
