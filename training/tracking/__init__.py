"""The MLflow side: tracked stages, run records, the pyfunc model, the registry, promotion."""

from training.tracking.promotion import promote_stage
from training.tracking.settings import StoreSettings, store_settings
from training.tracking.stages import backtest_stage, forecast_stage, train_stage

__all__ = ["StoreSettings", "backtest_stage", "forecast_stage", "promote_stage",
           "store_settings", "train_stage"]
