"""Figures a person opens next to a run: forecast vs actual, error by horizon, importance.

Each function takes frames and returns a `matplotlib.figure.Figure` (no pyplot state, no
display backend), so runs, notebooks and tests can all use them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from features.schema import DATE, ITEM, NODE, UNITS

__all__ = ["error_by_horizon", "feature_importance", "forecast_vs_actual", "sample_series"]


def sample_series(preds: pd.DataFrame, *, n: int = 6) -> pd.DataFrame:
    """Up to `n` series (node_id, sku) to look at: the busiest one of each demand class
    first, then the next busiest overall."""
    volume = preds.groupby([NODE, ITEM, "series_class"], observed=True)["mean"].sum()
    volume = volume.sort_values(ascending=False).reset_index()
    first = volume.drop_duplicates("series_class")
    picked = pd.concat([first, volume.drop(first.index)])
    return picked[[NODE, ITEM]].drop_duplicates().head(n).reset_index(drop=True)


def forecast_vs_actual(preds: pd.DataFrame, history: pd.DataFrame, *,
                       series: pd.DataFrame, lower: str = "q0.1", upper: str = "q0.9",
                       context: int = 26) -> Figure:
    """One panel per series: recent actuals, and each backtest window's mean forecast with
    the `lower`..`upper` interval. `preds` holds one model's rows."""
    n = max(len(series), 1)
    cols = 2 if n > 1 else 1
    rows = int(np.ceil(n / cols))
    fig = Figure(figsize=(6.5 * cols, 2.6 * rows))
    fig.subplots_adjust(left=0.05, right=0.98, bottom=0.06, top=0.95, hspace=0.45, wspace=0.12)
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel()
    for ax, (node, sku) in zip(axes, series[[NODE, ITEM]].itertuples(index=False), strict=False):
        mine = preds[(preds[NODE] == node) & (preds[ITEM] == sku)]
        hist = history[(history[NODE] == node) & (history[ITEM] == sku)].sort_values(DATE)
        start = mine[DATE].min() - pd.Timedelta(weeks=context) if len(mine) else None
        shown = hist[hist[DATE] >= start] if start is not None else hist
        ax.plot(shown[DATE], shown[UNITS], color="black", lw=1, label="actual")
        for i, (_, window) in enumerate(mine.groupby("cutoff")):
            ax.plot(window[DATE], window["mean"], color="tab:blue", lw=1.5,
                    label="forecast" if i == 0 else None)
            if lower in window and upper in window:
                ax.fill_between(window[DATE], window[lower], window[upper], color="tab:blue",
                                alpha=0.2, label=f"{lower}-{upper}" if i == 0 else None)
        cls = mine["series_class"].iloc[0] if "series_class" in mine and len(mine) else ""
        ax.set_title(f"{node} / {sku} ({cls})", fontsize=9)
        ax.tick_params(labelsize=7)
    for ax in axes[n:]:
        ax.set_visible(False)
    axes[0].legend(fontsize=7, loc="upper left")
    return fig


def error_by_horizon(by_step: pd.DataFrame, *, metric: str = "wrmsse") -> Figure:
    """`metric` per horizon step, one line per model (from `evaluate(by=[model, step])`)."""
    fig = Figure(figsize=(7, 4), layout="tight")
    ax = fig.subplots()
    for model, rows in by_step.groupby("model"):
        rows = rows.sort_values("step")
        ax.plot(rows["step"], rows[metric], marker="o", label=str(model))
    ax.set_xlabel("horizon step")
    ax.set_ylabel(metric)
    ax.set_title(f"{metric} by horizon step")
    ax.legend(fontsize=8)
    return fig


def feature_importance(gain: pd.Series, *, top: int = 20) -> Figure:
    """Horizontal bars of the `top` features by total gain."""
    shown = gain.head(top)[::-1]
    fig = Figure(figsize=(7, 0.3 * len(shown) + 1.2), layout="tight")
    ax = fig.subplots()
    ax.barh(shown.index.astype(str), shown.to_numpy())
    ax.set_xlabel("total gain")
    ax.set_title(f"LightGBM feature importance (top {len(shown)})")
    ax.tick_params(labelsize=7)
    return fig
