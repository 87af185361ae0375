"""Forecasts at every level of the channel tree on Dask (issue 23): `fit_levels` with the
bottom series on the cluster.

The bottom series are fitted by the Dask engine (`fit_forecaster_dask`). The aggregate
series' sell-through is additive over partitions of whole bottom series: each partition sums
its own series into the aggregates they belong to (`aggregate_history` of the partition)
and the client adds the partial sums up per series and period, so no bottom row reaches the
client. The aggregate series are few (parents, channels and the total crossed with skus,
groups and `*`): the client fits them with the local engine (`fit_upper`, as `fit_levels`
does) and reconciles once (`attach_levels`) with the bottom series' backtest windows, which
the partitions send with their forecaster pieces (the served model's mean and the actual per
series, step and window). The result is the `Forecaster` that `fit_levels` returns.

Choosing the default method (`method=None`) scores the calibration windows at every level
against the history, as `fit_levels` does; that gathers the bottom units (`date, node_id,
sku, units` only) to the client. Name the method to avoid it. `backtest_levels_dask` is
`backtest_levels` of a Dask backtest: the same reconciliation and scores from the
partitions' windows and part files, scored on the client (bottom units gathered too).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from features.config import DEFAULT_MODELS, BacktestConfig, FeatureSpec
from features.contract.partitioned import Store
from features.schema import DATE, ITEM, NODE, UNITS
from models.hierarchy import Hierarchy, build_hierarchy
from models.hierarchy.structure import LEVEL
from models.lgbm import LGBMConfig
from models.zoo import primary_model
from training.dask.backtest import DaskBacktest
from training.dask.forecast import fit_forecaster_dask
from training.engine.backtest import CUTOFF, MODEL, BacktestResult
from training.engine.forecast import Forecaster
from training.engine.hierarchy import (
    LevelBacktest,
    attach_levels,
    backtest_levels,
    choose_level_method,
    fit_upper,
    level_windows,
    upper_rows,
)
from training.engine.hierarchy_model import aggregate_history
from training.engine.windows import WindowForecasts

__all__ = ["aggregate_history_dask", "backtest_levels_dask", "bottom_windows",
           "fit_levels_dask"]

_KEY = [LEVEL, NODE, ITEM, DATE]


def _partial(path: str, hierarchy: Hierarchy, freq: str) -> pd.DataFrame:
    """One partition's sums into the aggregate series (`aggregate_history`)."""
    part = pd.read_parquet(path, columns=[DATE, NODE, ITEM, UNITS])
    part[DATE] = pd.to_datetime(part[DATE])
    return aggregate_history(part, hierarchy, freq=freq)


def aggregate_history_dask(client: Any, store: Store, hierarchy: Hierarchy) -> pd.DataFrame:
    """`aggregate_history` of the whole store: the partitions' partial sums, added up per
    aggregate series and period, in the order `aggregate_history` gives (hierarchy row,
    then date)."""
    shared = client.scatter(hierarchy, broadcast=True)
    parts = client.gather(client.map(_partial, [str(f) for f in store.files],
                                     hierarchy=shared, freq=store.freq, pure=False))
    frame = pd.concat(parts, ignore_index=True)
    summed = frame.groupby(_KEY, sort=False, observed=True)[UNITS].sum().reset_index()
    row = hierarchy.rows(summed[[LEVEL, NODE, ITEM]])
    order = np.lexsort((summed[DATE].to_numpy(), row))
    return summed.iloc[order].reset_index(drop=True)


def bottom_windows(result: DaskBacktest, model: str
                   ) -> tuple[pd.DataFrame, list[WindowForecasts]]:
    """The bottom series (`node_id, sku`) and every backtest window of them (`model`'s
    means, actuals, scales and classes), in the local engine's series order, from the
    partitions' pieces (a backtest run with `tail_periods`, as `fit_forecaster_dask` runs
    it)."""
    pieces = [r["piece"] for r in result.parts]
    if not pieces:
        raise ValueError("the Dask backtest kept no per-partition pieces; run it with "
                         "`tail_periods` (fit_forecaster_dask does).")
    keys = pd.concat([p["keys"] for p in pieces], ignore_index=True)
    order = np.lexsort((keys[ITEM].to_numpy(), keys[NODE].to_numpy()))
    out = []
    for i, first in enumerate(pieces[0]["windows"]):
        ws = [p["windows"][i] for p in pieces]
        out.append(WindowForecasts(
            cutoff=first.cutoff, t=first.t,
            means={model: np.concatenate([w.means[model] for w in ws])[order]},
            actual=np.concatenate([w.actual for w in ws])[order],
            scale=np.concatenate([w.scale for w in ws])[order],
            classes=np.concatenate([w.classes for w in ws])[order]))
    return keys.iloc[order][[NODE, ITEM]].astype(str).reset_index(drop=True), out


