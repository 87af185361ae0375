"""`training.engine.metrics.evaluate` over partitions of whole series: sums per partition, combined.

Every metric of the evaluation protocol is a ratio of sums over rows, or a weighted mean over
series whose weights are normalised per cutoff: each partition returns those sums
(`partial_scores`) and `combine_scores` adds them up and divides. The result equals
`evaluate` on all predictions at once up to the order of floating-point additions.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from features.engineering.history import build_panel
from features.schema import DATE, ITEM, NODE, UNITS
from training.engine.metrics import METRICS, ROW_ALL, ROW_CUTOFF, ROW_SERIES, row_frame

__all__ = ["combine_scores", "partial_scores"]

Partial = dict[str, pd.DataFrame]


def partial_scores(preds: pd.DataFrame, history: pd.DataFrame, *, freq: str,
                   by: Sequence[str], outside_span: str, start: pd.Timestamp,
                   end: pd.Timestamp) -> Partial:
    """The additive sums behind `evaluate(preds, history, by=by)` for one partition.

    `history` holds the partition's series (every series of `preds`); `start` and `end`
    are the whole history's first and last period, so cutoffs index the same grid in
    every partition.
    """
    keys = list(by) or [ROW_ALL]
    panel = build_panel(history[[DATE, NODE, ITEM, UNITS]], freq=freq, start=start, end=end)
    rows = row_frame(preds, panel, list(by), outside_span=outside_span)
    unscored = rows[keys].assign(n=rows["y"].isna()).groupby(keys)["n"].sum().to_frame()
    rows = rows[rows["y"].notna()]
    per = rows.groupby([*keys, ROW_CUTOFF, ROW_SERIES], sort=False).agg(
        se=("se", "mean"), ae=("ae", "mean"), pinball=("pinball", "mean"),
        scale_sq=("scale_sq", "first"), scale_abs=("scale_abs", "first"),
        weight=("weight", "first"),
    ).reset_index()
    ok = (per["scale_sq"] > 0).to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        rmsse = np.where(ok, np.sqrt(per["se"] / per["scale_sq"]), np.nan)
        per["mase"] = np.where(ok, per["ae"] / per["scale_abs"], np.nan)
        spl = np.where(ok, per["pinball"] / per["scale_abs"], np.nan)
    per["w"] = np.where(ok, per["weight"], 0.0)
    per["w_rmsse"] = per["w"] * np.nan_to_num(rmsse, nan=0.0)
    per["w_spl"] = per["w"] * np.nan_to_num(spl, nan=0.0)
    by_cut = per.groupby([*keys, ROW_CUTOFF])[["w", "w_rmsse", "w_spl"]].sum()
    series = per.groupby(keys).agg(mase_sum=("mase", "sum"), mase_n=("mase", "count"),
                                   n_series=(ROW_SERIES, "nunique"))
    sums = rows.assign(abs_y=rows["y"].abs(), over=-rows["err"],
                       inside=rows["inside"].astype(np.int64)).groupby(keys).agg(
        ae=("ae", "sum"), abs_y=("abs_y", "sum"), y=("y", "sum"), over=("over", "sum"),
        inside=("inside", "sum"), n_rows=("y", "size"))
    return {"by_cut": by_cut, "series": series, "rows": sums, "unscored": unscored}


def combine_scores(parts: Sequence[Partial], *, by: Sequence[str]) -> pd.DataFrame:
    """`evaluate`'s table from the partitions' sums."""
    keys = list(by) or [ROW_ALL]

    def total(name: str) -> pd.DataFrame:
        frames = [p[name] for p in parts if len(p[name])]
        return pd.concat(frames).groupby(level=list(range(frames[0].index.nlevels))).sum()

    by_cut = total("by_cut")
    with np.errstate(invalid="ignore", divide="ignore"):
        w = by_cut["w"].where(by_cut["w"] > 0)
        by_cut["wrmsse"] = by_cut["w_rmsse"] / w
        by_cut["scaled_pinball"] = by_cut["w_spl"] / w
    out = by_cut.groupby(level=list(range(len(keys))))[["wrmsse", "scaled_pinball"]].mean()
    series = total("series")
    out["mase"] = series["mase_sum"] / series["mase_n"].where(series["mase_n"] > 0)
    out["n_series"] = series["n_series"]
    rows = total("rows")
    with np.errstate(invalid="ignore", divide="ignore"):
        out = out.join(pd.DataFrame({
            "wape": rows["ae"] / rows["abs_y"].where(rows["abs_y"] > 0),
            "coverage": rows["inside"] / rows["n_rows"],
            "bias": rows["over"] / rows["y"].where(rows["y"] != 0),
            "n_rows": rows["n_rows"]}), how="outer")
    unscored = total("unscored")["n"]
    out["n_unscored"] = unscored.reindex(out.index).fillna(0).astype(np.int64)
    out.index.names = keys
    out = out.sort_index().reset_index()
    return out[[*by, "n_series", "n_rows", "n_unscored", *METRICS]]
