"""What the served reconciliation method is ranked on: each method's errors relative to
unreconciled, window by window, so one window with large errors does not decide the choice
(`ratio_to_none`); the per-method summary and the choice itself (`summarize`,
`choose_method`, re-exported by `training.engine.hierarchy`).

Input: WRMSSE per `method`, `cutoff`, level and sku kind (`training.engine.hierarchy.
score_levels(..., per_cutoff=True)`). Per method and cutoff, the mean over level x sku-kind
cells of its WRMSSE / `none`'s WRMSSE in the same cell and cutoff (cells where `none` is
not positive or a score is missing are left out), then the mean over cutoffs. Issue 23 chose
this rank (rule R4 of benchmarks/hierarchy_served.py) over the mean WRMSSE on 9-10 scored
windows (benchmarks/hierarchy_served_many.py, BENCHMARKS.md).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from models.hierarchy import COHERENT_METHODS
from models.hierarchy.structure import LEVEL

__all__ = ["BOTTOM_TOLERANCE", "CUTOFF", "METHOD", "SKUS", "choose_method", "ratio_to_none",
           "summarize"]

CUTOFF = "cutoff"
METHOD, SKUS = "method", "skus"
#: The default method may make the bottom series at most this much worse than `none`.
BOTTOM_TOLERANCE = 0.01


def ratio_to_none(window_scores: pd.DataFrame, *, method: str = METHOD,
                  skus: str = SKUS) -> pd.Series:
    """Per method: the mean over cutoffs of its mean cell WRMSSE ratio to `none` (empty
    when `none` was not scored)."""
    cell = [CUTOFF, LEVEL, skus]
    missing = [c for c in (method, *cell, "wrmsse") if c not in window_scores]
    if missing:
        raise ValueError(f"window scores lack columns {missing}; score the levels with "
                         "`score_levels(..., per_cutoff=True)`.")
    none = window_scores[window_scores[method] == "none"].set_index(cell)["wrmsse"]
    base = none.where(none > 0).reindex(pd.MultiIndex.from_frame(window_scores[cell]))
    ratio = window_scores["wrmsse"].to_numpy(dtype=np.float64) / base.to_numpy(np.float64)
    frame = window_scores[[method, CUTOFF]].assign(ratio=ratio)
    per_cutoff = frame.groupby([method, CUTOFF], sort=False)["ratio"].mean()
    return per_cutoff.groupby(level=method, sort=False).mean().dropna()


def summarize(scores: pd.DataFrame, coherence: dict[str, float]) -> pd.DataFrame:
    """Per method: `wrmsse_m5` (mean WRMSSE over level x sku kind), `wrmsse_bottom` (the
    node x sku series), mean coverages and the largest coherence error (`none`: NaN)."""
    cols = {"wrmsse_m5": ("wrmsse", "mean"), "scaled_pinball": ("scaled_pinball", "mean"),
            "coverage": ("coverage", "mean")}
    if "coverage95" in scores:
        cols["coverage95"] = ("coverage95", "mean")
    out = scores.groupby(METHOD, sort=False).agg(**cols).reset_index()
    bottom = scores[(scores[LEVEL] == "node") & (scores[SKUS] == "sku")]
    out.insert(2, "wrmsse_bottom", out[METHOD].map(bottom.set_index(METHOD)["wrmsse"]))
    out["coherence_error"] = out[METHOD].map(coherence)
    return out


def choose_method(summary: pd.DataFrame, *, bottom_tolerance: float = BOTTOM_TOLERANCE,
                  window_scores: pd.DataFrame | None = None) -> str:
    """The coherent method with the lowest rank key among those whose bottom series
    (`wrmsse_bottom`) are at most `bottom_tolerance` worse than unreconciled (`none`, when
    scored; every coherent method when none passes); ties: the earlier in
    `COHERENT_METHODS`. Key: `ratio_to_none(window_scores)` (`score_levels(...,
    per_cutoff=True)`) when given and it ranks some method, else `wrmsse_m5`."""
    ratios = ratio_to_none(window_scores) if window_scores is not None else pd.Series()
    key = summary[METHOD].map(ratios)
    summary = summary.assign(_key=key if key.notna().any() else summary["wrmsse_m5"])
    ranked = summary[summary[METHOD].isin(COHERENT_METHODS) & summary["_key"].notna()]
    if ranked.empty:
        raise ValueError("no coherent method was scored; give more backtest windows.")
    base = summary.loc[summary[METHOD] == "none", "wrmsse_bottom"]
    if len(base) and np.isfinite(base.iloc[0]):
        keep = ranked["wrmsse_bottom"] <= base.iloc[0] * (1 + bottom_tolerance)
        ranked = ranked[keep] if keep.any() else ranked
    order = ranked[METHOD].map({m: i for i, m in enumerate(COHERENT_METHODS)})
    best = ranked.assign(_order=order).sort_values(["_key", "_order"], kind="stable")
    return str(best[METHOD].iloc[0])
