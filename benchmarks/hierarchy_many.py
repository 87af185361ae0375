"""Issue 23 measurement: which cells each method wins or loses clearly, over many scored windows.

Usage:
    .venv/bin/python benchmarks/hierarchy_many.py [--datasets generated,walmart]

**No look-ahead.** Protocol (fixed before any number was computed): the dense cutoffs every
2 weeks of benchmarks/hierarchy_dense.py (its cached bases dense_<source>_2.npy, never
refitted here) extended by the benchmark's last cutoff cuts[-1]; the scored windows are the
cutoffs cuts[-1], cuts[-1] - 8, ... on that grid with at least 16 residual columns before
them (2 dense windows whose 8 actuals are known at the cutoff). At a scored cutoff c the base
forecasts are the dense bases at c (both sources) and the residual history is every dense
window ending by c (hierarchy_dense.py's `usable`). The base at cuts[-1], not on the dense
grid: AutoETS from the benchmark's cache (autoets_6.npy; AutoETS depends on its cutoff only,
and the shared cutoffs are checked equal); ours from one run of ours_base over the dense
cutoffs + cuts[-1] (cached in many_ours_2.npy): if that run reproduces dense_ours_2 at every
dense cutoff (to 1e-9) only its last forecast is used, else all of its forecasts are.
Methods: none; ours (bottom_up, mint_shrink, mint_cv, wls_mix, wls_tuned with M5 weights,
via ours_reconcile); the served choice: from the 3rd scored window on,
`training.engine.hierarchy.choose_method` on the summaries (hierarchy_noise.py's
summary_frame: none + every COHERENT_METHODS method, each reconciled as above) of the earlier
SCORED windows only; the 4 hierarchicalforecast peers with the same residuals.
Per case (dataset x base) and method, on its windows (served: from the 3rd), per cell: the
mean WRMSSE, the best peer of the mean, cells won against every peer (a tie within TIE_RTOL =
1e-9 loses; also counted with hierarchy_dense's TIE = 1e-6), per-window paired log ratios
d_w = log(method_w / best peer_w): mean, se = sd / sqrt(n) (ddof 1), clearly won if mean +
2 se < 0, clearly lost if mean - 2 se > 0 (hierarchy_noise.py's `classify`; clearly won
also counted with |mean| > 1e-6), and the sign count (windows won of n). Then the M5
average (mean cell WRMSSE) vs the best peer's and bottom (node/sku) vs none. Per-window cell
scores are saved to benchmarks/out/hierarchy/many_scores_<dataset>.csv.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import numpy.typing as npt  # noqa: E402
import pandas as pd  # noqa: E402

from benchmarks.hierarchy import (  # noqa: E402
    OURS,
    OUT,
    PEERS,
    H,
    base_forecasts,
    cutoffs,
    groups,
    hf_reconcile,
    load,
    m5_weights,
    ours_base,
    ours_reconcile,
    residual_history,
    rmsse_parts,
)
from benchmarks.hierarchy_dense import (  # noqa: E402
    TIE,
    WINDOWS,
    dense_bases,
    dense_cutoffs,
    uptime,
    usable,
)
from benchmarks.hierarchy_noise import BOTTOM, TIE_RTOL, CaseScores, classify, summary_frame  # noqa: E402
from models.hierarchy import COHERENT_METHODS, Hierarchy  # noqa: E402
from training.engine.hierarchy import choose_method  # noqa: E402

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
EVERY = 2
#: A scored window needs this many residual columns before it (2 dense windows).
MIN_COLUMNS = 16
#: The served choice starts at this scored window (0-based: the 3rd), after 2 summaries.
FIRST_SERVED = 2
METHODS = ("none", *OURS)
#: Largest |difference| for a rerun of ours_base to count as reproducing the dense cache.
SAME = 1e-9


def scored_cutoffs(cuts: list[int], dense: list[int]) -> list[int]:
    """Scored cutoffs, ascending: cuts[-1] - H * j with >= MIN_COLUMNS residual columns."""
    out = [c for c in range(cuts[-1], -1, -H) if H * usable(dense, c) >= MIN_COLUMNS]
    off = [c for c in out if c not in dense and c != cuts[-1]]
    if off:
        raise ValueError(f"scored cutoffs {off} are not on the dense grid {dense[0]}..{dense[-1]}"
                         f" every {EVERY}; the grid must be aligned on cuts[-1] = {cuts[-1]}.")
    return sorted(out)


def checked_dense(name: str, y: FloatArray, dense: list[int], freq: str, source: str
                  ) -> dict[int, FloatArray]:
    """hierarchy_dense.py's cached bases by cutoff; refuses to fit them here."""
    meta = OUT / name / f"dense_{source}_{EVERY}.json"
    if not meta.exists() or json.loads(meta.read_text())["cutoffs"] != dense:
        raise FileNotFoundError(
            f"{meta}: no cached dense {source} bases at cutoffs {dense[0]}..{dense[-1]} every "
            f"{EVERY}; run `.venv/bin/python benchmarks/hierarchy_dense.py --bases-only "
            f"--datasets {name}` first.")
    fc = dense_bases(name, y, dense, freq, source, EVERY, force=False)
    return dict(zip(dense, fc, strict=True))