def backtest_levels_dask(result: DaskBacktest, store: Store, *, config: BacktestConfig,
                         items: pd.DataFrame | None = None,
                         outside_span: Literal["exclude", "zero"] = "exclude",
                         progress: bool = False) -> LevelBacktest:
    """`backtest_levels` of a Dask backtest of `config` (run with `tail_periods` and
    `all_models`): the bottom windows from the partitions' pieces, the served model's
    scored rows from the part files; the aggregate series are backtested and every window
    reconciled and scored on the client, which gathers the bottom units for the scores."""
    nodes = store.nodes()
    if nodes is None or result.all_models is None:
        raise ValueError(f"store {store.path} has no node table (nodes.csv gives the channel "
                         "tree), or the backtest wrote no `all_models` predictions.")
    model = primary_model(config.models)
    keys, windows = bottom_windows(result, model)
    preds = pd.read_parquet(result.all_models)
    preds = preds[preds[MODEL] == model].astype({NODE: str, ITEM: str, MODEL: str})
    preds = preds.sort_values([NODE, ITEM, CUTOFF, DATE], kind="stable")
    bottom = BacktestResult(predictions=preds.reset_index(drop=True), windows=windows,
                            panel_keys=keys, freq=store.freq)
    return backtest_levels(bottom, _units(store), nodes=nodes, items=items, config=config,
                           outside_span=outside_span, progress=progress)


def _units(store: Store) -> pd.DataFrame:
    """The store's `date, node_id, sku, units`, gathered (what the level scores need)."""
    history = store.dask_history(columns=[DATE, NODE, ITEM, UNITS]).compute()
    history[DATE] = pd.to_datetime(history[DATE])
    history[NODE] = history[NODE].astype(str)
    history[ITEM] = history[ITEM].astype(str)
    return history.sort_values([NODE, ITEM, DATE], kind="stable").reset_index(drop=True)


def fit_levels_dask(client: Any, store: Store, *, horizon: int,
                    models: Sequence[str] = DEFAULT_MODELS, items: pd.DataFrame | None = None,
                    calibration_windows: int = 3, spec: FeatureSpec | None = None,
                    lgbm: LGBMConfig | None = None, method: str | None = None,
                    outside_span: Literal["exclude", "zero"] = "exclude",
                    progress: bool = False) -> Forecaster:
    """`training.engine.hierarchy.fit_levels` on the store's partitions (module doc).

    Raises:
        ValueError: the store has no node table, the history is too short, or `method` is
            None with fewer than 2 calibration windows.
    """
    nodes = store.nodes()
    if nodes is None:
        raise ValueError(f"store {store.path} has no node table: the channel tree comes from "
                         "nodes.csv (`parent_id`, `channel`); ingest the data with it.")
    if method is None and calibration_windows < 2:
        raise ValueError("choosing the reconciliation method needs `calibration_windows` "
                         ">= 2; give more or name the method.")
    bottom, result = fit_forecaster_dask(client, store, horizon=horizon, models=models,
                                         calibration_windows=calibration_windows, spec=spec,
                                         lgbm=lgbm, progress=progress)
    assert bottom is not None  # assembled
    hierarchy = build_hierarchy(nodes, bottom.keys, items)
    aggregates = aggregate_history_dask(client, store, hierarchy)
    upper, high = fit_upper(aggregates, freq=store.freq, horizon=horizon, models=models,
                            calibration_windows=calibration_windows, spec=spec, lgbm=lgbm,
                            progress=progress)
    _, low = bottom_windows(result, bottom.primary)
    scores = None
    if method is None:
        windows = level_windows(low, high.windows, upper_rows(hierarchy, upper.keys),
                                bottom.primary)[:-1]
        method, scores = choose_level_method(hierarchy, windows, _units(store), aggregates,
                                             freq=store.freq, outside_span=outside_span)
    return attach_levels(bottom, upper, hierarchy, bottom_windows=low,
                         upper_windows=high.windows, method=method, scores=scores)
