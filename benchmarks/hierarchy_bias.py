"""Issue 23 experiment: correct the base forecasts' bias, then reconcile; does it beat the peers?

Usage:
    .venv/bin/python benchmarks/hierarchy_bias.py [--datasets walmart,generated] [--verbose]

Reuses benchmarks/hierarchy.py's data, windows (6 cutoffs, h = 8, the last 3 scored), cached
base forecasts (benchmarks/out/hierarchy/; never refitted here), residual histories, M5
scores per level x sku-kind cell and hierarchicalforecast peers (on the uncorrected base).
At scored window k the bias is estimated from the residuals of windows 0..k-1 only.

Estimators (fixed before any scored result was seen):
    step:  per series and step, the mean residual over the k earlier windows, shrunk by
           m^2 / (m^2 + se^2) with se^2 = var_i / k (var_i over all of the series' residual
           columns; one observation per window, as the steps of a window are correlated).
    flat:  per series, the mean over all its residual columns, the same shrinkage.
    level: per cell and step, relative bias = sum of residuals / sum of the earlier
           windows' base forecasts, times the base (pooled, not shrunk).
Scopes: every series (`all`), aggregates only (`agg`), bottoms only (`bottom`); the
corrected base is floored at 0. Reconcilers are fitted on the original residuals (once per
window; their means are linear in the base), except `flatB` (added after the first scored
tables: the flat correction with W and the tuning fitted on residuals minus that bias).
`sel` picks, per method and scored window k, the estimator x scope (or none) with the best
cell average at window k-1, reconciled with windows < k-1: chosen on earlier windows only.
Printed per case: cell average, cells where the variant beats every peer (ties lose),
average minus the best peer's, bottom WRMSSE / unreconciled; then the persistence of the
bias (slope of the scored window's mean error on the earlier windows' mean residual).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from benchmarks.hierarchy import (  # noqa: E402
    PEERS,
    H,
    base_forecasts,
    cutoffs,
    groups,
    hf_reconcile,
    load,
    m5_weights,
    residual_history,
    rmsse_parts,
    scale_and_weight,
)
from models.hierarchy import Hierarchy, fit_reconciler  # noqa: E402
from models.hierarchy.tuned import cell_codes, cell_names  # noqa: E402

METHODS = ("bottom_up", "ols", "wls_struct", "mint_shrink", "wls_mix", "wls_tuned", "mint_cv")
#: Methods whose W depends on the residuals (refitted for `flatB`).
VARIANCE_METHODS = ("mint_shrink", "wls_mix", "wls_tuned", "mint_cv")
ESTIMATORS = ("step", "flat", "level")
SCOPES = ("all", "agg", "bottom")
WINDOWS, TEST = 6, 3
Row = dict[str, object]


def shrink(mean: np.ndarray, se2: np.ndarray) -> np.ndarray:
    """`mean` shrunk toward 0 by mean^2 / (mean^2 + se2) (0 where both are 0)."""
    den = mean**2 + se2
    return np.divide(mean**3, den, out=np.zeros_like(mean), where=den > 0)


def bias(estimator: str, res: np.ndarray, fc_prev: list[np.ndarray], base: np.ndarray,
         cells: np.ndarray) -> np.ndarray:
    """n x H expected `actual - base` from the residuals (n x H k) of the k earlier windows."""
    n, k = res.shape[0], len(fc_prev)
    by_window = res.reshape(n, k, H)
    var = np.nan_to_num(np.nanvar(res, axis=1, ddof=1)) if res.shape[1] > 1 else np.zeros(n)
    se2 = (var / k)[:, None]
    if estimator == "step":
        return shrink(np.nan_to_num(np.nanmean(by_window, axis=1)), se2)
    if estimator == "flat":
        mean = np.nan_to_num(np.nanmean(res, axis=1))[:, None]
        return np.repeat(shrink(mean, se2), H, axis=1)
    forecast_sum, residual_sum = np.sum(fc_prev, axis=0), np.nansum(by_window, axis=1)
    n_cells = int(cells.max()) + 1
    out = np.zeros_like(base)
    for s in range(H):
        num = np.bincount(cells, weights=residual_sum[:, s], minlength=n_cells)
        den = np.bincount(cells, weights=forecast_sum[:, s], minlength=n_cells)
        out[:, s] = np.divide(num, den, out=np.zeros_like(num), where=den > 0)[cells]
    return out * base


def in_scope(b: np.ndarray, scope: str, n_bottom: int) -> np.ndarray:
    """The bias on the scope's rows only (0 elsewhere)."""
    out = b.copy()
    if scope == "agg":
        out[:n_bottom] = 0.0
    elif scope == "bottom":
        out[n_bottom:] = 0.0
    return out


