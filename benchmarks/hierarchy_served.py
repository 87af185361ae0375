"""Issue 23 experiment: rules for the served reconciliation choice, from earlier windows only.

Usage:
    .venv/bin/python benchmarks/hierarchy_served.py [--datasets walmart,generated]

No look-ahead: the pick for scored window k uses the scores of windows first..k-1 (first =
1; their actuals are known at cutoff k), and every window is reconciled from the residuals
of the windows before it (benchmarks/hierarchy.py's protocol, through
benchmarks/hierarchy_noise.py's `score_case`: cached bases, never refitted; the same cells,
M5 weights and hierarchicalforecast peers). Candidates are `COHERENT_METHODS`; "cell
average" of a method in a window = the mean of its level x sku-kind cell WRMSSE; "bottom" =
its node/sku cell; the guard = bottom at most `BOTTOM_TOLERANCE` (1%) worse than `none`.
Rules (all fixed before any number was computed):
    R0 today's `training.engine.hierarchy.choose_method` on the mean of the windows (must
       reproduce hierarchy_noise.py's served picks and rows).
    R1 prior wls_struct, switched only on consistent evidence: serve wls_struct unless some
       coherent method beats wls_struct's cell average by more than 1% in EVERY earlier
       window and passes the guard in every one of them; among those, the lowest mean cell
       average.
    R2 minimax: the lowest worst-window cell average, the guard on the means (as R0).
    R3 R1 with prior wls_mix.
    R4 R0 with each window's cell average replaced by the mean over cells of the method's
       cell / `none`'s cell in that window (so a window with large errors does not dominate).
Ties (equal values) go to the earlier in `COHERENT_METHODS` (as choose_method).
Printed per rule and case: picks per scored window; the served 3-window mean cells' wins
against every peer (a cell within TIE_RTOL = 1e-9 of the best peer is a tie and loses);
served average vs the best peer's; served bottom / none's. Then the decision rule (fixed
before the run): a rule replaces R0 only if its served average beats R0's in at least 3 of
the 4 cases and is never more than 0.5% worse than R0's; among several, the best mean rank.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from benchmarks.hierarchy import PEERS, base_forecasts, cutoffs, groups, load  # noqa: E402
from benchmarks.hierarchy_noise import (  # noqa: E402
    BOTTOM,
    SCORED,
    TIE_RTOL,
    WINDOWS,
    CaseScores,
    score_case,
    served_picks,
)
from models.hierarchy import COHERENT_METHODS  # noqa: E402
from training.engine.hierarchy import BOTTOM_TOLERANCE  # noqa: E402

#: R1 / R3: a challenger must beat the prior by more than this in every earlier window.
MARGIN = 0.01
#: Decision: better than R0 in at least this many cases, never worse by more than MAX_LOSS.
MIN_CASES, MAX_LOSS = 3, 0.005
RULES = ("R0", "R1", "R2", "R3", "R4")
Rule = Callable[[pd.DataFrame], str]


def window_stats(case: CaseScores, windows: Sequence[int]) -> pd.DataFrame:
    """Per (method, window) for `none` + COHERENT_METHODS: `avg` (mean cell WRMSSE),
    `bottom` (node/sku) and `ratio` (mean over cells of cell / none's cell)."""
    b = case.names.index(BOTTOM)
    rows = []
    for w in windows:
        none = case.cell("none", w)
        for m in ("none", *COHERENT_METHODS):
            cells = case.cell(m, w)
            rows.append({"method": m, "window": w, "avg": float(cells.mean()),
                         "bottom": float(cells[b]), "ratio": float(np.mean(cells / none))})
    return pd.DataFrame(rows).set_index(["method", "window"])


def lowest(values: pd.Series) -> str:
    """The method (index) with the lowest value; ties to the earlier in COHERENT_METHODS."""
    order = [m for m in COHERENT_METHODS if m in values.index]
    v = values.reindex(order)
    return str(v.index[int(np.argmin(v.to_numpy()))])


def guarded(stats: pd.DataFrame) -> list[str]:
    """Coherent methods whose mean bottom is within the tolerance of none's mean bottom
    (every coherent method when none passes), as choose_method's guard."""
    bottom = stats["bottom"].groupby(level="method").mean()
    keep = [m for m in COHERENT_METHODS
            if bottom[m] <= bottom["none"] * (1 + BOTTOM_TOLERANCE)]
    return keep or list(COHERENT_METHODS)


def consistent(stats: pd.DataFrame, prior: str) -> str:
    """R1 / R3: `prior` unless a method beats it by > MARGIN and passes the guard in every
    window; among those, the lowest mean cell average."""
    avg, bottom = stats["avg"].unstack("window"), stats["bottom"].unstack("window")
    beats = (avg.lt(avg.loc[prior] * (1 - MARGIN), axis=1)
             & bottom.le(bottom.loc["none"] * (1 + BOTTOM_TOLERANCE), axis=1)).all(axis=1)
    challengers = [m for m in COHERENT_METHODS if m != prior and beats[m]]
    return lowest(avg.loc[challengers].mean(axis=1)) if challengers else prior


def minimax(stats: pd.DataFrame) -> str:
    """R2: the guarded method with the lowest worst-window cell average."""
    worst = stats["avg"].groupby(level="method").max()
    return lowest(worst[guarded(stats)])


def mean_ratio(stats: pd.DataFrame) -> str:
    """R4: the guarded method with the lowest mean over windows of its cell ratio to none."""
    ratio = stats["ratio"].groupby(level="method").mean()
    return lowest(ratio[guarded(stats)])


STATS_RULES: dict[str, Rule] = {
    "R1": lambda s: consistent(s, "wls_struct"), "R2": minimax,
    "R3": lambda s: consistent(s, "wls_mix"), "R4": mean_ratio}


def rule_picks(case: CaseScores, first: int = 1) -> dict[str, dict[int, str]]:
    """Per rule, its pick for each scored window k from windows first..k-1."""
    picks = {"R0": served_picks(case, first)}
    for name, rule in STATS_RULES.items():
        picks[name] = {k: rule(window_stats(case, range(first, k))) for k in SCORED}
    return picks


def served_row(case: CaseScores, picks: dict[int, str]) -> dict[str, object]:
    """The served 3-window mean: cells won vs every peer (ties lose), average, bottom."""
    served = np.mean([case.cell(picks[k], k) for k in SCORED], axis=0)
    peers = np.stack([case.stack(p).mean(axis=0) for p in PEERS])
    b = case.names.index(BOTTOM)
    none_bottom = case.stack("none")[:, b].mean()
    return {"picks": "/".join(picks[k] for k in SCORED),
            "won": int((served < peers.min(axis=0) * (1 - TIE_RTOL)).sum()),
            "cells": len(case.names), "avg": float(served.mean()),
            "best peer avg": float(peers.mean(axis=1).min()),
            "bottom/none": float(served[b] / none_bottom)}


def decide(avg: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """Per rule (rows of `avg`, cases as columns): cases better than R0, worst loss vs R0,
    mean rank, qualifies; and the rule that serves (R0 when none qualifies)."""
    rel = avg.div(avg.loc["R0"], axis=1) - 1
    out = pd.DataFrame({"better than R0": (rel < 0).sum(axis=1),
                        "worst vs R0": rel.max(axis=1),
                        "mean rank": avg.rank(axis=0, method="average").mean(axis=1)})
    out["qualifies"] = ((out["better than R0"] >= MIN_CASES) & (out["worst vs R0"] <= MAX_LOSS)
                        & (out.index != "R0"))
    winners = out[out["qualifies"]].sort_values("mean rank", kind="stable")
    return out, str(winners.index[0]) if len(winners) else "R0"


def main() -> None:
    """Parse arguments, score every case from the cached bases, print the rule tables."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--datasets", default="walmart,generated")
    args = parser.parse_args()
    start, rows = time.perf_counter(), []
    pd.set_option("display.width", 250)
    for name in (d for d in args.datasets.split(",") if d):
        y, hier, freq = load(name)
        cuts = cutoffs(y.shape[1], WINDOWS)
        cells = groups(hier, items_grouped=name != "walmart")
        for source, fc in base_forecasts(name, y, cuts, freq, force=False).items():
            case = score_case(y, hier, cuts, fc, cells)
            print(f"\n===== {name} + {source}\n"
                  f"{window_stats(case, range(1, WINDOWS)).unstack('window').to_string()}")
            for rule, picks in rule_picks(case).items():
                rows.append({"case": f"{name} + {source}", "rule": rule,
                             **served_row(case, picks)})
            print(f"({time.perf_counter() - start:.0f} s so far)", flush=True)
    table = pd.DataFrame(rows).set_index(["case", "rule"])
    print(f"\nserved per rule\n{table.to_string(float_format='{:.4f}'.format)}")
    verdict, chosen = decide(table["avg"].unstack("case"))
    print(f"\ndecision\n{verdict.to_string(float_format='{:.4f}'.format)}\nserves: {chosen}")
    print(f"\n{time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
