"""The served model's series at every level of the channel tree (issue 23): which aggregate
series it knows, which reconciliation methods it offers, and their forecasts.

A model trained with a hierarchy (`Forecaster.levels`) answers any series of the tree
(`level, node_id, sku`; sku `*` = all skus) through `Forecaster.predict_levels`. As
`ForecastCache` does for the bottom series, the forecasts of every series for one (model,
horizon, quantiles, method) are computed once per `ServedModel` and sliced per request.
A reconciliation computes every series whatever is asked, so its table is always kept; base
forecasts (`none`) of a hierarchy over `FULL_CACHE_SERIES` series are made per request for
the requested series only. A model without a hierarchy (trained before issue 23, or on
nodes without parents and channels) has no aggregate series: `NoLevelsError`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from features.schema import ITEM, NODE
from models.hierarchy import Hierarchy
from serving.errors import ApiError
from serving.model_store import (
    FULL_CACHE_SERIES,
    ForecastTable,
    ServedModel,
    find_rows,
    table_of,
)
from training.engine.hierarchy_model import NONE

__all__ = ["LEVEL", "LevelIndex", "NoLevelsError", "SeriesId", "level_frame", "level_index",
           "level_table", "methods", "no_levels", "not_a_method"]

LEVEL = "level"
SeriesId = tuple[str, str, str]
"""(level, node_id, sku) of a series of the channel tree."""


class NoLevelsError(LookupError):
    """The served model has no hierarchy: it forecasts node x sku series only."""


def no_levels(model: ServedModel) -> NoLevelsError:
    """The error for an aggregate series (or a reconciliation) asked of `model`."""
    made = f"{model.name} v{model.version}" if model.version else model.uri
    return NoLevelsError(
        f"the served model ({made}) was trained without a hierarchy (before issue 23, or on "
        "nodes without `parent_id` and `channel`): it forecasts node x sku series only. Ask "
        "for level `node`, or train a model on nodes.csv with parents and channels and "
        "promote it.")


@dataclass(frozen=True)
class LevelIndex:
    """Every series of a model's hierarchy: keys in hierarchy order and their rows.

    Attributes:
        keys: `level, node_id, sku` per series (bottom series first).
        rows: (level, node_id, sku) -> row in `keys`.
        members: how many bottom series each series adds up.
        n_bottom: the bottom series (node x sku as sold) are the first `n_bottom` rows.
    """

    keys: pd.DataFrame
    rows: dict[SeriesId, int]
    members: npt.NDArray[np.int64]
    n_bottom: int

    def find(self, wanted: list[SeriesId]) -> tuple[list[int], list[SeriesId]]:
        """Row of each known series and the unknown ones."""
        return find_rows(self.rows, wanted)


def _index_of(hierarchy: Hierarchy) -> LevelIndex:
    keys = hierarchy.keys[[LEVEL, NODE, ITEM]].astype(str).reset_index(drop=True)
    rows = {(lv, n, s): i for i, (lv, n, s) in enumerate(keys.itertuples(index=False))}
    members = np.asarray(hierarchy.summing.getnnz(axis=1), dtype=np.int64)
    return LevelIndex(keys=keys, rows=rows, members=members, n_bottom=hierarchy.n_bottom)


def level_index(model: ServedModel) -> LevelIndex | None:
    """The series of the model's hierarchy (None: the model has none); built once."""
    hierarchy = model.forecaster.hierarchy
    if hierarchy is None:
        return None
    return model.forecasts.derived(("levels", "index"), lambda: _index_of(hierarchy))


def methods(model: ServedModel) -> list[str]:
    """Reconciliation methods the model answers with (`none` = base forecasts); [] without
    a hierarchy."""
    levels = model.forecaster.levels
    return [] if levels is None else [*levels.reconcilers, NONE]


def not_a_method(where: str, method: str, offered: list[str]) -> ApiError:
    """The 422 for a `reconcile` (at `where`, e.g. `body.reconcile`) not in `offered`."""
    return ApiError(422, f"{where}: must be one of {offered}; got {method!r}.",
                    errors=[{"loc": [*where.split(".")], "type": "enum", "msg": f"one of {offered}",
                             "value": method}])


def level_frame(model: ServedModel, keys: list[SeriesId], *, name: str, horizon: int,
                quantiles: tuple[float, ...], method: str) -> pd.DataFrame:
    """`predict_levels` rows of `keys` (known series of the model's hierarchy)."""
    series = pd.DataFrame(keys, columns=[LEVEL, NODE, ITEM])
    return model.forecaster.predict_levels(series, horizon=horizon, quantiles=quantiles,
                                           model=name, reconcile=method)


def level_table(model: ServedModel, *, name: str, horizon: int, quantiles: tuple[float, ...],
                method: str) -> ForecastTable | None:
    """Forecasts of every series of the hierarchy (rows as `level_index`), computed once
    per (model, horizon, quantiles, method). A reconciliation computes every series anyway
    (a few MB for 30,000); only base forecasts (`none`) of a hierarchy over
    `FULL_CACHE_SERIES` series give None: forecast the requested ones (`level_frame`)."""
    index = level_index(model)
    if index is None:
        raise no_levels(model)
    if method == NONE and len(index.keys) > FULL_CACHE_SERIES:
        return None
    f = model.forecaster

    def compute() -> ForecastTable:
        frame = f.predict_levels(None, horizon=horizon, quantiles=quantiles, model=name,
                                 reconcile=method)
        return table_of(frame, horizon, quantiles, f.dates)

    return model.forecasts.kept(("levels", name, horizon, quantiles, method), compute)

