"""Forecast accuracy exactly as the evaluation protocol defines it (BENCHMARKS.md, "Evaluation
protocol": WAPE, WRMSSE, MASE, scaled pinball, 80% coverage, bias).

`evaluate` scores a predictions frame (`node_id, sku, cutoff, date, mean, q0.1, q0.5, q0.9`)
against the full history. Everything is array and groupby work; nothing loops per series.

Actuals and scales come from `features.engineering.history.build_panel`: inside a series' span (its
first to its last row in `history`) a missing period counts as 0 units. Outside the span:
- with `outside_span="exclude"` target periods before a series' first row or after its last
  row are not scored (carparts: NA = the series ended, not zero sales);
- with `outside_span="zero"` they are scored as 0 units (walmart: a missing row = no sales);
- scales and weights use only the span's periods up to and including the cutoff, so a
  series that starts late is not scaled by the jump from its made-up zeros.
Rows that are not scored are counted in `n_unscored`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from features.engineering.history import Panel, build_panel
from features.periods import period_index
from features.schema import DATE, ITEM, NODE, UNITS

__all__ = ["CUTOFF", "METRICS", "QUANTILES", "ROW_ALL", "ROW_CUTOFF", "ROW_SERIES", "evaluate",
           "format_table", "row_frame"]

CUTOFF = "cutoff"
MEAN = "mean"
QUANTILES = ("q0.1", "q0.5", "q0.9")
METRICS = ("wape", "wrmsse", "mase", "scaled_pinball", "coverage", "bias")
#: Columns of `row_frame` besides the losses: series row, cutoff index, the one group of `by=()`.
ROW_SERIES = "_series"
ROW_CUTOFF = "_cutoff"
ROW_ALL = "_all"

FloatArray = npt.NDArray[np.float64]


def evaluate(preds: pd.DataFrame, history: pd.DataFrame, *, freq: str,
             by: Sequence[str] = (), outside_span: Literal["exclude", "zero"] = "exclude",
             ) -> pd.DataFrame:
    """Score rolling-origin forecasts: WAPE, WRMSSE, MASE, scaled pinball, coverage, bias.

    Args:
        preds: one row per series x cutoff x target date, with `node_id`, `sku`, `cutoff`,
            `date`, `mean`, `q0.1`, `q0.5`, `q0.9` (other columns are ignored).
        history: the full sell-through (`node_id`, `sku`, `date`, `units`) on the `freq` grid,
            covering every target date.
        freq: the period grid ("W-FRI", "MS", ...).
        by: extra columns of `preds` to report separately (e.g. "model", "series_class").
            "step" (horizon step 1..h) is computed from `date` - `cutoff` when absent.
            WRMSSE and pinball weights are normalised within each group and cutoff.
        outside_span: how target periods outside a series' span are scored (module doc).

    Returns:
        One row per group: the `by` columns, `n_series`, `n_rows` (scored), `n_unscored`
        and the metrics in `METRICS`.
    """
    if outside_span not in ("exclude", "zero"):
        raise ValueError(f"`outside_span` must be 'exclude' or 'zero'; got {outside_span!r}.")
    by = list(by)
    _check_columns(preds, by)
    panel = build_panel(history[[DATE, NODE, ITEM, UNITS]], freq=freq)
    rows = row_frame(preds, panel, by, outside_span=outside_span)
    keys = by or [ROW_ALL]
    unscored = rows[keys].assign(n=rows["y"].isna()).groupby(keys, sort=True)["n"].sum()
    rows = rows[rows["y"].notna()]
    out = _series_metrics(rows, keys).join(_row_metrics(rows, keys), how="outer")
    out["n_unscored"] = unscored.reindex(out.index).fillna(0).astype(np.int64)
    out = out.reset_index()
    cols = [*by, "n_series", "n_rows", "n_unscored", *METRICS]
    return out[cols]


def _check_columns(preds: pd.DataFrame, by: list[str]) -> None:
    need = [NODE, ITEM, CUTOFF, DATE, MEAN, *QUANTILES]
    missing = [c for c in need if c not in preds]
    if missing:
        raise ValueError(f"`preds` lacks columns {missing}; a predictions file has {need}.")
    absent = [c for c in by if c not in preds and c != "step"]
    if absent:
        raise ValueError(f"`by` names columns {absent} that `preds` does not have.")


def _locate(preds: pd.DataFrame, panel: Panel) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Panel row of each prediction's series and grid positions of its cutoff and date."""
    known = pd.MultiIndex.from_frame(panel.keys.astype(str))
    s = known.get_indexer(pd.MultiIndex.from_frame(preds[[NODE, ITEM]].astype(str)))
    if (s < 0).any():
        bad = preds.loc[s < 0, [NODE, ITEM]].drop_duplicates()
        raise ValueError(f"`preds` has {len(bad)} series not in `history`, e.g. "
                         f"{bad.head(3).to_records(index=False).tolist()}.")
    start = panel.dates[0]
    c = period_index(pd.to_datetime(preds[CUTOFF]), start=start, freq=panel.freq)
    t = period_index(pd.to_datetime(preds[DATE]), start=start, freq=panel.freq)
    if np.isnan(c).any() or np.isnan(t).any() or (c < 0).any():
        raise ValueError(f"`preds` has `cutoff` or `date` values off the {panel.freq} grid "
                         f"of `history` (which starts {start.date()}).")
    if (t <= c).any() or (t >= panel.n_periods).any():
        raise ValueError("every `date` in `preds` must be after its `cutoff` and within "
                         "`history`'s grid; extend `history` or drop those rows.")
    return s, c.astype(np.int64), t.astype(np.int64)


