"""Exponential smoothing (ETS) per series, fitted in batches and chosen by AICc."""

from models.ets._forms import parse_forms
from models.ets._kernels import end_states
from models.ets.model import ETSFit, aicc, fit_ets, forecast_ets

__all__ = ["ETSFit", "aicc", "end_states", "fit_ets", "forecast_ets", "parse_forms"]