def cell_scores(y: np.ndarray, cut: int, grp: dict[str, np.ndarray], means: np.ndarray
                ) -> dict[str, float]:
    """WRMSSE per level x sku-kind cell of one window (benchmarks/hierarchy.py's metric)."""
    rmsse, weight = rmsse_parts(y, cut, means)
    return {name: float(np.sum(rmsse[r] * weight[r]) / np.sum(weight[r]))
            for name, r in grp.items()}


def window_rows(y: np.ndarray, hier: Hierarchy, cuts: list[int], fc: list[np.ndarray], k: int,
                grp: dict[str, np.ndarray]) -> list[Row]:
    """Scores of every method x correction (and the peers when k is scored) at window k."""
    res, steps, sigmah = residual_history(y, cuts, fc, k)
    weights = m5_weights(y, cuts[k], hier)
    cells, n_b = cell_codes(hier), hier.n_bottom
    biases = {est: bias(est, res, fc[:k], fc[k], cells) for est in ESTIMATORS}
    bases = {("none", "-"): fc[k]}
    bases.update({(est, scope): np.maximum(fc[k] + in_scope(b, scope, n_b), 0.0)
                  for est, b in biases.items() for scope in SCOPES})
    rows: list[Row] = []

    def add(method: str, est: str, scope: str, means: np.ndarray) -> None:
        rows.append({"window": k, "method": method, "est": est, "scope": scope,
                     **cell_scores(y, cuts[k], grp, means)})

    for (est, scope), base in bases.items():
        add("none", est, scope, base)
    for method in METHODS:
        rec = fit_reconciler(hier, res, method, steps=steps,
                             weights=weights if method == "wls_tuned" else None)
        for (est, scope), base in bases.items():
            add(method, est, scope, rec.means(base))
    for scope in ("all", "bottom"):
        b = in_scope(biases["flat"], scope, n_b)
        centred = res - np.tile(b, (1, k))
        for method in VARIANCE_METHODS:
            rec = fit_reconciler(hier, centred, method, steps=steps,
                                 weights=weights if method == "wls_tuned" else None)
            add(method, "flatB", scope, rec.means(bases[("flat", scope)]))
    if k >= WINDOWS - TEST:
        for peer in PEERS:
            add(peer, "none", "-", hf_reconcile(peer.removeprefix("hf_"), hier, fc[k], res,
                                                sigmah)[0])
    return rows


def persistence(y: np.ndarray, hier: Hierarchy, cuts: list[int], fc: list[np.ndarray]
                ) -> list[Row]:
    """Per scored window and cell: slope through 0 of the window's mean error on the earlier
    windows' mean residual, both over sqrt(M5 scale) (1 = bias persists, 0 = it does not)."""
    cells, names, out = cell_codes(hier), cell_names(), []
    for k in range(WINDOWS - TEST, WINDOWS):
        res = residual_history(y, cuts, fc, k)[0]
        sd = np.sqrt(np.where(scale_and_weight(y, cuts[k])[0] > 0,
                              scale_and_weight(y, cuts[k])[0], np.nan))
        before = np.nanmean(res, axis=1) / sd
        now = np.mean(y[:, cuts[k] + 1: cuts[k] + 1 + H] - fc[k], axis=1) / sd
        for c in np.unique(cells):
            r = (cells == c) & np.isfinite(before) & np.isfinite(now)
            den = float(np.sum(before[r] ** 2))
            out.append({"window": k, "cell": names[c],
                        "slope": float(np.sum(now[r] * before[r]) / den) if den else np.nan})
    return out


