"""The local engine: rolling-origin backtest, per-series model choice, forecasts, metrics."""

from training.engine.backtest import BacktestResult, run_backtest
from training.engine.forecast import Forecaster, fit_forecaster
from training.engine.loading import Loaded, load_data
from training.engine.metrics import evaluate

__all__ = ["BacktestResult", "Forecaster", "Loaded", "evaluate", "fit_forecaster", "load_data",
           "run_backtest"]
