"""Forecasts at every level of the channel tree: base forecasts of the aggregate series with
our engine, reconciled at each backtest window, scored per level; the default method.

The aggregate series (`models.hierarchy.build_hierarchy`: parents, channels and the total,
crossed with skus, groups and `*`) get their sell-through from `aggregate_history` and are
fitted by the same models as the bottom series (a second run of the engine, without node
attributes). At every window, each series' base means and actuals are stacked in the
hierarchy's row order; the reconcilers of a window are fitted on the residuals of earlier
windows only (the steps already known at its cutoff), as the engine's conformal quantiles
are. Scores: `training.engine.metrics.evaluate` per method, level and sku kind (`skus`:
`sku`, `group` or `*`), so WRMSSE weights and scales are M5's within each of those cells;
`wrmsse_m5` is their average, as in M5. The default method (`choose_method`) is the
coherent method with the lowest mean cell WRMSSE ratio to unreconciled per window
(`training.engine.hierarchy_choice`; `wrmsse_m5` without per-window scores) among those that
leave the bottom series at most `BOTTOM_TOLERANCE` (1%) worse than unreconciled (issue 23's
bound), ties to the earlier in `COHERENT_METHODS`: the same data and windows always give the
same choice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from features.config import BacktestConfig, FeatureSpec, LGBMConfig
from features.engineering.history import build_panel
from features.schema import CHANNEL, DATE, ITEM, NODE, PARENT, UNITS
from models.hierarchy import (
    ALL_SKUS,
    COHERENT_METHODS,
    Hierarchy,
    Reconciler,
    aggregate,
    build_hierarchy,
    fit_reconciler,
)
from models.hierarchy.structure import LEVEL
from models.quantiles import quantile_name
from models.zoo import primary_model
from training.engine.backtest import BacktestResult, run_backtest
from training.engine.forecast import Forecaster, fit_forecaster_result, forecast_dates
from training.engine.hierarchy_choice import (
    BOTTOM_TOLERANCE,
    CUTOFF,
    METHOD,
    SKUS,
    choose_method,
    summarize,
)
from training.engine.hierarchy_model import (
    LevelForecasts,
    aggregate_history,
    engine_keys,
)
from training.engine.metrics import evaluate, row_frame
from training.engine.windows import WindowForecasts

__all__ = ["BOTTOM_TOLERANCE", "LEVEL_QUANTILES", "METHOD", "SKUS", "LevelBacktest",
           "LevelWindow", "aggregate_history", "attach_levels", "backtest_levels",
           "choose_level_method", "choose_method", "fit_levels", "fit_upper", "has_hierarchy",
           "known_residuals", "level_windows", "reconcile_windows", "score_levels",
           "series_ids", "sku_kinds", "summarize", "upper_rows", "with_level_quantiles"]

#: Quantiles every level is scored with: the 80% and 95% intervals and the median.
LEVEL_QUANTILES = (0.025, 0.1, 0.5, 0.9, 0.975)
_ROW = "_row"

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass
class LevelWindow:
    """Every series' base means and actuals (n_all x h, hierarchy rows) at one cutoff."""

    cutoff: pd.Timestamp
    t: int
    means: FloatArray
    actual: FloatArray


@dataclass
class LevelBacktest:
    """Per-level backtest: predictions of every method, scores, summary and the winner."""

    hierarchy: Hierarchy
    predictions: pd.DataFrame
    scores: pd.DataFrame
    summary: pd.DataFrame
    winner: str | None  # None: no window had actuals to score
    upper: BacktestResult


def has_hierarchy(nodes: pd.DataFrame | None) -> bool:
    """Whether a node table can give the levels: rows with `parent_id` and `channel`."""
    return nodes is not None and len(nodes) > 0 and {NODE, PARENT, CHANNEL} <= set(nodes)


def with_level_quantiles(config: BacktestConfig) -> BacktestConfig:
    """`config` with `LEVEL_QUANTILES` added to its quantiles (what every level is scored on)."""
    return replace(config, quantiles=tuple(sorted({*config.quantiles, *LEVEL_QUANTILES})))