def ours_through(name: str, y: FloatArray, grid: list[int], freq: str,
                 dense_fc: dict[int, FloatArray]) -> dict[int, FloatArray]:
    """Our engine's bases on `grid` (dense cutoffs + cuts[-1]), cached: the dense cache plus
    the last cutoff when the run reproduces it, else the run's own forecasts everywhere."""
    path = OUT / name / f"many_ours_{EVERY}.npy"
    meta = path.with_suffix(".json")
    if meta.exists() and json.loads(meta.read_text())["cutoffs"] == grid:
        run = list(np.load(path))
    else:
        print(f"{name}: ours bases at {len(grid)} cutoffs; {uptime()}", flush=True)
        start = time.perf_counter()
        run = ours_base(y, grid, freq)
        seconds = time.perf_counter() - start
        np.save(path, np.stack(run))
        meta.write_text(json.dumps({"cutoffs": grid, "seconds": seconds, "load": uptime()}))
        print(f"{name}: ours bases {seconds:.0f} s; {uptime()}", flush=True)
    diff = max(float(np.max(np.abs(run[i] - dense_fc[c]))) for i, c in enumerate(grid[:-1]))
    same = diff <= SAME
    print(f"  ours: rerun vs dense cache, largest |difference| {diff:.3g}: "
          f"{'dense cache + last cutoff' if same else 'the rerun at every cutoff'}", flush=True)
    return {**dense_fc, grid[-1]: run[-1]} if same else dict(zip(grid, run, strict=True))


def case_bases(name: str, y: FloatArray, cuts: list[int], freq: str, source: str
               ) -> dict[int, FloatArray]:
    """Base forecasts (n_all x H) by cutoff: the dense grid's and cuts[-1]'s."""
    dense = dense_cutoffs(cuts, EVERY)
    fc = checked_dense(name, y, dense, freq, source)
    if source == "ours":
        return ours_through(name, y, [*dense, cuts[-1]], freq, fc)
    bench = base_forecasts(name, y, cuts, freq, force=False)[source]
    shared = [(bench[j], fc[c]) for j, c in enumerate(cuts) if c in fc]
    diff = max(float(np.max(np.abs(a - b))) for a, b in shared)
    if diff > SAME:
        raise ValueError(f"{name} {source}: the benchmark's cached bases differ from the dense"
                         f" ones by {diff:.3g} at shared cutoffs; refit both caches.")
    return {**fc, cuts[-1]: bench[-1]}


def score_case(y: FloatArray, hier: Hierarchy, fc: dict[int, FloatArray], dense: list[int],
               scored: list[int], cells: dict[str, IntArray]) -> CaseScores:
    """Every method's per-series RMSSE at each scored cutoff (keys: the cutoffs)."""
    out = CaseScores(cells)
    dense_fc = [fc[c] for c in dense]
    for s in scored:
        start = time.perf_counter()
        n = usable(dense, s)
        res, steps, sigmah = residual_history(y, dense[:n], dense_fc[:n], n)
        weights = m5_weights(y, s, hier)
        means = {m: ours_reconcile(m, hier, fc[s], res, steps, weights)[0]
                 for m in dict.fromkeys((*METHODS, *COHERENT_METHODS))}
        means |= {p: hf_reconcile(p.removeprefix("hf_"), hier, fc[s], res, sigmah)[0]
                  for p in PEERS}
        for method, m in means.items():
            out.rmsse[method, s], out.weight[s] = rmsse_parts(y, s, m)
        print(f"  cutoff {s}: {res.shape[1]} residual columns, "
              f"{time.perf_counter() - start:.0f} s", flush=True)
    return out


def served_picks(case: CaseScores, scored: list[int]) -> dict[int, str]:
    """choose_method's pick for each scored window from the 3rd on, on the earlier ones."""
    return {s: choose_method(summary_frame(case, scored[:i]))
            for i, s in enumerate(scored) if i >= FIRST_SERVED}


def compare(ours: FloatArray, peers: dict[str, FloatArray], names: list[str]) -> pd.DataFrame:
    """Per cell (columns of windows x cells arrays): the mean, the best peer of the mean, won
    against every peer (ties within TIE_RTOL lose; `won_wide`: within TIE), and the paired log
    ratios to that peer (classify: mean_d, se, wins of `n`, se_class)."""
    means = pd.DataFrame({p: v.mean(axis=0) for p, v in peers.items()}, index=names)
    best = [str(p) for p in means.idxmin(axis=1)]
    peer = np.stack([peers[p][:, c] for c, p in enumerate(best)], axis=1)
    best_mean = means.min(axis=1).to_numpy()
    mean = ours.mean(axis=0)
    out = classify(ours, peer)
    out.index = pd.Index(names, name="cell")
    return out.assign(mean=mean, peer=best, peer_mean=best_mean, n=ours.shape[0],
                      won=mean < best_mean * (1 - TIE_RTOL),
                      won_wide=mean < best_mean * (1 - TIE))


