"""The Dask engine, a plug-in: the local engine's backtest and forecasts over partitions."""

from training.dask.backtest import run_backtest_dask
from training.dask.forecast import fit_forecaster_dask
from training.dask.stages import backtest_stage_dask, forecast_stage_dask, train_stage_dask

__all__ = ["backtest_stage_dask", "fit_forecaster_dask", "forecast_stage_dask",
           "run_backtest_dask", "train_stage_dask"]
