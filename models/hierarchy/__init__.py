"""Forecasts at every level of the channel tree x items: structure, reconciliation, quantiles."""

from models.hierarchy.reconcile import COHERENT_METHODS, METHODS, Reconciler, fit_reconciler
from models.hierarchy.structure import (
    ALL_SKUS,
    LEVELS,
    TOTAL,
    Hierarchy,
    aggregate,
    build_hierarchy,
)

__all__ = ["ALL_SKUS", "COHERENT_METHODS", "LEVELS", "METHODS", "TOTAL", "Hierarchy",
           "Reconciler", "aggregate", "build_hierarchy", "fit_reconciler"]