def run_dataset(name: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(scores of every window >= 1, bias persistence) of one dataset, both bases."""
    y, hier, freq = load(name)
    cuts = cutoffs(y.shape[1], WINDOWS)
    grp = groups(hier, items_grouped=name != "walmart")
    scores, slopes = [], []
    for source, fc in base_forecasts(name, y, cuts, freq, force=False).items():
        case = {"dataset": name, "base": source}
        for k in range(1, WINDOWS):
            scores += [{**case, **row} for row in window_rows(y, hier, cuts, fc, k, grp)]
            print(f"{name} {source} window {k} done", file=sys.stderr, flush=True)
        slopes += [{**case, **row} for row in persistence(y, hier, cuts, fc)]
    return pd.DataFrame(scores), pd.DataFrame(slopes)


def with_selected(scores: pd.DataFrame, cells: list[str]) -> pd.DataFrame:
    """Add est `sel`: per method and scored window k, the pre-registered estimator x scope
    (or none) with the best cell average at window k-1."""
    ours = scores[~scores["method"].str.startswith("hf_") & (scores["est"] != "flatB")]
    ours = ours.assign(avg=ours[cells].mean(axis=1))
    picked = []
    for _, g in ours.groupby(["dataset", "base", "method"]):
        for k in range(WINDOWS - TEST, WINDOWS):
            prev = g[g["window"] == k - 1]
            best = prev.loc[prev["avg"].idxmin()]
            row = g[(g["window"] == k) & (g["est"] == best["est"])
                    & (g["scope"] == best["scope"])].iloc[0]
            picked.append({**row.drop("avg").to_dict(), "est": "sel", "scope": "-"})
    return pd.concat([scores, pd.DataFrame(picked)], ignore_index=True)


def case_table(t: pd.DataFrame) -> pd.DataFrame:
    """One case's variants: cells, avg, cells won against every peer, gap, bottom ratio."""
    t = t.dropna(axis=1, how="all")
    cells = list(t.columns)
    t = t.assign(avg=t[cells].mean(axis=1))
    peers = t[t.index.get_level_values("method").str.startswith("hf_")]
    t["won"] = (t[cells] < peers[cells].min()).sum(axis=1)
    t["avg-bestpeer"] = t["avg"] - peers["avg"].min()
    t["bottom/none"] = t["node/sku"] / t.loc[("none", "none", "-"), "node/sku"]
    return t


def report(scores: pd.DataFrame, slopes: pd.DataFrame, verbose: bool) -> None:
    """Print per case tables, the cells-won / gap / bottom pivots and the persistence."""
    key = ["dataset", "base", "method", "est", "scope"]
    cells = [c for c in scores.columns if "/" in c]
    scores = with_selected(scores, cells)
    mean = scores[scores["window"] >= WINDOWS - TEST].groupby(key, sort=False)[cells].mean()
    pd.set_option("display.width", 250)
    pd.set_option("display.max_columns", 40)
    pd.set_option("display.max_rows", 1000)
    summary = []
    for (ds, base), t in mean.groupby(level=["dataset", "base"], sort=False):
        table = case_table(t.droplevel(["dataset", "base"]))
        cols = list(table.columns) if verbose else ["avg", "won", "avg-bestpeer", "bottom/none"]
        print(f"\n=== {ds} + {base}\n{table[cols].to_string(float_format='{:.4f}'.format)}")
        summary.append(table[["won", "avg-bestpeer", "bottom/none"]].assign(case=f"{ds}+{base}"))
    s = pd.concat(summary).reset_index()
    s = s[~s["method"].str.startswith("hf_")]
    s["variant"] = s["method"] + " " + s["est"] + "/" + s["scope"]
    for col, fmt in (("won", "{:.0f}"), ("avg-bestpeer", "{:+.4f}"), ("bottom/none", "{:.4f}")):
        pivot = s.pivot(index="variant", columns="case", values=col)
        print(f"\n{col} per case:\n{pivot.to_string(float_format=fmt.format)}")
    print("\nbias persistence slope (scored windows):\n" + slopes.pivot_table(
        index=["dataset", "base", "cell"], columns="window", values="slope"
    ).to_string(float_format="{:.2f}".format))


def main() -> None:
    """Parse arguments, score every dataset, print the tables."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--datasets", default="walmart,generated")
    parser.add_argument("--verbose", action="store_true", help="print every cell")
    args = parser.parse_args()
    parts = [run_dataset(d) for d in args.datasets.split(",") if d]
    report(pd.concat([p[0] for p in parts]), pd.concat([p[1] for p in parts]), args.verbose)


if __name__ == "__main__":
    main()
