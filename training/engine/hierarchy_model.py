"""The served side of forecasts at every level: reconciled means and quantiles of any series
of the channel tree (a node, a parent, a channel or the total; one sku, a group or `*`).

`LevelForecasts` rides on the bottom `Forecaster` (its `levels` attribute): it keeps the
hierarchy, the base forecasts of the aggregate series (`upper`, a `Forecaster` of our engine
fitted on the aggregated history, keyed by `engine_keys`), one fitted reconciler per
coherent method and the default method (the backtest winner). `none` answers every series
with its own base forecast and conformal quantiles, as `Forecaster.predict` does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

import numpy as np
import numpy.typing as npt
import pandas as pd

from features.engineering.history import build_panel
from features.schema import DATE, ITEM, NODE, UNITS
from models.hierarchy import LEVELS, METHODS, Hierarchy, Reconciler, aggregate
from models.hierarchy.structure import LEVEL
from models.quantiles import quantile_name

__all__ = ["NONE", "RECONCILE", "BaseForecasts", "LevelForecasts", "NoHierarchyError",
           "aggregate_history", "check_method", "engine_keys", "level_keys"]

NONE = "none"
RECONCILE = "reconcile"
_SEP = ":"

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


class NoHierarchyError(ValueError):
    """An aggregate series was asked of a model trained without a hierarchy."""


class BaseForecasts(Protocol):
    """What `LevelForecasts` needs of a forecaster (`training.engine.forecast.Forecaster`)."""

    keys: pd.DataFrame
    means: dict[str, FloatArray]
    dates: pd.DatetimeIndex

    def predict(self, series: pd.DataFrame | None = None, *, horizon: int | None = None,
                quantiles: Sequence[float] = ..., model: str | None = None,
                future: pd.DataFrame | None = None) -> pd.DataFrame:
        """Base forecast rows of `series`."""
        ...

    def update(self, sell_through: pd.DataFrame) -> BaseForecasts:
        """The forecaster rolled forward over new periods."""
        ...


def check_method(method: str) -> str:
    """`method` if it is a reconciliation method (`models.hierarchy.METHODS`), else ValueError."""
    if method not in METHODS:
        raise ValueError(f"`reconcile` must be one of {', '.join(METHODS)}; got {method!r}.")
    return method


def aggregate_history(history: pd.DataFrame, hierarchy: Hierarchy, *, freq: str
                      ) -> pd.DataFrame:
    """Sell-through of every aggregate series: `level, node_id, sku, date, units`.

    Sums the bottom series' units (0 outside a series' span) per period, in the periods
    where at least one of its bottom series is in its span; series of `history` must be
    bottom series of `hierarchy`. Per-partition results add up (group by key and date).
    """
    panel = build_panel(history[[DATE, NODE, ITEM, UNITS]], freq=freq)
    rows = hierarchy.rows(panel.keys.assign(**{LEVEL: "node"}))
    if (rows >= hierarchy.n_bottom).any():
        raise ValueError("`history` has series that are aggregates of the hierarchy, not "
                         "bottom series; pass bottom (node, sku) sell-through only.")
    units = np.zeros((hierarchy.n_bottom, panel.n_periods))
    span = np.zeros_like(units)
    units[rows] = np.nan_to_num(panel.units, nan=0.0)
    span[rows] = panel.in_span()
    n = hierarchy.n_bottom
    totals, covered = aggregate(units, hierarchy)[n:], aggregate(span, hierarchy)[n:] > 0
    s, t = np.nonzero(covered)
    keys = hierarchy.keys.iloc[n:]
    return pd.DataFrame({LEVEL: keys[LEVEL].to_numpy()[s], NODE: keys[NODE].to_numpy()[s],
                         ITEM: keys[ITEM].to_numpy()[s], DATE: panel.dates[t],
                         UNITS: totals[s, t]})


def engine_keys(keys: pd.DataFrame) -> pd.DataFrame:
    """`node_id, sku` the engine knows an aggregate series by: `<level>:<node_id>`, `sku`."""
    node = keys[LEVEL].astype(str) + _SEP + keys[NODE].astype(str)
    return pd.DataFrame({NODE: node.to_numpy(), ITEM: keys[ITEM].astype(str).to_numpy()})


def level_keys(series: pd.DataFrame) -> pd.DataFrame:
    """`level, node_id, sku` of requested series; a missing or empty `level` is `node`."""
    missing = [c for c in (NODE, ITEM) if c not in series]
    if missing:
        raise ValueError(f"series need columns {NODE!r} and {ITEM!r} (and `level`, one of "
                         f"{', '.join(LEVELS)}); missing {missing}.")
    level = (series[LEVEL] if LEVEL in series else pd.Series("node", index=series.index))
    level = level.fillna("node").astype(str).replace("", "node")
    return pd.DataFrame({LEVEL: level.to_numpy(), NODE: series[NODE].astype(str).to_numpy(),
                         ITEM: series[ITEM].astype(str).to_numpy()})


@dataclass
class LevelForecasts:
    """Every aggregate series' base forecasts and the fitted reconcilers (module doc).

    Attributes:
        hierarchy: the series of every level and the summing matrix; its bottom rows are
            the bottom forecaster's `keys`, in order.
        upper: base forecasts of the aggregate series (keys: `engine_keys`).
        upper_rows: for hierarchy rows `n_bottom..n_all`, their row in `upper.keys`.
        reconcilers: coherent method -> reconciler fitted on the calibration residuals.
        method: the default method (the backtest winner).
        scores: per method and level, the scores that chose `method` (None: not scored).
    """

    hierarchy: Hierarchy
    upper: BaseForecasts
    upper_rows: IntArray
    reconcilers: dict[str, Reconciler]
    method: str
    scores: pd.DataFrame | None = field(default=None, repr=False)

    def base(self, bottom: BaseForecasts, model: str, h: int) -> FloatArray:
        """Base means of every series (n_all x h) from model `model`."""
        if model not in self.upper.means:
            raise ValueError(f"`model` must be one of {sorted(self.upper.means)} for "
                             f"aggregate series; got {model!r}.")
        return np.vstack([bottom.means[model][:, :h], self.upper.means[model][self.upper_rows, :h]])

    def predict(self, bottom: BaseForecasts, series: pd.DataFrame | None, *, h: int,
                quantiles: Sequence[float], model: str, method: str | None = None
                ) -> pd.DataFrame:
        """Rows `level, node_id, sku, date, step, model, reconcile, mean, q...` per series
        x step; `method` default the backtest winner. Raises KeyError for unknown series."""
        method = check_method(self.method if method is None else method)
        keys = self.hierarchy.keys if series is None else level_keys(series)
        rows = self.hierarchy.rows(keys)
        qs = sorted({float(q) for q in quantiles})
        if method == NONE:
            out = self._base_rows(bottom, rows, h=h, qs=qs, model=model)
        else:
            rec = self.reconcilers[method]
            means = rec.means(self.base(bottom, model, h))
            quant = rec.quantiles(means, qs)[rows]
            out = pd.DataFrame({DATE: np.tile(bottom.dates[:h], len(rows)),
                                "step": np.tile(np.arange(1, h + 1), len(rows)),
                                "model": model, "mean": means[rows].ravel()})
            for j, q in enumerate(qs):
                out[quantile_name(q)] = quant[:, :, j].ravel()
        out.insert(3, RECONCILE, method)
        for j, col in enumerate((LEVEL, NODE, ITEM)):
            out.insert(j, col, np.repeat(self.hierarchy.keys[col].to_numpy()[rows], h))
        return out

    def roll_forward(self, sell_through: pd.DataFrame, *, freq: str) -> LevelForecasts:
        """The aggregate series rolled forward over new bottom sell-through (no refit)."""
        upper = aggregate_history(sell_through, self.hierarchy, freq=freq)
        frame = pd.concat([upper.drop(columns=[LEVEL, NODE, ITEM]), engine_keys(upper)],
                          axis=1)
        return replace(self, upper=self.upper.update(frame))

    def _base_rows(self, bottom: BaseForecasts, rows: IntArray, *, h: int, qs: list[float],
                   model: str) -> pd.DataFrame:
        """`none`: each series' own base forecast and quantiles, in the order of `rows`."""
        n_bottom = self.hierarchy.n_bottom
        low = rows < n_bottom
        parts = []
        if low.any():
            keys = bottom.keys.iloc[rows[low]]
            parts.append((np.flatnonzero(low), bottom.predict(keys, horizon=h, quantiles=qs,
                                                                model=model)))
        if (~low).any():
            keys = self.upper.keys.iloc[self.upper_rows[rows[~low] - n_bottom]]
            parts.append((np.flatnonzero(~low), self.upper.predict(keys, horizon=h,
                                                                     quantiles=qs, model=model)))
        order = np.concatenate([np.repeat(pos, h) * h + np.tile(np.arange(h), len(pos))
                                for pos, _ in parts])
        frame = pd.concat([p for _, p in parts], ignore_index=True)
        frame = frame.iloc[np.argsort(order, kind="stable")].reset_index(drop=True)
        return frame.drop(columns=[NODE, ITEM])