def series_ids(hierarchy: Hierarchy) -> pd.DataFrame:
    """`node_id, sku` the engine knows each hierarchy row by (bottom rows: their own)."""
    n = hierarchy.n_bottom
    bottom = hierarchy.keys.iloc[:n][[NODE, ITEM]].astype(str)
    return pd.concat([bottom, engine_keys(hierarchy.keys.iloc[n:])], ignore_index=True)


def sku_kinds(hierarchy: Hierarchy) -> npt.NDArray[np.str_]:
    """`sku`, `group` or `*` per hierarchy row."""
    sku = hierarchy.keys[ITEM].astype(str)
    real = set(sku.iloc[: hierarchy.n_bottom])
    kind = np.where(sku == ALL_SKUS, ALL_SKUS, np.where(sku.isin(real), "sku", "group"))
    return kind.astype(str)


def _upper_frame(aggregates: pd.DataFrame) -> pd.DataFrame:
    keys = engine_keys(aggregates)
    return pd.DataFrame({DATE: aggregates[DATE].to_numpy(), NODE: keys[NODE].to_numpy(),
                         ITEM: keys[ITEM].to_numpy(), UNITS: aggregates[UNITS].to_numpy()})


def upper_rows(hierarchy: Hierarchy, upper_keys: pd.DataFrame) -> IntArray:
    """Row in `upper_keys` (the aggregate run's series) of each aggregate hierarchy row."""
    ids = series_ids(hierarchy).iloc[hierarchy.n_bottom:]
    index = pd.MultiIndex.from_frame(upper_keys[[NODE, ITEM]].astype(str))
    rows = index.get_indexer(pd.MultiIndex.from_frame(ids))
    if (rows < 0).any():
        raise ValueError(f"{int((rows < 0).sum())} aggregate series have no base forecast "
                         "(no sell-through below them); rebuild the hierarchy from the "
                         "series that were fitted.")
    return rows.astype(np.int64)


def fit_upper(aggregates: pd.DataFrame, *, freq: str, horizon: int, models: Sequence[str],
              calibration_windows: int = 3, spec: FeatureSpec | None = None,
              lgbm: LGBMConfig | None = None, progress: bool = False
              ) -> tuple[Forecaster, BacktestResult]:
    """Our engine on the aggregate series (`aggregate_history`'s frame), keyed by
    `engine_keys`: `fit_forecaster_result` without node attributes."""
    return fit_forecaster_result(_upper_frame(aggregates), freq=freq, horizon=horizon,
                                 models=models, calibration_windows=calibration_windows,
                                 spec=spec, lgbm=lgbm, progress=progress)


def level_windows(bottom: Sequence[WindowForecasts], upper: Sequence[WindowForecasts],
                  rows: IntArray, model: str) -> list[LevelWindow]:
    """Bottom and aggregate windows (same cutoffs) stacked in hierarchy row order."""
    if [w.cutoff for w in bottom] != [w.cutoff for w in upper]:
        raise ValueError("bottom and aggregate windows must have the same cutoffs.")
    return [LevelWindow(b.cutoff, b.t, np.vstack([b.means[model], u.means[model][rows]]),
                        np.vstack([b.actual, u.actual[rows]]))
            for b, u in zip(bottom, upper, strict=True)]


def known_residuals(windows: Sequence[LevelWindow], t: int) -> tuple[FloatArray, list[int]]:
    """`actual - mean` of the steps of `windows` known at grid index `t`, and their steps."""
    parts, steps = [], []
    for w in windows:
        k = min(max(t - w.t, 0), w.means.shape[1])
        parts.append(w.actual[:, :k] - w.means[:, :k])
        steps += list(range(1, k + 1))
    return np.concatenate(parts, axis=1), steps


def _fit_all(hierarchy: Hierarchy, windows: Sequence[LevelWindow], t: int,
             methods: Sequence[str]) -> dict[str, Reconciler]:
    residuals, steps = known_residuals(windows, t)
    if residuals.shape[1] == 0:
        raise ValueError("no earlier window to fit reconcilers on; give at least one "
                         "warm-up or calibration window.")
    return {m: fit_reconciler(hierarchy, residuals, m, steps=steps) for m in methods}