def _scales(panel: Panel, s: np.ndarray, c: np.ndarray, h: int) -> dict[str, FloatArray]:
    """Per row: mean squared and mean absolute first difference up to the cutoff, and the
    series' units in the last `h` periods up to the cutoff (the WRMSSE weight)."""
    diff = np.diff(panel.units, axis=1)
    zero = np.zeros((panel.n_series, 1))
    valid = np.concatenate([zero, np.cumsum(~np.isnan(diff), axis=1)], axis=1)
    sq = np.concatenate([zero, np.nancumsum(diff**2, axis=1)], axis=1)
    ab = np.concatenate([zero, np.nancumsum(np.abs(diff), axis=1)], axis=1)
    units = np.concatenate([zero, np.nancumsum(panel.units, axis=1)], axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        n = np.where(valid[s, c] > 0, valid[s, c], np.nan)
        return {"scale_sq": sq[s, c] / n, "scale_abs": ab[s, c] / n,
                "weight": units[s, c + 1] - units[s, np.maximum(c + 1 - h, 0)]}


def row_frame(preds: pd.DataFrame, panel: Panel, by: list[str], *,
               outside_span: str) -> pd.DataFrame:
    """One row per prediction with its actual (NaN = not scored), scales and losses."""
    s, c, t = _locate(preds, panel)
    actual = panel.units.copy()
    if outside_span == "zero":
        actual[~panel.in_span()] = 0.0
    rows = pd.DataFrame({ROW_CUTOFF: c, ROW_SERIES: s, "y": actual[s, t]}, index=preds.index)
    for col in by:
        rows[col] = preds[col] if col in preds else t - c
    if not by:
        rows[ROW_ALL] = "all"
    rows = rows.assign(**_scales(panel, s, c, h=int((t - c).max())))
    fcst = preds[MEAN].to_numpy(dtype=np.float64)
    err = rows["y"].to_numpy() - fcst
    rows["fcst"], rows["err"] = fcst, err
    rows["se"], rows["ae"] = err**2, np.abs(err)
    q = {name: preds[name].to_numpy(dtype=np.float64) for name in QUANTILES}
    pinball = [_pinball(rows["y"].to_numpy(), q[name], float(name[1:])) for name in QUANTILES]
    rows["pinball"] = np.mean(pinball, axis=0)
    rows["inside"] = (rows["y"] >= q["q0.1"]) & (rows["y"] <= q["q0.9"])
    return rows


def _pinball(y: FloatArray, fcst: FloatArray, q: float) -> FloatArray:
    diff = y - fcst
    return np.maximum(q * diff, (q - 1.0) * diff)


def _series_metrics(rows: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """WRMSSE, MASE and scaled pinball: per series and cutoff, then weighted / averaged."""
    per = rows.groupby([*keys, ROW_CUTOFF, ROW_SERIES], sort=False).agg(
        se=("se", "mean"), ae=("ae", "mean"), pinball=("pinball", "mean"),
        scale_sq=("scale_sq", "first"), scale_abs=("scale_abs", "first"),
        weight=("weight", "first"),
    ).reset_index()
    ok = (per["scale_sq"] > 0).to_numpy()  # NaN scale (under 2 periods) is left out too
    with np.errstate(invalid="ignore", divide="ignore"):
        per["rmsse"] = np.where(ok, np.sqrt(per["se"] / per["scale_sq"]), np.nan)
        per["mase"] = np.where(ok, per["ae"] / per["scale_abs"], np.nan)
        per["spl"] = np.where(ok, per["pinball"] / per["scale_abs"], np.nan)
    per["w"] = np.where(ok, per["weight"], 0.0)
    total = per.groupby([*keys, ROW_CUTOFF], sort=False)["w"].transform("sum")
    with np.errstate(invalid="ignore", divide="ignore"):
        per["w"] = per["w"] / total.where(total > 0)
    per["w_rmsse"] = per["w"] * per["rmsse"].fillna(0.0)
    per["w_spl"] = per["w"] * per["spl"].fillna(0.0)
    by_cut = per.groupby([*keys, ROW_CUTOFF], sort=False).agg(
        wrmsse=("w_rmsse", "sum"), scaled_pinball=("w_spl", "sum"), wsum=("w", "sum"))
    # a cutoff whose scored series sold nothing in the weight window has no weights
    by_cut.loc[~(by_cut["wsum"] > 0), ["wrmsse", "scaled_pinball"]] = np.nan
    out = by_cut.groupby(keys, sort=True)[["wrmsse", "scaled_pinball"]].mean()
    out["mase"] = per.groupby(keys, sort=True)["mase"].mean()
    out["n_series"] = per.groupby(keys, sort=True)[ROW_SERIES].nunique()
    return out


def _row_metrics(rows: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """WAPE, coverage and bias over every scored series x cutoff x step."""
    sums = rows.assign(abs_y=rows["y"].abs(), over=-rows["err"]).groupby(keys, sort=True).agg(
        ae=("ae", "sum"), abs_y=("abs_y", "sum"), y=("y", "sum"), over=("over", "sum"),
        coverage=("inside", "mean"), n_rows=("y", "size"))
    with np.errstate(invalid="ignore", divide="ignore"):
        wape = sums["ae"] / sums["abs_y"].where(sums["abs_y"] > 0)
        bias = sums["over"] / sums["y"].where(sums["y"] != 0)
    return pd.DataFrame({"wape": wape, "coverage": sums["coverage"], "bias": bias,
                         "n_rows": sums["n_rows"]})


def format_table(df: pd.DataFrame, *, digits: int = 3) -> str:
    """Render `evaluate`'s output (or any frame) as an aligned plain-text table."""
    if digits < 0:
        raise ValueError(f"`digits` must be >= 0; got {digits}.")
    return df.to_string(index=False, float_format=lambda v: f"{v:.{digits}f}",
                        na_rep="-")