def method_row(case: CaseScores, stack: FloatArray, windows: list[int], detail: pd.DataFrame
               ) -> dict[str, object]:
    """One method's summary on `windows`: cells won / clearly won / clearly lost, averages."""
    peers = {p: case.stack(p, windows).mean() for p in PEERS}
    b = case.names.index(BOTTOM)
    clear = detail["se_class"] == "won"
    return {"windows": len(windows), "cells": len(case.names), "won": int(detail["won"].sum()),
            "won 1e-6": int(detail["won_wide"].sum()), "clearly won": int(clear.sum()),
            "clearly won >1e-6": int((clear & (detail["mean_d"] < -TIE)).sum()),
            "clearly lost": int((detail["se_class"] == "lost").sum()),
            "avg": float(stack.mean()), "best peer avg": min(peers.values()),
            "best peer": min(peers, key=peers.__getitem__),
            "bottom vs none": float(stack[:, b].mean()
                                    / case.stack("none", windows)[:, b].mean())}


def case_tables(case: CaseScores, scored: list[int], picks: dict[int, str]
                ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per method (+ served): its summary row and its per-cell comparison."""
    served = list(picks)
    entries = [(m, scored, case.stack(m, scored)) for m in METHODS]
    entries.append(("served", served, np.stack([case.cell(picks[s], s) for s in served])))
    rows, details = [], []
    for method, windows, stack in entries:
        peers = {p: case.stack(p, windows) for p in PEERS}
        detail = compare(stack, peers, case.names)
        rows.append({"method": method, **method_row(case, stack, windows, detail)})
        details.append(detail.assign(method=method).set_index("method", append=True))
    return pd.DataFrame(rows).set_index("method"), pd.concat(details).swaplevel()


def window_frame(case: CaseScores, scored: list[int], label: str) -> pd.DataFrame:
    """Every method's cell WRMSSE per scored cutoff, for the CSV."""
    methods = dict.fromkeys((*METHODS, *COHERENT_METHODS, *PEERS))
    rows = [{"case": label, "method": m, "cutoff": s,
             **dict(zip(case.names, case.cell(m, s), strict=True))}
            for m in methods for s in scored]
    return pd.DataFrame(rows)


def run_case(name: str, source: str, y: FloatArray, hier: Hierarchy, cuts: list[int],
             freq: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Score one case, print its tables; its summary and per-window frames."""
    label = f"{name} + {source}"
    dense = dense_cutoffs(cuts, EVERY)
    scored = scored_cutoffs(cuts, dense)
    print(f"\n===== {label}: {len(scored)} scored cutoffs {scored}; {uptime()}", flush=True)
    fc = case_bases(name, y, cuts, freq, source)
    cells = groups(hier, items_grouped=name != "walmart")
    case = score_case(y, hier, fc, dense, scored, cells)
    picks = served_picks(case, scored)
    summary, detail = case_tables(case, scored, picks)
    print(f"served picks: {picks}")
    cols = ["mean", "peer", "peer_mean", "mean_d", "se", "se_class", "wins", "n", "won"]
    print(f"\nper cell vs the best peer of the mean\n"
          f"{detail[cols].to_string(float_format='{:.4f}'.format)}")
    print(f"\n{label}\n{summary.to_string(float_format='{:.4f}'.format)}", flush=True)
    return summary.assign(case=label).set_index("case", append=True).swaplevel(), \
        window_frame(case, scored, label)


def main() -> None:
    """Parse arguments, score every case from the cached bases, print the tables."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--datasets", default="generated,walmart")
    args = parser.parse_args()
    start = time.perf_counter()
    print(f"start; {uptime()}", flush=True)
    pd.set_option("display.width", 250)
    pd.set_option("display.max_columns", 40)
    pd.set_option("display.max_rows", 2000)
    summaries = []
    for name in (d for d in args.datasets.split(",") if d):
        y, hier, freq = load(name)
        cuts = cutoffs(y.shape[1], WINDOWS)
        frames = []
        for source in ("autoets", "ours"):
            summary, frame = run_case(name, source, y, hier, cuts, freq)
            summaries.append(summary)
            frames.append(frame)
            print(f"({time.perf_counter() - start:.0f} s so far)", flush=True)
        pd.concat(frames).to_csv(OUT / f"many_scores_{name}.csv", index=False)
    table = pd.concat(summaries)
    print(f"\nsummary (ties within {TIE_RTOL:g} lose)\n"
          f"{table.to_string(float_format='{:.4f}'.format)}")
    print(f"\n{time.perf_counter() - start:.0f} s; {uptime()}", flush=True)


if __name__ == "__main__":
    main()