def reconcile_windows(hierarchy: Hierarchy, windows: Sequence[LevelWindow], *, first: int,
                      methods: Sequence[str], quantiles: Sequence[float], freq: str
                      ) -> tuple[pd.DataFrame, dict[str, float]]:
    """Reconciled predictions of windows `first..` (each fitted on the windows before it):
    rows `method, _row, cutoff, date, step, mean, q...`; and each method's largest
    coherence error (|aggregate of its bottom rows - its rows|)."""
    qs = sorted({float(q) for q in quantiles})
    parts, coherence = [], dict.fromkeys(methods, 0.0)
    for i in range(first, len(windows)):
        w = windows[i]
        h = w.means.shape[1]
        dates = forecast_dates(w.cutoff, h, freq)
        for method, rec in _fit_all(hierarchy, windows[:i], w.t, methods).items():
            means = rec.means(w.means)
            gap = np.abs(aggregate(means[: hierarchy.n_bottom], hierarchy) - means)
            coherence[method] = max(coherence[method], float(np.max(gap, initial=0.0)))
            quant = rec.quantiles(means, qs)
            frame = pd.DataFrame({METHOD: method, _ROW: np.repeat(np.arange(len(means)), h),
                                  "cutoff": w.cutoff, DATE: np.tile(dates, len(means)),
                                  "step": np.tile(np.arange(1, h + 1), len(means)),
                                  "mean": means.ravel()})
            for j, q in enumerate(qs):
                frame[quantile_name(q)] = quant[:, :, j].ravel()
            parts.append(frame)
    return pd.concat(parts, ignore_index=True), coherence


def _base_predictions(hierarchy: Hierarchy, bottom: BacktestResult, upper: BacktestResult,
                      model: str, rows: IntArray) -> pd.DataFrame:
    """`none`: the engine's own scored predictions of every series, with `_row`."""
    low = bottom.for_model(model)
    low[_ROW] = hierarchy.rows(low[[NODE, ITEM]].assign(**{LEVEL: "node"}))
    high = upper.for_model(model)
    assert upper.panel_keys is not None
    index = pd.MultiIndex.from_frame(upper.panel_keys[[NODE, ITEM]].astype(str))
    of_upper = np.full(len(index), -1, dtype=np.int64)
    of_upper[rows] = np.arange(len(rows)) + hierarchy.n_bottom
    high[_ROW] = of_upper[index.get_indexer(pd.MultiIndex.from_frame(high[[NODE, ITEM]]
                                                                     .astype(str)))]
    high = high[high[_ROW] >= 0]
    out = pd.concat([low, high], ignore_index=True).drop(columns=[NODE, ITEM])
    out["step"] = out.groupby([_ROW, "cutoff"]).cumcount() + 1
    out.insert(0, METHOD, "none")
    return out


def _labelled(hierarchy: Hierarchy, frame: pd.DataFrame) -> pd.DataFrame:
    """`_row` replaced by `level, skus, node_id, sku` (first columns after `method`)."""
    row = frame.pop(_ROW).to_numpy()
    keys = hierarchy.keys
    labels = {LEVEL: keys[LEVEL].to_numpy()[row], SKUS: sku_kinds(hierarchy)[row],
              NODE: keys[NODE].to_numpy()[row], ITEM: keys[ITEM].to_numpy()[row]}
    for j, (col, values) in enumerate(labels.items()):
        frame.insert(1 + j, col, values)
    return frame


def score_levels(predictions: pd.DataFrame, hierarchy: Hierarchy, history: pd.DataFrame,
                 aggregates: pd.DataFrame, *, freq: str,
                 outside_span: Literal["exclude", "zero"] = "exclude", per_cutoff: bool = False
                 ) -> pd.DataFrame:
    """`evaluate` per method (per cutoff too with `per_cutoff`), level and sku kind, plus
    `coverage95` (q0.025..q0.975); target periods after the history are left out."""
    by = [METHOD, *([CUTOFF] if per_cutoff else []), LEVEL, SKUS]
    return _scored(*_scoring_frames(predictions, hierarchy, history, aggregates), by,
                   freq=freq, outside_span=outside_span)


