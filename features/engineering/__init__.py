"""Feature engineering: the dense panel, calendar, lags, hierarchy totals and the training set."""

from features.engineering.history import Panel, build_panel
from features.engineering.training_set import ORIGIN, TrainingSet, build_training_set

__all__ = ["ORIGIN", "Panel", "TrainingSet", "build_panel", "build_training_set"]
