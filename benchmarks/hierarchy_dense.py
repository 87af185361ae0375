"""Issue 23 experiment: does a denser, longer residual history make the choice transfer?

Usage:
    .venv/bin/python benchmarks/hierarchy_dense.py [--datasets walmart,generated] [--every 2]
        [--first N] [--bases-only] [--force]

The SAME 3 scored windows as benchmarks/hierarchy.py (6 cutoffs 8 weeks apart, h = 8, the
last 3 scored) and the same base forecasts there (its cached <source>_6.npy), so `none` and
the peers that need no residuals (hf_bottom_up, hf_ols, hf_wls_struct) reproduce its
table. What changes is the residual history each scored window k is reconciled with:
instead of the 3-5 earlier 8-week windows, base forecasts at dense cutoffs every `--every`
weeks, each giving 8 residual columns (steps 1..8). The dense grid is aligned on the scored
cutoffs (cuts[-1] - 8 - every * j, so the last window that ends at a scored cutoff is on
it) and starts at the first such cutoff >= `--first` (default: the earliest cutoff with >=
60 weeks of history); window k uses the dense cutoffs c with c + 8 <= cuts[k] only: every
residual's actual is known at the scored cutoff, **no look-ahead**. Dense bases: the same
two sources (statsforecast AutoETS via ets_peer, our engine via ours_base, one run over
all dense cutoffs, so `auto` picks from the dense windows before each), cached in
benchmarks/out/hierarchy/<dataset>/dense_<source>_<every>.npy with the cutoff list and
seconds in dense_<source>_<every>.json (AutoETS per cutoff: saved as it goes and shared
between `--every` values, as each cutoff's fit depends on that cutoff only).

Then, per scored window: ours (bottom_up, mint_shrink, mint_cv, wls_mix, wls_tuned with
M5 weights, via ours_reconcile) and the four hierarchicalforecast peers (hf_mint_shrink
given the dense residuals too), scored with score_window. Printed: the benchmark's tables
(mean of the 3 windows), wls_tuned's pick per window, and per case: cells won against
every peer (ties lose, also within TIE: float noise) per method of ours, its average vs
the best peer's, bottom vs none. The scores are saved to benchmarks/out/hierarchy/
dense_scores_<every>.csv.
"""

from __future__ import annotations

import argparse
import json
import subprocess
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
    ets_peer,
    groups,
    hf_reconcile,
    load,
    m5_weights,
    ours_base,
    ours_reconcile,
    report,
    residual_history,
    score_window,
)
from models.hierarchy import Hierarchy  # noqa: E402
from models.hierarchy.tuned import tune_wls  # noqa: E402

FloatArray = npt.NDArray[np.float64]
WINDOWS, TEST = 6, 3
#: Default first dense cutoff: the earliest with this many periods of history.
MIN_HISTORY = 60