def _scoring_frames(predictions: pd.DataFrame, hierarchy: Hierarchy, history: pd.DataFrame,
                    aggregates: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Predictions up to the history's end with each series' scoring ids, and the actuals
    of every level (bottom history + aggregates)."""
    predictions = predictions[predictions[DATE] <= history[DATE].max()]
    ids = series_ids(hierarchy)
    rows = hierarchy.rows(predictions[[LEVEL, NODE, ITEM]])
    preds = predictions.assign(**{NODE: ids[NODE].to_numpy()[rows],
                                  ITEM: ids[ITEM].to_numpy()[rows]})
    every = pd.concat([history[[DATE, NODE, ITEM, UNITS]], _upper_frame(aggregates)],
                      ignore_index=True)
    return preds, every


def _scored(preds: pd.DataFrame, every: pd.DataFrame, by: list[str], *, freq: str,
            outside_span: Literal["exclude", "zero"], coverage: bool = True) -> pd.DataFrame:
    """`evaluate` by `by`, with `coverage95` when asked and the quantiles are there."""
    table = evaluate(preds, every, freq=freq, by=by, outside_span=outside_span)
    lo, hi = quantile_name(LEVEL_QUANTILES[0]), quantile_name(LEVEL_QUANTILES[-1])
    if coverage and lo in preds and hi in preds:
        panel = build_panel(every, freq=freq)
        y = row_frame(preds, panel, by, outside_span=outside_span)["y"]
        inside = ((y >= preds[lo]) & (y <= preds[hi])).where(y.notna())
        cov = inside.groupby([preds[c] for c in by]).mean().rename("coverage95")
        table = table.merge(cov.reset_index(), on=by, how="left")
    return table


def _scored_choice(predictions: pd.DataFrame, hierarchy: Hierarchy, history: pd.DataFrame,
                   aggregates: pd.DataFrame, coherence: dict[str, float], *, freq: str,
                   outside_span: Literal["exclude", "zero"]
                   ) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """`score_levels`' table, its `summarize` and `choose_method`'s pick (ranked on each
    cutoff's WRMSSE, without coverage)."""
    frames = _scoring_frames(predictions, hierarchy, history, aggregates)
    scores = _scored(*frames, [METHOD, LEVEL, SKUS], freq=freq, outside_span=outside_span)
    per_cutoff = _scored(*frames, [METHOD, CUTOFF, LEVEL, SKUS], freq=freq,
                         outside_span=outside_span, coverage=False)
    summary = summarize(scores, {**coherence, "none": np.nan})
    return scores, summary, choose_method(summary, window_scores=per_cutoff)


def backtest_levels(bottom: BacktestResult, history: pd.DataFrame, *, nodes: pd.DataFrame,
                    config: BacktestConfig, items: pd.DataFrame | None = None,
                    methods: Sequence[str] = COHERENT_METHODS,
                    outside_span: Literal["exclude", "zero"] = "exclude",
                    progress: bool = False) -> LevelBacktest:
    """Score every level of the backtest `bottom` (run with `config` on `history`): the
    aggregate series are backtested at the same cutoffs, each scored window reconciled
    with every method in `methods` (fitted on earlier windows only) and `none`."""
    assert bottom.panel_keys is not None
    hierarchy = build_hierarchy(nodes, bottom.panel_keys, items)
    aggregates = aggregate_history(history, hierarchy, freq=bottom.freq)
    cfg = with_level_quantiles(config)
    upper = run_backtest(_upper_frame(aggregates), freq=bottom.freq, config=cfg,
                         cutoffs=[w.cutoff for w in bottom.windows], progress=progress,
                         progress_desc="backtest (aggregate series)")
    model = primary_model(config.models)
    assert upper.panel_keys is not None
    rows = upper_rows(hierarchy, upper.panel_keys)
    windows = level_windows(bottom.windows, upper.windows, rows, model)
    reconciled, coherence = reconcile_windows(
        hierarchy, windows, first=len(windows) - config.windows, methods=methods,
        quantiles=cfg.quantiles, freq=bottom.freq)
    base = _base_predictions(hierarchy, bottom, upper, model, rows)
    predictions = _labelled(hierarchy, pd.concat([base, reconciled], ignore_index=True))
    scored = predictions[predictions[DATE] <= history[DATE].max()]
    scores, summary, winner = (
        _scored_choice(scored, hierarchy, history, aggregates, coherence, freq=bottom.freq,
                       outside_span=outside_span) if len(scored)
        else (pd.DataFrame(), pd.DataFrame(columns=[METHOD, "wrmsse_m5"]), None))
    return LevelBacktest(hierarchy=hierarchy, predictions=predictions, scores=scores,
                         summary=summary, winner=winner, upper=upper)


def attach_levels(bottom: Forecaster, upper: Forecaster, hierarchy: Hierarchy, *,
                  bottom_windows: Sequence[WindowForecasts],
                  upper_windows: Sequence[WindowForecasts], method: str,
                  methods: Sequence[str] = COHERENT_METHODS,
                  scores: pd.DataFrame | None = None) -> Forecaster:
    """`bottom` with `levels`: reconcilers of every method in `methods` fitted on the
    calibration windows' residuals (every window but the last, the forecast one); `method`
    serves by default."""
    if method not in methods and method != "none":
        raise ValueError(f"`method` must be one of {', '.join(methods)} or none; got "
                         f"{method!r}.")
    rows = upper_rows(hierarchy, upper.keys)
    windows = level_windows(bottom_windows, upper_windows, rows, bottom.primary)
    reconcilers = _fit_all(hierarchy, windows[:-1], windows[-1].t, methods)
    levels = LevelForecasts(hierarchy=hierarchy, upper=upper, upper_rows=rows,
                            reconcilers=reconcilers, method=method, scores=scores)
    return replace(bottom, levels=levels)


def choose_level_method(hierarchy: Hierarchy, windows: Sequence[LevelWindow],
                        history: pd.DataFrame, aggregates: pd.DataFrame, *, freq: str,
                        outside_span: Literal["exclude", "zero"] = "exclude"
                        ) -> tuple[str, pd.DataFrame]:
    """The method that wins `windows` (calibration windows, each reconciled from the ones
    before it; `none` = the base means, for `choose_method`'s bottom guard), scored against
    `history` (bottom `date, node_id, sku, units`) and `aggregates`; and the scores."""
    reconciled, coherence = reconcile_windows(
        hierarchy, windows, first=1, methods=("none", *COHERENT_METHODS),
        quantiles=LEVEL_QUANTILES, freq=freq)
    scores, _, winner = _scored_choice(_labelled(hierarchy, reconciled), hierarchy, history,
                                       aggregates, coherence, freq=freq,
                                       outside_span=outside_span)
    return winner, scores


def fit_levels(history: pd.DataFrame, *, nodes: pd.DataFrame, freq: str, horizon: int,
               models: Sequence[str], items: pd.DataFrame | None = None,
               calibration_windows: int = 3, spec: FeatureSpec | None = None,
               lgbm: LGBMConfig | None = None, method: str | None = None,
               outside_span: Literal["exclude", "zero"] = "exclude", progress: bool = False
               ) -> Forecaster:
    """`fit_forecaster` of the bottom series with `levels` attached. `method` None: the
    winner on the calibration windows (each reconciled from the ones before it; needs
    `calibration_windows` >= 2)."""
    bottom, low = fit_forecaster_result(history, freq=freq, horizon=horizon, nodes=nodes,
                                        models=models, calibration_windows=calibration_windows,
                                        spec=spec, lgbm=lgbm, progress=progress)
    hierarchy = build_hierarchy(nodes, bottom.keys, items)
    aggregates = aggregate_history(history, hierarchy, freq=freq)
    upper, high = fit_upper(aggregates, freq=freq, horizon=horizon, models=models,
                            calibration_windows=calibration_windows, spec=spec, lgbm=lgbm,
                            progress=progress)
    scores = None
    if method is None:
        if calibration_windows < 2:
            raise ValueError("choosing the reconciliation method needs "
                             "`calibration_windows` >= 2; give more or name the method.")
        windows = level_windows(low.windows, high.windows, upper_rows(hierarchy, upper.keys),
                                bottom.primary)[:-1]
        method, scores = choose_level_method(hierarchy, windows, history, aggregates,
                                             freq=freq, outside_span=outside_span)
    return attach_levels(bottom, upper, hierarchy, bottom_windows=low.windows,
                         upper_windows=high.windows, method=method, scores=scores)
