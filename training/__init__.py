"""Backtests, forecasts, MLflow runs and the registry: engine, tracking, policy and dask rooms."""

__all__: list[str] = []
