"""Issue 23 experiment: the served-choice rules R0-R4 on many scored windows, from saved scores.

Usage:
    .venv/bin/python benchmarks/hierarchy_served_many.py [--datasets generated,walmart]

**No look-ahead.** Reads the per-window cell WRMSSE that benchmarks/hierarchy_many.py saved
(benchmarks/out/hierarchy/many_scores_<dataset>.csv: none, every COHERENT_METHODS method and
the 4 hierarchicalforecast peers at each scored cutoff, each reconciled from the residuals
of the windows before it); nothing is refitted or rescored. The pick for scored window j
uses the scored windows before j only, from the 3rd on (hierarchy_many.py's FIRST_SERVED):
R0 is hierarchy_many.py's `served_picks` (today's `choose_method`), R1-R4 are
benchmarks/hierarchy_served.py's rules (`STATS_RULES`, on `window_stats` of the earlier
windows), and the references R5 / R6 / R7 always serve wls_struct / mint_cv / wls_tuned.
Per rule and case, on the served windows: the served average (mean cell WRMSSE) vs the best
peer's average on the same windows, cells won against every peer (the mean over the served
windows; a tie within TIE_RTOL = 1e-9 loses), cells clearly won (hierarchy_many.py's paired
log ratios) and bottom (node/sku) / none's, all through hierarchy_many.py's `compare` and
`method_row`. Decision (fixed before any number, as in hierarchy_served.py): a rule of R1-R4
replaces R0 only if its served average beats R0's in at least 3 of the 4 cases and is never
more than 0.5% worse (hierarchy_served.py's `decide`; among several, the best mean rank);
R5-R7 are references and never qualify.
"""

from __future__ import annotations

import argparse
import sys
import time
from itertools import pairwise
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from benchmarks.hierarchy import OUT, PEERS  # noqa: E402
from benchmarks.hierarchy_dense import uptime  # noqa: E402
from benchmarks.hierarchy_many import FIRST_SERVED, compare, method_row, served_picks  # noqa: E402
from benchmarks.hierarchy_noise import CaseScores  # noqa: E402
from benchmarks.hierarchy_served import STATS_RULES, decide, window_stats  # noqa: E402

#: The reference rules: always serve one method.
FIXED = {"R5": "wls_struct", "R6": "mint_cv", "R7": "wls_tuned"}
#: Columns of the saved scores that are not cells.
KEYS = ("case", "method", "cutoff")


def saved_cases(frame: pd.DataFrame) -> dict[str, tuple[CaseScores, list[int]]]:
    """Per case of a many_scores CSV: a CaseScores whose `cell` returns the saved cell WRMSSE
    (each cell one series of weight 1) and its scored cutoffs, ascending."""
    names = [c for c in frame.columns if c not in KEYS]
    out = {}
    for label, rows in frame.groupby("case", sort=False):
        case = CaseScores({n: np.array([i]) for i, n in enumerate(names)})
        values = rows[names].to_numpy(dtype=np.float64)
        for i, (method, cutoff) in enumerate(zip(rows["method"], rows["cutoff"], strict=True)):
            case.rmsse[str(method), int(cutoff)] = values[i]
            case.weight[int(cutoff)] = np.ones(len(names))
        out[str(label)] = (case, sorted(int(c) for c in rows["cutoff"].unique()))
    return out


def rule_picks(case: CaseScores, scored: list[int]) -> dict[str, dict[int, str]]:
    """Per rule (R0-R7), its pick for each scored cutoff from the 3rd on, from the earlier."""
    served = scored[FIRST_SERVED:]
    picks = {"R0": served_picks(case, scored)}
    for name, rule in STATS_RULES.items():
        picks[name] = {s: rule(window_stats(case, scored[:scored.index(s)])) for s in served}
    picks |= {name: dict.fromkeys(served, method) for name, method in FIXED.items()}
    return picks


def served_row(case: CaseScores, picks: dict[int, str]) -> dict[str, object]:
    """One rule's served windows: picks, cells won / clearly won, averages, bottom / none."""
    windows = list(picks)
    stack = np.stack([case.cell(picks[s], s) for s in windows])
    detail = compare(stack, {p: case.stack(p, windows) for p in PEERS}, case.names)
    row = method_row(case, stack, windows, detail)
    best_peer = min(float(case.stack(p, windows).mean()) for p in PEERS)
    row["vs best peer"] = float(stack.mean()) / best_peer - 1
    row["switches"] = sum(picks[a] != picks[b] for a, b in pairwise(windows))
    row["picks"] = "/".join(picks[s] for s in windows)
    return row


def verdict(avg: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """decide() on R0-R4; the references R5-R7 get their cases better / worst vs R0 only."""
    rules = [r for r in avg.index if r not in FIXED]
    out, chosen = decide(avg.loc[rules])
    rel = avg.div(avg.loc["R0"], axis=1) - 1
    refs = pd.DataFrame({"better than R0": (rel < 0).sum(axis=1), "worst vs R0": rel.max(axis=1)}
                        ).loc[[r for r in avg.index if r in FIXED]]
    return pd.concat([out, refs.assign(qualifies=False)]), chosen


def main() -> None:
    """Parse arguments, evaluate every rule on the saved scores, print the tables."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--datasets", default="generated,walmart")
    args = parser.parse_args()
    start = time.perf_counter()
    print(f"start; {uptime()}", flush=True)
    pd.set_option("display.width", 250)
    pd.set_option("display.max_columns", 40)
    pd.set_option("display.max_colwidth", 200)
    rows = []
    for name in (d for d in args.datasets.split(",") if d):
        path = OUT / f"many_scores_{name}.csv"
        if not path.exists():
            raise FileNotFoundError(f"{path}: no saved scores; run `.venv/bin/python "
                                    f"benchmarks/hierarchy_many.py --datasets {name}` first.")
        for label, (case, scored) in saved_cases(pd.read_csv(path)).items():
            for rule, picks in rule_picks(case, scored).items():
                rows.append({"case": label, "rule": rule, **served_row(case, picks)})
    table = pd.DataFrame(rows).set_index(["case", "rule"])
    cols = ["windows", "won", "clearly won", "clearly lost", "avg", "best peer avg",
            "best peer", "vs best peer", "bottom vs none", "switches"]
    print(f"\nserved per rule (ties within 1e-9 lose)\n"
          f"{table[cols].to_string(float_format='{:.4f}'.format)}")
    print(f"\npicks\n{table['picks'].to_string()}")
    out, chosen = verdict(table["avg"].unstack("case"))
    print(f"\ndecision\n{out.to_string(float_format='{:.4f}'.format)}\nserves: {chosen}")
    print(f"\n{time.perf_counter() - start:.1f} s; {uptime()}")


if __name__ == "__main__":
    main()
