"""Issue 23 measurement: how much of the per-cell ranking is noise, and what the served choice wins.

Usage:
    .venv/bin/python benchmarks/hierarchy_noise.py [--datasets walmart,generated] [--draws 200]
        [--seed 0] [--verbose]

No look-ahead in any method or choice: every reconciliation of window k is fitted on the
residuals of windows 0..k-1 (benchmarks/hierarchy.py's protocol), and the served pick for
window k uses only windows 1..k-1 (whose actuals are known at cutoff k). The bootstrap
intervals below are a noise estimate over the scored windows, not a choice. Reuses
benchmarks/hierarchy.py's data, 6 cutoffs (h = 8, the last 3 scored), cached base forecasts
(benchmarks/out/hierarchy/; never refitted), residual histories, M5 weights and scales, cells
(level x sku kind) and both reconcilers (ours and hierarchicalforecast's), unchanged.
Per case (dataset x base) it prints:
    1. per scored window, every method's cell WRMSSE (ours: none, bottom_up, mint_shrink,
       mint_cv, wls_mix, wls_tuned; peers: hf_bottom_up, hf_ols, hf_wls_struct,
       hf_mint_shrink), the best peer and the best coherent method (ours or peer; `none` is
       not coherent) of each cell, and how often each changes between consecutive windows.
    2. each of our methods vs the peer with the best 3-window mean of the cell: per window
       d_w = log(ours_w / peer_w), mean, se = sd / sqrt(3) (ddof 1), "won" if mean + 2 se < 0,
       "lost" if mean - 2 se > 0, else "noise" ("tie": equal in every window); the windows
       ours beats that peer in; and a bootstrap over the cell's series (resampled with
       replacement, `--draws` draws, one draw per cell shared by every method and window)
       of the ratio of 3-window mean cell WRMSSE, ours / that peer: its 95% interval
       (classified the same way against 1) and the share of draws in which ours beats
       every peer. A one-series cell (e.g. total/*) has no bootstrap spread: its
       bootstrap class is "1 series". Ratios within `TIE_RTOL` of 1 are ties and not wins
       (both decided after seeing the first output).
    3. the served choice: for scored window k, `training.engine.hierarchy.choose_method` on
       a summary of windows 1..k-1 (wrmsse_m5 = mean over those windows of the cell average,
       wrmsse_bottom = node/sku) over `none` and every method of COHERENT_METHODS, its pick
       scored on window k; the `served` row's cells won against every peer (3-window mean,
       ties lose), average and bottom vs none.
"Best of ours" (fixed before the run): the coherent method of ours with the most cells won
against every peer on the 3-window mean, ties to the lower cell average.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import numpy.typing as npt  # noqa: E402
import pandas as pd  # noqa: E402

from benchmarks.hierarchy import (  # noqa: E402
    PEERS,
    base_forecasts,
    cutoffs,
    groups,
    hf_reconcile,
    load,
    m5_weights,
    ours_reconcile,
    residual_history,
    rmsse_parts,
)
from models.hierarchy import COHERENT_METHODS, Hierarchy  # noqa: E402
from training.engine.hierarchy import METHOD, choose_method  # noqa: E402

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
WINDOWS, TEST = 6, 3
SCORED = tuple(range(WINDOWS - TEST, WINDOWS))
OURS = ("none", "bottom_up", "mint_shrink", "mint_cv", "wls_mix", "wls_tuned")
BOTTOM = "node/sku"
#: Ratios within this of 1 are ties (ours bottom_up vs hf_bottom_up differ by rounding only).
TIE_RTOL = 1e-9


def cell_wrmsse(rmsse: FloatArray, weight: FloatArray, cells: dict[str, IntArray]
                ) -> FloatArray:
    """WRMSSE per cell (benchmarks/hierarchy.py's score_window): weighted mean RMSSE."""
    return np.array([np.sum(rmsse[r] * weight[r]) / np.sum(weight[r]) for r in cells.values()])


@dataclass
class CaseScores:
    """One case: per (method, window) the per-series RMSSE; per window the M5 weights."""

    cells: dict[str, IntArray]
    rmsse: dict[tuple[str, int], FloatArray] = field(default_factory=dict)
    weight: dict[int, FloatArray] = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        """Cell names in order."""
        return list(self.cells)

    def cell(self, method: str, window: int) -> FloatArray:
        """Cell WRMSSE of `method` at `window`."""
        return cell_wrmsse(self.rmsse[method, window], self.weight[window], self.cells)

    def stack(self, method: str, windows: Sequence[int] = SCORED) -> FloatArray:
        """Cell WRMSSE of `method`, windows x cells."""
        return np.stack([self.cell(method, w) for w in windows])


def score_case(y: FloatArray, hier: Hierarchy, cuts: list[int], fc: list[FloatArray],
               cells: dict[str, IntArray]) -> CaseScores:
    """Our methods (none + COHERENT_METHODS) on windows 1..5, the peers on the scored ones."""
    out = CaseScores(cells)
    for k in range(1, WINDOWS):
        res, steps, sigmah = residual_history(y, cuts, fc, k)
        weights = m5_weights(y, cuts[k], hier)
        means = {m: ours_reconcile(m, hier, fc[k], res, steps, weights)[0]
                 for m in dict.fromkeys(("none", *OURS[1:], *COHERENT_METHODS))}
        if k in SCORED:
            means |= {p: hf_reconcile(p.removeprefix("hf_"), hier, fc[k], res, sigmah)[0]
                      for p in PEERS}
        for method, m in means.items():
            out.rmsse[method, k], out.weight[k] = rmsse_parts(y, cuts[k], m)
    return out


def changes(labels: npt.NDArray[np.str_]) -> IntArray:
    """Per cell (column), how many times the label changes between consecutive windows."""
    return np.asarray((labels[1:] != labels[:-1]).sum(axis=0), dtype=np.int64)


def best_labels(case: CaseScores, methods: Sequence[str]) -> npt.NDArray[np.str_]:
    """The lowest-WRMSSE method of `methods` per scored window (rows) and cell (columns)."""
    scores = np.stack([case.stack(m) for m in methods])  # methods x windows x cells
    return np.asarray(methods)[np.argmin(scores, axis=0)]


def classify(ours: FloatArray, peer: FloatArray) -> pd.DataFrame:
    """Per cell (columns of windows x cells arrays): mean and se of d_w = log(ours / peer),
    windows ours wins, and the class won / lost / noise / tie."""
    d = np.log(ours / peer)
    mean, se = d.mean(axis=0), d.std(axis=0, ddof=1) / np.sqrt(d.shape[0])
    cls = np.where(mean + 2 * se < 0, "won", np.where(mean - 2 * se > 0, "lost", "noise"))
    cls = np.where((np.abs(d) <= TIE_RTOL).all(axis=0), "tie", cls)
    wins = (ours < peer * (1 - TIE_RTOL)).sum(axis=0)
    return pd.DataFrame({"mean_d": mean, "se": se, "wins": wins,
                         "se_class": cls})


def bootstrap(case: CaseScores, methods: Sequence[str], draws: int,
              rng: np.random.Generator) -> dict[str, FloatArray]:
    """Per method, draws x cells: the 3-window mean cell WRMSSE with each cell's series
    resampled with replacement (one draw per cell, shared by every method and window)."""
    out = {m: np.empty((draws, len(case.cells))) for m in methods}
    for c, rows in enumerate(case.cells.values()):
        idx = rows[rng.integers(0, rows.size, size=(draws, rows.size))]
        for m in methods:
            per_window = []
            for w in SCORED:
                wt = case.weight[w][idx]
                num, den = np.sum(case.rmsse[m, w][idx] * wt, axis=1), np.sum(wt, axis=1)
                per_window.append(np.divide(num, den, out=np.full(draws, np.nan),
                                            where=den > 0))
            out[m][:, c] = np.mean(per_window, axis=0)
    return out


def boot_class(case: CaseScores, boot: dict[str, FloatArray], method: str,
               peer_of_cell: list[str]) -> pd.DataFrame:
    """95% interval of ours / the cell's peer over the draws, its class against 1, and the
    share of draws in which ours beats every peer."""
    ratio = np.stack([boot[method][:, c] / boot[p][:, c] for c, p in enumerate(peer_of_cell)],
                     axis=1)
    lo, hi = np.nanpercentile(ratio, 2.5, axis=0), np.nanpercentile(ratio, 97.5, axis=0)
    cls = np.where(hi < 1, "won", np.where(lo > 1, "lost", "noise"))
    cls = np.where(np.array([r.size for r in case.cells.values()]) == 1, "1 series", cls)
    cls = np.where(np.nanmax(np.abs(ratio - 1), axis=0) <= TIE_RTOL, "tie", cls)
    peers = np.stack([boot[p] for p in PEERS]).min(axis=0)
    p_win = np.nanmean(boot[method] < peers * (1 - TIE_RTOL), axis=0)
    return pd.DataFrame({"boot_lo": lo, "boot_hi": hi, "boot_class": cls,
                         "p_win_all": p_win})


def summary_frame(case: CaseScores, windows: Sequence[int]) -> pd.DataFrame:
    """choose_method's input over `windows`: per method wrmsse_m5 and wrmsse_bottom."""
    bottom = case.names.index(BOTTOM)
    rows = []
    for m in ("none", *COHERENT_METHODS):
        cells = case.stack(m, windows)
        rows.append({METHOD: m, "wrmsse_m5": float(cells.mean()),
                     "wrmsse_bottom": float(cells[:, bottom].mean())})
    return pd.DataFrame(rows)


def served_picks(case: CaseScores, first: int = 1) -> dict[int, str]:
    """Per scored window k, choose_method's pick on windows first..k-1."""
    return {k: choose_method(summary_frame(case, range(first, k))) for k in SCORED}


def mean_table(case: CaseScores, methods: Sequence[str], picks: dict[int, str]
               ) -> pd.DataFrame:
    """3-window mean cells per method (+ `served`), avg, cells won vs every peer, bottom."""
    t = pd.DataFrame({m: case.stack(m).mean(axis=0) for m in methods}, index=case.names).T
    t.loc["served"] = np.mean([case.cell(picks[k], k) for k in SCORED], axis=0)
    cells = case.names
    best_peer = t.loc[list(PEERS), cells].min()
    t["avg"] = t[cells].mean(axis=1)
    t["won"] = (t[cells] < best_peer).sum(axis=1)
    t["bottom/none"] = t[BOTTOM] / t.loc["none", BOTTOM]
    return t


def best_of_ours(table: pd.DataFrame) -> str:
    """Our coherent method with the most cells won, ties to the lower average."""
    ours = table.loc[[m for m in OURS if m != "none"]]
    return str(ours.sort_values(["won", "avg"], ascending=[False, True]).index[0])


def noise_table(case: CaseScores, boot: dict[str, FloatArray], peer_of_cell: list[str]
                ) -> pd.DataFrame:
    """Part 2 for every method of ours: one row per (method, cell)."""
    parts = []
    peer = np.stack([case.stack(p)[:, c] for c, p in enumerate(peer_of_cell)], axis=1)
    for m in OURS:
        t = pd.concat([classify(case.stack(m), peer), boot_class(case, boot, m, peer_of_cell)],
                      axis=1)
        parts.append(t.assign(method=m, cell=case.names, peer=peer_of_cell))
    return pd.concat(parts).set_index(["method", "cell"])


def window_tables(case: CaseScores, methods: Sequence[str]) -> None:
    """Part 1: print every method's cells per scored window, with the best peer and best."""
    peers, overall = best_labels(case, PEERS), best_labels(case, methods[1:])
    for i, w in enumerate(SCORED):
        t = pd.DataFrame({m: case.cell(m, w) for m in methods}, index=case.names).T
        t.loc["best peer"] = [p.removeprefix("hf_") for p in peers[i]]
        t.loc["best"] = overall[i]
        print(f"\nwindow {w}\n{t.to_string(float_format='{:.4f}'.format)}")
    moves = pd.DataFrame({"best peer": changes(peers), "best": changes(overall)},
                         index=case.names).T
    print(f"changes between consecutive windows (w3->w4->w5)\n{moves.to_string()}")


SE_CLASSES = ("lost", "noise", "won", "tie")
BOOT_CLASSES = (*SE_CLASSES, "1 series")


def class_counts(noise: pd.DataFrame) -> pd.DataFrame:
    """Per method of ours, how many cells fall in each se and bootstrap class."""
    by = noise.groupby(level="method", sort=False)
    se = by["se_class"].value_counts().unstack(fill_value=0).reindex(columns=SE_CLASSES)
    boot = by["boot_class"].value_counts().unstack(fill_value=0).reindex(columns=BOOT_CLASSES)
    return pd.concat([se.add_prefix("se "), boot.add_prefix("boot ")], axis=1).fillna(0
                                                                                   ).astype(int)


def tally(classes: pd.Series, names: Sequence[str]) -> str:
    """`a/b/...`: how many of `classes` equal each of `names`."""
    return "/".join(str(int((classes == n).sum())) for n in names)


def summary_row(case: CaseScores, table: pd.DataFrame, noise: pd.DataFrame,
                picks: dict[int, str]) -> dict[str, object]:
    """One case's key numbers: best of ours, its classes, the changes, the served row."""
    best = best_of_ours(table)
    mine = noise.loc[best]
    won_cells = (table.loc[best, case.names] < table.loc[list(PEERS), case.names].min()
                 ).to_numpy()
    peers, overall = best_labels(case, PEERS), best_labels(case, [*OURS[1:], *PEERS])
    return {"best of ours": best, "cells": len(case.names), "won": int(table.loc[best, "won"]),
            "se lost/noise/won/tie": tally(mine["se_class"], SE_CLASSES),
            "boot lost/noise/won/tie/1 series": tally(mine["boot_class"], BOOT_CLASSES),
            "won cells: se won / boot won": "/".join(
                tally(mine[c][won_cells], ("won",)) for c in ("se_class", "boot_class")),
            "best peer changes (cells/total)": f"{int((changes(peers) > 0).sum())}/"
                                               f"{int(changes(peers).sum())}",
            "best changes (cells/total)": f"{int((changes(overall) > 0).sum())}/"
                                          f"{int(changes(overall).sum())}",
            "served picks w3/w4/w5": "/".join(picks[k] for k in SCORED),
            "served won": int(table.loc["served", "won"]),
            "served avg": round(float(table.loc["served", "avg"]), 4),
            "served bottom/none": round(float(table.loc["served", "bottom/none"]), 4),
            "best peer avg": round(float(table.loc[list(PEERS), "avg"].min()), 4),
            "best of ours avg": round(float(table.loc[best, "avg"]), 4)}


def run_case(label: str, case: CaseScores, draws: int, seed: int, verbose: bool
             ) -> dict[str, object]:
    """Print one case's tables; its row of the final summary."""
    methods = [*OURS, *PEERS]
    print(f"\n===== {label}")
    window_tables(case, methods)
    picks = served_picks(case)
    table = mean_table(case, methods, picks)
    peer_of_cell = [str(p) for p in table.loc[list(PEERS), case.names].idxmin()]
    boot = bootstrap(case, methods, draws, np.random.default_rng(seed))
    noise = noise_table(case, boot, peer_of_cell)
    print(f"\n3-window mean\n{table.to_string(float_format='{:.4f}'.format)}")
    print(f"\nclasses vs the cell's best peer (3-window mean)\n{class_counts(noise)}")
    detail = noise if verbose else noise.loc[[best_of_ours(table)]]
    print(f"\nper cell\n{detail.to_string(float_format='{:.4f}'.format)}")
    print(f"served picks per scored window: {picks}")
    return {"case": label, **summary_row(case, table, noise, picks)}


def main() -> None:
    """Parse arguments, score every case from the cached bases, print the tables."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--datasets", default="walmart,generated")
    parser.add_argument("--draws", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--verbose", action="store_true", help="per-cell rows of every method")
    args = parser.parse_args()
    start, rows = time.perf_counter(), []
    pd.set_option("display.width", 250)
    pd.set_option("display.max_columns", 40)
    pd.set_option("display.max_rows", 1000)
    for name in (d for d in args.datasets.split(",") if d):
        y, hier, freq = load(name)
        cuts = cutoffs(y.shape[1], WINDOWS)
        cells = groups(hier, items_grouped=name != "walmart")
        for source, fc in base_forecasts(name, y, cuts, freq, force=False).items():
            case = score_case(y, hier, cuts, fc, cells)
            rows.append(run_case(f"{name} + {source}", case, args.draws, args.seed,
                                 args.verbose))
            print(f"({time.perf_counter() - start:.0f} s so far)", flush=True)
    print(f"\nsummary\n{pd.DataFrame(rows).set_index('case').T.to_string()}")
    print(f"\n{time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