def dense_cutoffs(cuts: list[int], every: int, first: int | None = None) -> list[int]:
    """Dense cutoffs, ascending: cuts[-1] - H - every * j, j >= 0, not before `first`
    (default: MIN_HISTORY periods of history, grid index MIN_HISTORY - 1)."""
    if every < 1:
        raise ValueError(f"`--every` must be >= 1 week; got {every}.")
    start = MIN_HISTORY - 1 if first is None else first
    last = cuts[-1] - H
    if last < start:
        raise ValueError(f"`--first` {start} leaves no dense cutoff: the last usable one is "
                         f"{last} (8 weeks before the last scored cutoff {cuts[-1]}).")
    return list(range(last - every * ((last - start) // every), last + 1, every))


def usable(dense: list[int], cut: int) -> int:
    """How many dense cutoffs (a prefix) have all 8 actuals known at `cut` (c + H <= cut)."""
    return sum(c + H <= cut for c in dense)


def uptime() -> str:
    """The load averages (`uptime`), for the timing notes."""
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def _autoets_known(folder: Path) -> dict[int, FloatArray]:
    """Every AutoETS forecast cached at a dense cutoff, any `--every` (one fit per cutoff)."""
    known: dict[int, FloatArray] = {}
    for meta in sorted(folder.glob("dense_autoets_*.json")):
        fc = np.load(meta.with_suffix(".npy"))
        # a crash between the two writes leaves one more row on one side: pair the prefix
        known.update(zip(json.loads(meta.read_text())["cutoffs"], fc, strict=False))
    return known


def dense_bases(name: str, y: FloatArray, dense: list[int], freq: str, source: str,
                every: int, force: bool) -> list[FloatArray]:
    """Base forecasts (n_all x H) at every dense cutoff of one source, cached."""
    folder = OUT / name
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"dense_{source}_{every}.npy"
    meta = path.with_suffix(".json")
    if not force and meta.exists() and json.loads(meta.read_text())["cutoffs"] == dense:
        return list(np.load(path))
    print(f"{name}: {source} bases at {len(dense)} dense cutoffs; {uptime()}", flush=True)
    start = time.perf_counter()
    if source == "ours":
        fc = ours_base(y, dense, freq)
    else:
        known = {} if force else _autoets_known(folder)
        fc = []
        for c in dense:
            fc.append(known[c] if c in known else ets_peer(y, c))
            np.save(path, np.stack(fc))  # partial progress, reused by a rerun
            meta.write_text(json.dumps({"cutoffs": dense[: len(fc)], "partial": True}))
    seconds = time.perf_counter() - start
    np.save(path, np.stack(fc))
    meta.write_text(json.dumps({"cutoffs": dense, "seconds": seconds, "load": uptime()}))
    print(f"{name}: {source} dense bases {seconds:.0f} s; {uptime()}", flush=True)
    return list(fc)


#: A cell is won only below the best peer by more than this (relative): ours_mint_shrink
#: and hf_mint_shrink are the same estimator and differ by float noise (~1e-8).
TIE = 1e-6
#: Cells won against every peer by the best method of ours before this experiment
#: (BENCHMARKS.md, "## Hierarchy (issue 23)"), for the summary.
TODAY = {("generated", "autoets"): "4 (wls_tuned)", ("generated", "ours"): "6 (mint_cv)",
         ("walmart", "autoets"): "5 (wls_mix)", ("walmart", "ours"): "2 (wls_mix)"}


def run_window(y: FloatArray, hier: Hierarchy, grp: dict[str, npt.NDArray[np.int64]],
               cut: int, base: FloatArray, dense: list[int], dense_fc: list[FloatArray]
               ) -> tuple[list[dict[str, object]], str]:
    """Every method's scores at the scored window after `cut` (base forecasts `base`),
    reconciled with the residuals of the dense windows known at `cut`; wls_tuned's pick."""
    n = usable(dense, cut)
    res, steps, sigmah = residual_history(y, dense[:n], dense_fc[:n], n)
    weights = m5_weights(y, cut, hier)
    rows: list[dict[str, object]] = []
    for method in ("none", *[f"ours_{m}" for m in OURS], *PEERS):
        start = time.perf_counter()
        if method.startswith("hf_"):
            means, bands = hf_reconcile(method.removeprefix("hf_"), hier, base, res, sigmah)
        else:
            means, bands = ours_reconcile(method.removeprefix("ours_"), hier, base, res, steps,
                                          weights)
        seconds = time.perf_counter() - start
        rows.append({"method": method, "seconds": seconds, "columns": res.shape[1],
                     **score_window(y, cut, hier, grp, means, bands)})
    # the same (deterministic) tuning ours_wls_tuned ran, for the name of its pick
    picked = tune_wls(hier, res, steps=steps, weights=weights).name
    return rows, picked


def run_dataset(name: str, every: int, first: int | None, force: bool) -> pd.DataFrame:
    """Every source x method's mean scores over the 3 scored windows of one dataset."""
    y, hier, freq = load(name)
    cuts = cutoffs(y.shape[1], WINDOWS)
    dense = dense_cutoffs(cuts, every, first)
    grp = groups(hier, items_grouped=name != "walmart")
    print(f"{name}: scored cutoffs {cuts[WINDOWS - TEST:]}, dense {dense[0]}..{dense[-1]} "
          f"every {every} ({len(dense)}); residual columns per scored window "
          f"{[H * usable(dense, cuts[k]) for k in range(WINDOWS - TEST, WINDOWS)]}", flush=True)
    scored = base_forecasts(name, y, cuts, freq, force=False)
    rows = []
    for source, fc in scored.items():
        dense_fc = dense_bases(name, y, dense, freq, source, every, force)
        same = [(fc[j], dense_fc[dense.index(c)]) for j, c in enumerate(cuts) if c in dense]
        print(f"  {source}: largest |dense - scored-run base| at the {len(same)} shared "
              f"cutoffs: {max(float(np.max(np.abs(a - b))) for a, b in same):.3g}", flush=True)
        for k in range(WINDOWS - TEST, WINDOWS):
            start = time.perf_counter()
            window_rows, picked = run_window(y, hier, grp, cuts[k], fc[k], dense, dense_fc)
            print(f"  {name} + {source} window {k}: {time.perf_counter() - start:.0f} s; "
                  f"wls_tuned picked {picked}", flush=True)
            rows += [{"dataset": name, "base": source, "window": k, **r} for r in window_rows]
    frame = pd.DataFrame(rows)
    return frame.groupby(["dataset", "base", "method"], sort=False).mean(numeric_only=True
                                                                       ).drop(columns="window")


def cells_won(scores: pd.DataFrame) -> pd.DataFrame:
    """Per case and method of ours: cells below every peer by more than TIE (ties lose), of how
    many; its cell average and the best peer's; bottom WRMSSE / unreconciled."""
    out = []
    for (dataset, base), case in scores.groupby(level=["dataset", "base"], sort=False):
        case = case.droplevel(["dataset", "base"])
        cells = case[[c for c in case if c.startswith("wrmsse ")]].dropna(axis=1, how="all")
        best_peer = cells.loc[list(PEERS)].min(axis=0)
        peer_avg = cells.loc[list(PEERS)].mean(axis=1)
        for method in ("none", *[f"ours_{m}" for m in OURS]):
            row = cells.loc[method]
            out.append({"dataset": dataset, "base": base, "method": method,
                        "won": int((row < best_peer * (1.0 - TIE)).sum()), "of": row.size,
                        "avg": float(row.mean()), "best peer avg": float(peer_avg.min()),
                        "best peer": str(peer_avg.idxmin()),
                        "bottom vs none": float(row["wrmsse node/sku"]
                                                / cells.loc["none", "wrmsse node/sku"]),
                        "before": TODAY.get((dataset, base), "")})
    return pd.DataFrame(out).set_index(["dataset", "base", "method"])


def main() -> None:
    """Parse arguments, compute (or load) the dense bases, run and print every case."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--datasets", default="walmart,generated")
    parser.add_argument("--every", type=int, default=2)
    parser.add_argument("--first", type=int, default=None)
    parser.add_argument("--bases-only", action="store_true",
                        help="only compute and cache the dense base forecasts")
    parser.add_argument("--force", action="store_true", help="refit the dense bases")
    args = parser.parse_args()
    names = [d for d in args.datasets.split(",") if d]
    if args.bases_only:
        for name in names:
            y, _, freq = load(name)
            dense = dense_cutoffs(cutoffs(y.shape[1], WINDOWS), args.every, args.first)
            for source in ("ours", "autoets"):
                dense_bases(name, y, dense, freq, source, args.every, args.force)
        return
    start = time.perf_counter()
    scores = pd.concat([run_dataset(n, args.every, args.first, args.force) for n in names])
    scores.to_csv(OUT / f"dense_scores_{args.every}.csv")
    report(scores.drop(columns="columns"))
    pd.set_option("display.width", 250)
    won = cells_won(scores).to_string(float_format="{:.4f}".format)
    print(f"\ncells won against every peer (ties, within {TIE:g}, lose), mean of the {TEST} "
          f"scored windows; --every {args.every}\n{won}")
    print(f"\n{time.perf_counter() - start:.0f} s; {uptime()}", flush=True)


if __name__ == "__main__":
    main()
