"""What the served reconciliation method is ranked on: each method's errors relative to
unreconciled, window by window, so one window with large errors does not decide the choice.

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

from models.hierarchy.structure import LEVEL

__all__ = ["CUTOFF", "ratio_to_none"]

CUTOFF = "cutoff"


def ratio_to_none(window_scores: pd.DataFrame, *, method: str = "method",
                  skus: str = "skus") -> pd.Series:
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
